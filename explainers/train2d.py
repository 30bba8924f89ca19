"""Train the 2D denoiser of explainers.models on one dataset of explainers.data2d.

    python -m explainers.train toy2d --dataset ring8      # or --dataset all

Training draws the noise level as a continuous log-SNR, not as a step of one schedule, so the
model can be sampled with any schedule the sliders build (DESIGN.md, Models). The loss is the
plain v-prediction MSE (Salimans & Ho 2022):

    x_t = sqrt(abar) x0 + sqrt(1 - abar) eps,   v = sqrt(abar) eps - sqrt(1 - abar) x0,
    loss = E || v_theta(x_t, log SNR) - v ||^2,  abar = sigmoid(log SNR).

The shipped checkpoint holds the exponential moving average (EMA) of the weights, which samples
better than the last iterate (Ho et al. 2020, Appendix B; Song & Ermon 2020).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from explainers.data2d import DATASETS, get_dataset, quality_score
from explainers.models import LOG_SNR_CLIP, Denoiser2D, checkpoint_path


# Adam steps per dataset: the checkerboard's sharp edges take twice as long to learn.
DEFAULT_STEPS = {"ring8": 15_000, "moons": 15_000, "swiss_roll": 15_000, "checkerboard": 30_000}


@dataclass(frozen=True)
class TrainConfig:
    """Everything about a training run except the dataset, the number of steps and the seed."""

    batch_size: int = 1024
    lr: float = 2e-3
    warmup: int = 500
    ema_decay: float = 0.999
    hidden: int = 64


def sample_log_snr(n: int, generator: torch.Generator) -> torch.Tensor:
    """n training noise levels: half uniform on [-20, 20], half as the cosine schedule visits them.

    The uniform half reaches every level a schedule can produce (cosine ends at log-SNR -19.8; zero
    terminal SNR is -inf, clipped to -20). The cosine half, lambda = -2 log tan(pi u / 2) with u
    uniform (Nichol & Dhariwal 2021 without the offset s; density 1 / (2 pi cosh(lambda / 2))), puts
    most of the training where denoising is hardest, around log-SNR 0.
    """
    uniform = (torch.rand(n, generator=generator) * 2 - 1) * LOG_SNR_CLIP
    u = torch.rand(n, generator=generator).clamp(1e-6, 1 - 1e-6)
    cosine = (-2 * torch.log(torch.tan(math.pi * u / 2))).clamp(-LOG_SNR_CLIP, LOG_SNR_CLIP)
    return torch.where(torch.arange(n) % 2 == 0, uniform, cosine)


def v_prediction_loss(model: Denoiser2D, x0: torch.Tensor, log_snr: torch.Tensor, eps: torch.Tensor):
    """|| v_theta(x_t, log SNR) - v ||^2 averaged over the batch."""
    abar = torch.sigmoid(log_snr)[:, None]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = abar.sqrt() * eps - (1 - abar).sqrt() * x0
    return F.mse_loss(model(x_t, log_snr), v)


def train_denoiser2d(dataset: str, steps: int | None = None, seed: int = 0, config: TrainConfig | None = None,
                     progress=None) -> Denoiser2D:
    """Train a Denoiser2D on `dataset` for `steps` Adam steps (default DEFAULT_STEPS[dataset]);
    deterministic given `seed`.

    Returns the EMA model in eval mode. `progress(step, loss)` is called every 500 steps.
    The global torch RNG is left untouched: every draw uses a generator seeded from `seed`.
    """
    config = config or TrainConfig()
    data = get_dataset(dataset)
    steps = DEFAULT_STEPS[dataset] if steps is None else steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # only the initial weights come from the global RNG
        model = Denoiser2D(hidden=config.hidden)
        ema = Denoiser2D(hidden=config.hidden)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)

    def lr_factor(step: int) -> float:
        # Linear warm-up, then cosine decay to 5% of the peak rate.
        if step < config.warmup:
            return (step + 1) / config.warmup
        done = (step - config.warmup) / max(1, steps - config.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    params, ema_params = list(model.parameters()), list(ema.parameters())
    for step in range(steps):
        x0 = data.sample(config.batch_size, g)
        log_snr = sample_log_snr(config.batch_size, g)
        eps = torch.randn(config.batch_size, 2, generator=g)
        loss = v_prediction_loss(model, x0, log_snr, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            # Early on the average would be dominated by the random initialisation; ramp the decay.
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            for e, p in zip(ema_params, params):
                e.lerp_(p, 1 - decay)
        if progress is not None and (step % 500 == 0 or step == steps - 1):
            progress(step, loss.item())
    return ema.eval()


def evaluate(model: Denoiser2D, dataset: str, n: int = 2000, steps: int = 50, seed: int = 0,
             schedule: str = "cosine") -> dict:
    """quality_score of n samples from `model`: `schedule` (T = 1000), DDIM eta = 0, `steps` steps."""
    from explainers.sampling import sample_ddim, step_alphas_cumprod
    from explainers.schedules import make_schedule

    abar_steps = step_alphas_cumprod(make_schedule(schedule, T=1000).alphas_cumprod, steps)
    g = torch.Generator().manual_seed(seed)
    samples = sample_ddim(model, torch.randn(n, 2, generator=g), abar_steps)
    return quality_score(samples, dataset)


def save_checkpoint(model: Denoiser2D, path: Path) -> None:
    """state_dict only, float32; written to a temporary file first so a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explainers.train toy2d",
                                     description="Train the 2D v-prediction denoiser and write its checkpoint.")
    parser.add_argument("--dataset", default="ring8", choices=(*DATASETS, "all"))
    parser.add_argument("--steps", type=int, default=None,
                        help=f"Adam steps (default per dataset: {DEFAULT_STEPS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--hidden", type=int, default=TrainConfig.hidden)
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where denoiser2d_<dataset>.pt is written (default: where load_denoiser2d reads, "
                             "explainers/checkpoints or $NOISE_LAB_CHECKPOINTS)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    torch.set_num_threads(args.threads)
    config = TrainConfig(batch_size=args.batch_size, hidden=args.hidden)
    for name in DATASETS if args.dataset == "all" else (args.dataset,):
        start = time.perf_counter()
        steps = args.steps or DEFAULT_STEPS[name]
        model = train_denoiser2d(name, steps, args.seed, config,
                                 progress=lambda step, loss: print(f"  {name} step {step:6d}  loss {loss:.4f}"))
        path = checkpoint_path(name) if args.out_dir is None else args.out_dir / checkpoint_path(name).name
        save_checkpoint(model, path)
        print(f"{name}: trained {steps} steps in {time.perf_counter() - start:.1f} s -> {path} "
              f"({path.stat().st_size / 1024:.0f} KiB)")
        score = evaluate(model, name)
        true = quality_score(get_dataset(name).sample(2000, torch.Generator().manual_seed(1)), name)
        print(f"  cosine schedule, 50 DDIM steps: {_fmt(score)}")
        print(f"  true samples for comparison:    {_fmt(true)}")
    return 0


def _fmt(score: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in score.items())


if __name__ == "__main__":
    raise SystemExit(main())
