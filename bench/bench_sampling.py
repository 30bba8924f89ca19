"""Reverse sampling of the 2D denoiser: 2,000 points x 100 steps (budget <= 100 ms on the 2-core CPU,
and total / (steps x one bare forward pass) <= 1.2). Prints figures and ratios; asserts nothing.

    python bench/bench_sampling.py [--device cpu|cuda] [--repeats 20] [--threads 1]

All in one run: our DDIM and DDPM loops, one bare forward pass, and the same model driven by
diffusers' DDIMScheduler (linear betas, v_prediction, trailing spacing), as a ratio to ours. The
overhead ratio pairs each sampling run with the `steps` bare forward passes timed just before it.
"""

from __future__ import annotations

import argparse
import time
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, time_it  # noqa: E402

from explainers.models import Denoiser2D, load_denoiser2d  # noqa: E402
from explainers.sampling import sample_ddim, sample_ddpm, step_alphas_cumprod  # noqa: E402
from explainers.schedules import log_snr_of, make_schedule  # noqa: E402


def load_model(device: str):
    try:
        return load_denoiser2d("ring8", device=device), "shipped ring8 checkpoint"
    except (FileNotFoundError, RuntimeError) as err:
        print(f"note: {err}; timing an untrained model of the same size instead")
        return Denoiser2D().to(device).eval(), "untrained Denoiser2D"


def diffusers_ddim(model, x, betas: np.ndarray, steps: int):
    """The same model, driven by diffusers' DDIMScheduler; returns a function running one sampling."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=len(betas), trained_betas=betas.tolist(),
                              prediction_type="v_prediction", timestep_spacing="trailing",
                              set_alpha_to_one=True, clip_sample=False)
    scheduler.set_timesteps(steps)
    # The model is conditioned on log-SNR; diffusers hands it an integer timestep.
    log_snr = torch.tensor(log_snr_of(scheduler.alphas_cumprod.double().numpy()), dtype=x.dtype, device=x.device)

    def run():
        sample = x
        with torch.inference_mode():
            for t in scheduler.timesteps:
                v = model(sample, log_snr[int(t)].reshape(1))
                sample = scheduler.step(v, t, sample).prev_sample
        return sample

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the app uses 1)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(args.threads)
    device = args.device
    sync = torch.cuda.synchronize if device == "cuda" else None

    model, what = load_model(device)
    schedule = make_schedule("linear", T=1000)
    abar_steps = step_alphas_cumprod(schedule.alphas_cumprod, args.steps)
    x = torch.randn(args.n, 2, generator=torch.Generator().manual_seed(0)).to(device)
    one_level = torch.tensor([0.0], device=device)

    def forward():
        with torch.inference_mode():
            model(x, one_level)

    def ddim():
        sample_ddim(model, x, abar_steps)

    ddpm_gen = torch.Generator().manual_seed(0)

    def ddpm():
        sample_ddpm(model, x, abar_steps, generator=ddpm_gen)

    theirs = diffusers_ddim(model, x, schedule.betas, args.steps)
    fwd = time_it(forward, repeats=max(100, args.repeats * 5), warmup=10, sync=sync)
    ours = time_it(ddim, repeats=args.repeats, sync=sync)
    ours_ddpm = time_it(ddpm, repeats=args.repeats, sync=sync)
    diff = time_it(theirs, repeats=args.repeats, sync=sync)
    agree = float((sample_ddim(model, x, abar_steps) - theirs()).abs().max())

    def overhead(run) -> float:
        """Median over repeats of (one sampling run) / (steps bare forward passes timed just before it): the
        two halves of each pair run under the same machine load, which drifts on a shared machine."""
        ratios = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(args.steps):
                forward()
            if sync:
                sync()
            mid = time.perf_counter()
            run()
            if sync:
                sync()
            ratios.append((time.perf_counter() - mid) / (mid - start))
        return float(np.median(ratios))

    ratio = {"our DDIM (eta = 0)": overhead(ddim), "our DDPM (ancestral)": overhead(ddpm),
             "diffusers DDIMScheduler": overhead(theirs)}

    print(machine_info(device))
    print(f"model: {what}, {sum(p.numel() for p in model.parameters()):,} parameters; device {device}; "
          f"{args.n} points x {args.steps} steps, linear schedule (T = 1000), trailing spacing")
    print(f"one bare forward pass:        p50 {fwd['p50_ms']:8.3f} ms   p95 {fwd['p95_ms']:8.3f} ms")
    rows = (("our DDIM (eta = 0)", ours), ("our DDPM (ancestral)", ours_ddpm), ("diffusers DDIMScheduler", diff))
    for name, t in rows:
        print(f"{name:28s}  p50 {t['p50_ms']:8.2f} ms   p95 {t['p95_ms']:8.2f} ms   "
              f"total / (steps x forward) = {ratio[name]:.3f}")
    print(f"diffusers / ours (DDIM, p50): {diff['p50_ms'] / ours['p50_ms']:.2f}x; "
          f"largest difference between their samples and ours: {agree:.2e}")
    print(f"budget: our DDIM p95 <= 100 ms -> {'met' if ours['p95_ms'] <= 100 else 'NOT met'}; "
          f"overhead ratio <= 1.2 -> {'met' if ratio['our DDIM (eta = 0)'] <= 1.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
