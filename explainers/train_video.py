"""Train the frame denoiser on bouncing-ball clips with teacher forcing (a few minutes on one CPU core).

Teacher forcing: the context is always the *true* previous frames (n-1, n-2) of a clip, never the
model's own output. That is how the base model of Self-Forcing is trained too, and it is why long
rollouts drift: at generation time the context is the model's own, slightly wrong, frames, a
situation training never showed it. Clips are `horizon` frames long (8 by default), the "training
horizon" that the backward-initialization page compares rollouts against.

Flow-matching loss (Lipman et al. 2023): x_sigma = (1 - sigma) x0 + sigma eps, target v = eps - x0,
loss = mean (v_theta(x_sigma, context, sigma) - v)^2, sigma = flow_shift(u, shift) with u uniform:
shift 5 puts most training where the few-step sampler works (sigma >= 0.625).

    python -m explainers.train video [--steps 1000] [--seed 0] [--out explainers/checkpoints/frame_model.pt]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from explainers.frame_model import CHECKPOINT, CHECKPOINT_FORMAT, N_CONTEXT, FrameDenoiser
from explainers.schedules import flow_shift
from explainers.video_data import make_batch


@dataclass(frozen=True)
class TrainConfig:
    n_steps: int = 1000
    seed: int = 0
    horizon: int = 8  # frames per training clip
    batch: int = 48  # one random (frame, context) pair per clip, so 48 clips per step
    lr: float = 3e-3
    shift: float = 5.0  # time shift of the training sigma distribution
    context_noise: float = 0.05  # max std of Gaussian noise added to the true context frames
    context_blur: float = 0.5  # share of samples whose context is blurred and dimmed
    channels: int = 32


def degrade_context(context: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Make some true context frames look like the model's own output: softer, dimmer, a little noisy.

    At generation time the context is the model's previous x0_hat, a posterior mean that is
    slightly blurred and dimmed when the model is unsure. Without this, the first imperfect frame
    is something training never showed, and the ball fades within a few frames.
    """
    b = len(context)
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(context.shape[1], 1, 3, 3)
    blurred = F.conv2d(context, kernel, padding=1, groups=context.shape[1])
    use_blur = (torch.rand(b, 1, 1, 1, generator=generator) < config.context_blur).to(context.dtype)
    context = use_blur * blurred + (1 - use_blur) * context
    brightness = 1 - 0.3 * use_blur * torch.rand(b, 1, 1, 1, generator=generator)
    context = (context + 1) * brightness - 1  # dim the ball, keep the background at -1
    noise_std = config.context_noise * torch.rand(b, 1, 1, 1, generator=generator)
    return context + noise_std * torch.randn(context.shape, generator=generator)


def training_pairs(config: TrainConfig, generator: torch.Generator):
    """One batch: target frames x0 (B,1,32,32), their true context (B,2,32,32) newest first, sigma (B,), eps."""
    frames, _ = make_batch(config.batch, config.horizon, generator)  # (B, horizon, 1, 32, 32)
    b = torch.arange(config.batch)
    n = torch.randint(N_CONTEXT, config.horizon, (config.batch,), generator=generator)
    x0 = frames[b, n]
    context = torch.cat([frames[b, n - j] for j in range(1, N_CONTEXT + 1)], dim=1)
    context = degrade_context(context, config, generator)
    sigma = flow_shift(torch.rand(config.batch, generator=generator), config.shift)
    eps = torch.randn(x0.shape, generator=generator)
    return x0, context, sigma, eps


def train_frame_model(n_steps: int = 1000, seed: int = 0, horizon: int = 8, log_every: int = 100,
                      **overrides) -> tuple[FrameDenoiser, dict]:
    """Train a FrameDenoiser from scratch; returns (model in eval mode, info with the loss curve)."""
    config = TrainConfig(n_steps=n_steps, seed=seed, horizon=horizon, **overrides)
    if not N_CONTEXT + 1 <= config.horizon <= 64:
        raise ValueError(f"horizon must be an integer in [{N_CONTEXT + 1}, 64], got {config.horizon!r}")
    if not 1 <= config.n_steps <= 1_000_000:
        raise ValueError(f"n_steps must be an integer in [1, 1000000], got {config.n_steps!r}")
    torch.manual_seed(config.seed)  # the initial weights
    generator = torch.Generator().manual_seed(config.seed)  # the data, sigmas and noise
    model = FrameDenoiser(channels=config.channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.n_steps,
                                                   pct_start=0.05)
    losses = []
    start = time.perf_counter()
    model.train()
    for step in range(config.n_steps):
        x0, context, sigma, eps = training_pairs(config, generator)
        s = sigma[:, None, None, None]
        x = (1 - s) * x0 + s * eps  # add_noise(form="flow") with one sigma per sample
        loss = (model(x, context, sigma) - (eps - x0)).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every
            print(f"step {step + 1}/{config.n_steps}  loss {recent:.4f}  {time.perf_counter() - start:.0f}s", flush=True)
    model.eval()
    info = {"config": asdict(config), "losses": losses, "seconds": time.perf_counter() - start}
    return model, info


def save_checkpoint(model: FrameDenoiser, info: dict, path: Path) -> None:
    """Weights plus the config needed to rebuild the model, in a file torch.load(weights_only=True) reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tail = info["losses"][-50:]
    torch.save({"format": CHECKPOINT_FORMAT, "config": model.config, "state_dict": model.state_dict(),
                "train": {**info["config"], "final_loss": sum(tail) / len(tail), "seconds": info["seconds"]}},
               path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explainers.train video", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=TrainConfig.n_steps)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--horizon", type=int, default=TrainConfig.horizon)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the machine is shared; one core keeps the result reproducible too
    model, info = train_frame_model(args.steps, args.seed, args.horizon)
    save_checkpoint(model, info, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB) in {info['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
