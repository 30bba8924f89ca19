"""Spectral page: all layers' singular values plus a 20-step power-iteration trace (budget 30 ms),
and GAN training time per step without SN, with our per-layer SN and with torch's spectral_norm.
Prints figures and ratios measured in the same run; asserts nothing.

    python bench/bench_spectral.py [--device cpu|cuda] [--repeats 20] [--train-steps 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, time_it  # noqa: E402

from explainers import spectral as S  # noqa: E402
from explainers.device import configure_threads  # noqa: E402
from explainers.gan import make_gan  # noqa: E402
from explainers.spectral_training import GanConfig, train_gan  # noqa: E402

BUDGET_MS = 30.0


def denoiser_mlp() -> nn.Module:
    """The size of the 2D denoiser: (x, y, noise level) -> 3 hidden layers of 128 -> 2."""
    return nn.Sequential(nn.Linear(3, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(),
                         nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 2))


def small_convnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 32, 3, padding=1))


def spectrum_view(model: nn.Module, conv_n: int | None = None) -> None:
    """What the page computes for one model: every layer's singular values and power-iteration trace
    (and, for conv layers, the true circular-conv operator norm on conv_n x conv_n inputs)."""
    for name, layer in S.normalizable_layers(model).items():
        weight = S.effective_weight(layer)
        S.singular_values(weight)
        S.power_iteration_trace(weight, 20)
        if conv_n and isinstance(layer, nn.Conv2d):
            S.conv_operator_norm(weight, conv_n)


def bench_spectrum(device: str, repeats: int) -> None:
    torch.manual_seed(0)
    _, discriminator = make_gan(0, device=device)
    models = [("GAN discriminator (2-64-64-64-1)", discriminator, None),
              ("denoiser-sized MLP (3x128 hidden)", denoiser_mlp().to(device), None),
              ("conv net, 3 conv 3x3, 32 ch: reshaped only", small_convnet().to(device), None),
              ("conv net, 3 conv 3x3, 32 ch: + conv_operator_norm n=32", small_convnet().to(device), 32)]
    print(f"all layers' singular values + 20-step power-iteration trace (budget {BUDGET_MS:.0f} ms):")
    for label, model, conv_n in models:
        r = time_it(lambda: spectrum_view(model, conv_n), repeats=repeats)
        verdict = "within" if r["p95_ms"] <= BUDGET_MS else "OVER"
        print(f"  {label:55s} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  ({verdict} budget)")
    conv = small_convnet()[2].weight.detach()
    r = time_it(lambda: S.conv_operator_norm(conv, 32), repeats=max(3, repeats // 4))
    print(f"  one conv_operator_norm (32x32x3x3 kernel, n=32, float32)     p50 {r['p50_ms']:7.2f} ms")
    r64 = time_it(lambda: S.conv_operator_norm(conv.double(), 32), repeats=max(3, repeats // 4))
    print(f"  the same in float64                                          p50 {r64['p50_ms']:7.2f} ms")


def training_ms_per_step(config: GanConfig, steps: int, device: str, models=None) -> float:
    history = train_gan(config, seed=0, n_steps=steps, device=device, models=models)
    return 1000 * history.elapsed_s / len(history.step)


def bench_training(device: str, steps: int, rounds: int = 3) -> None:
    def torch_sn_discriminator():
        G, D = make_gan(0, device=device)
        for _, layer in D.linear_layers():
            torch.nn.utils.parametrizations.spectral_norm(layer)
        return G, D

    base = dict(sample_every=10 * steps)  # one snapshot at the end: time the steps, not the plots
    runs = {"no SN": (GanConfig(d_modes="off", **base), None),
            "ours: sn on every D layer": (GanConfig(d_modes="sn", **base), None),
            "ours: bsn on every D layer": (GanConfig(d_modes="bsn", **base), None),
            "ours: optional on every D layer": (GanConfig(d_modes="optional", **base), None),
            "torch spectral_norm on every D layer": (GanConfig(d_modes={}, **base), torch_sn_discriminator())}
    times = {label: [] for label in runs}
    training_ms_per_step(GanConfig(**base), 20, device)  # warm-up
    for _ in range(rounds):  # interleaved, so a burst of load on the shared machine hits every variant
        for label, (config, models) in runs.items():
            times[label].append(training_ms_per_step(config, steps, device, models))
    median = {label: statistics.median(t) for label, t in times.items()}
    print(f"GAN training, batch 256, {steps} steps x {rounds} rounds (median), per step incl. recording sigmas:")
    for label, ms in median.items():
        print(f"  {label:40s} {ms:6.2f} ms/step   x{ms / median['no SN']:.2f} of no SN")
    print(f"  ours sn / torch spectral_norm: x{median['ours: sn on every D layer'] / median['torch spectral_norm on every D layer']:.2f}")

    G, D = make_gan(0, device=device)
    D = S.apply_layer_modes(D, {name: "sn" for name, _ in D.linear_layers()})
    r = time_it(lambda: (S.layer_sigmas(D), S.layer_sigmas(G)), repeats=50)
    print(f"  of which recording every layer's exact sigma (D and G): {r['p50_ms']:.2f} ms/step")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=200)
    args = parser.parse_args(argv)
    configure_threads()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available here; run with --device cpu")
        return 1
    print(machine_info(args.device))
    start = time.perf_counter()
    bench_spectrum(args.device, args.repeats)
    bench_training(args.device, args.train_steps)
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
