"""Eq. 1 page: 16 frames x 4 denoising steps, both readings (budget <= 300 ms on the 2-core CPU).

Prints figures; asserts nothing. The ratio compares a rollout with its bare model calls
(16 frames x 4 steps = 64 forward passes of batch 1): what the sampler itself adds on top.

    python bench/bench_backward_init.py [--device cpu|cuda] [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, time_it  # noqa: E402

from explainers import backward_init as B  # noqa: E402
from explainers.frame_model import load_frame_model  # noqa: E402

N_FRAMES, STEPS = 16, 4


def measure(device: str, repeats: int) -> dict:
    model = load_frame_model(device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    sigmas = B.shifted_sigmas(STEPS, 5.0)
    x = torch.randn(1, 1, 32, 32, device=device)
    context = torch.randn(1, 2, 32, 32, device=device)

    def bare_calls():
        with torch.no_grad():
            for _ in range(N_FRAMES * STEPS):
                model(x, context, 0.5)

    def both_readings():
        B.rollout(model, N_FRAMES, "denoising_step", sigmas, seed=0)
        # sigma_init = 1 makes the temporal reading run all 4 steps too: the same work as above.
        B.rollout(model, N_FRAMES, "temporal_index", sigmas, sigma_init=1.0, seed=0)

    return {
        "denoising_step": time_it(lambda: B.rollout(model, N_FRAMES, "denoising_step", sigmas, seed=0), repeats, sync=sync),
        "temporal_index": time_it(lambda: B.rollout(model, N_FRAMES, "temporal_index", sigmas, sigma_init=1.0, seed=0),
                                  repeats, sync=sync),
        "both": time_it(both_readings, repeats, sync=sync),
        "bare": time_it(bare_calls, repeats, sync=sync),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the app uses 1 per session)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda asked for, but no CUDA device is available")
        return 1
    torch.set_num_threads(args.threads)
    print(machine_info(args.device))
    devices = ["cpu", "cuda"] if args.device == "cuda" else ["cpu"]
    results = {d: measure(d, args.repeats) for d in devices}
    for device, r in results.items():
        print(f"[{device}] {N_FRAMES} frames x {STEPS} steps")
        for name in ("denoising_step", "temporal_index", "both"):
            print(f"  {name:15s} p50 {r[name]['p50_ms']:7.1f} ms  p95 {r[name]['p95_ms']:7.1f} ms")
        print(f"  both readings: p95 {r['both']['p95_ms']:.1f} ms (budget 300 ms on the 2-core CPU)")
        one = r["denoising_step"]["p50_ms"] / r["bare"]["p50_ms"]
        print(f"  one rollout / its {N_FRAMES * STEPS} bare model calls (p50): {one:.2f}")
    if "cuda" in results:
        ratio = results["cuda"]["both"]["p50_ms"] / results["cpu"]["both"]["p50_ms"]
        print(f"GPU/CPU time ratio, both readings (p50): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
