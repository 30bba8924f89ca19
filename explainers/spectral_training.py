"""Live GAN training with spectral normalization chosen per layer.

SN-GAN recipe (Miyato et al. 2018): hinge loss, Adam with lr 2e-4 and betas (0, 0.9), one D
step per G step. Hinge loss (Lim & Ye 2017; Miyato et al. 2018, Eq. 16-17):

    L_D = E_x[relu(1 - D(x))] + E_z[relu(1 + D(G(z)))],        L_G = -E_z[D(G(z))]

Every step records the losses, the gradient norms, each layer's exact sigma and the
discriminator's Lipschitz bound (the product of its sigmas); every `sample_every` steps, a fixed
batch of generated points and their mode coverage. Training always runs on fresh models built
from the seed (or deep copies of models handed in), so no shared module is ever changed, and the
same seed and settings give the same history.

The second run here fine-tunes the shipped 2D denoiser (explainers.models, trained on the ring of 8
Gaussians) with the same per-layer modes. Putting SN on a trained layer divides its weight by sigma
at once, so the network's function changes before a single step; the fine-tune shows how much of the
lost sample quality the normalized network can win back with the same v-prediction loss it was
trained with, and what bounding every layer costs a denoiser whose map must be steep near the data.
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from explainers.gan import Discriminator, Generator, make_gan, mode_coverage, ring8_sample
from explainers.spectral import (MODES, SILU_MAX_SLOPE, apply_layer_modes, chain_lipschitz_bound, layer_sigmas,
                                 lipschitz_bound)

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class GanConfig:
    """Everything that defines a training run except the seed and the number of steps.

    d_modes / g_modes: one mode for every linear layer ("off" | "sn" | "bsn" | "optional"), or a
    dict {layer name: mode} (unnamed layers stay "off").
    """

    d_modes: str | Mapping[str, str] = "sn"
    g_modes: str | Mapping[str, str] = "off"
    n_power_iterations: int = 1
    threshold: float = 1.0
    lr: float = 2e-4
    # SN-GAN's other Adam setting; with (0.5, 0.999) this toy needs many more steps to cover the ring.
    betas: tuple[float, float] = (0.0, 0.9)
    batch_size: int = 256
    latent_dim: int = 8
    hidden: int = 64
    sample_every: int = 100
    n_eval_samples: int = 1000


@dataclass
class GanHistory:
    """What a run recorded. Per step: lists indexed like `step`. Per snapshot: `sample_steps`."""

    PER_STEP: ClassVar[tuple[str, ...]] = ("step", "d_loss", "g_loss", "d_grad_norm", "g_grad_norm",
                                           "d_lipschitz_bound")
    PER_LAYER: ClassVar[tuple[str, ...]] = ("d_sigmas", "g_sigmas")
    PER_SNAPSHOT: ClassVar[tuple[str, ...]] = ("samples", "coverage", "quality")

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_grad_norm: list[float] = field(default_factory=list)
    g_grad_norm: list[float] = field(default_factory=list)
    d_sigmas: dict[str, list[float]] = field(default_factory=dict)
    g_sigmas: dict[str, list[float]] = field(default_factory=dict)
    d_lipschitz_bound: list[float] = field(default_factory=list)
    sample_steps: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # each (n_eval_samples, 2) float32
    coverage: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    stopped: str = "completed"  # or "should_stop" or "time_budget"
    elapsed_s: float = 0.0


def _layer_modes(spec: str | Mapping[str, str], model: Generator | Discriminator, name: str) -> dict[str, str]:
    if isinstance(spec, str):
        if spec not in MODES:
            raise ValueError(f"{name} must be one of {', '.join(MODES)} or a dict of them per layer; got {spec!r}")
        return {layer: spec for layer, _ in model.linear_layers()}
    return dict(spec)


def _grad_norm(model: nn.Module) -> float:
    """L2 norm of all parameter gradients together (w.r.t. the raw weights SN parametrizes)."""
    grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads))) if grads else 0.0


def _check_run(config: GanConfig, n_steps, device, time_budget_s) -> None:
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or not 1 <= n_steps <= 1_000_000:
        raise ValueError(f"n_steps must be an integer in [1, 1000000], got {n_steps!r}")
    if str(device) not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if str(device) == "cuda" and not torch.cuda.is_available():
        raise ValueError("device must be 'cpu' here: CUDA is not available on this machine")
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError(f"time_budget_s must be > 0 seconds (or None for no budget), got {time_budget_s!r}")
    if not 1 <= config.batch_size <= 65536:
        raise ValueError(f"batch_size must be in [1, 65536], got {config.batch_size!r}")
    if not 0 < config.lr <= 1:
        raise ValueError(f"lr must be in (0, 1], got {config.lr!r}")
    if not 1 <= config.sample_every:
        raise ValueError(f"sample_every must be >= 1, got {config.sample_every!r}")
    if not 1 <= config.n_eval_samples <= 100_000:
        raise ValueError(f"n_eval_samples must be in [1, 100000], got {config.n_eval_samples!r}")


def train_gan(config: GanConfig, seed: int, n_steps: int, callback: Callable[[int, dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None, time_budget_s: float | None = None,
              device: str = "cpu", models: tuple[Generator, Discriminator] | None = None) -> GanHistory:
    """Train G and D with the hinge loss for up to n_steps steps; return the recorded history.

    callback(step, record) sees each step's record (for a progress bar or a live plot);
    should_stop() is asked before every step; time_budget_s stops the run after that many seconds.
    `models` (G, D) are deep-copied, never trained in place; by default fresh ones come from `seed`.
    """
    _check_run(config, n_steps, device, time_budget_s)
    if models is None:
        generator, discriminator = make_gan(seed, config.latent_dim, config.hidden, device)
    else:
        generator, discriminator = (copy.deepcopy(m).to(device).train() for m in models)
    # apply_layer_modes returns new copies, so the models above are never modified either.
    discriminator = apply_layer_modes(discriminator, _layer_modes(config.d_modes, discriminator, "d_modes"),
                                      config.n_power_iterations, config.threshold, seed=seed)
    generator = apply_layer_modes(generator, _layer_modes(config.g_modes, generator, "g_modes"),
                                  config.n_power_iterations, config.threshold, seed=seed + 1)
    latent_dim = generator.hidden1.in_features
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=config.betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)

    rng = torch.Generator(device=device).manual_seed(seed)
    # The same latent points at every snapshot, so the plotted samples move smoothly.
    z_eval = torch.randn(config.n_eval_samples, latent_dim,
                         generator=torch.Generator(device=device).manual_seed(seed + 10_000), device=device)
    history = GanHistory()
    start = time.perf_counter()
    for step in range(1, n_steps + 1):
        if _stopping(history, should_stop, start, time_budget_s):
            break

        # Discriminator step. Real and fake go through D as one batch: SN iterates at every
        # training-mode forward, so this is one power iteration for the D step, not two.
        real = ring8_sample(config.batch_size, rng, device=device)
        z = torch.randn(config.batch_size, latent_dim, generator=rng, device=device)
        with torch.no_grad():
            fake = generator(z)
        scores = discriminator(torch.cat([real, fake]))
        d_real, d_fake = scores[: config.batch_size], scores[config.batch_size:]
        d_loss = torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        d_grad_norm = _grad_norm(discriminator)
        opt_d.step()

        # Generator step: push D's score of fresh fakes up.
        z = torch.randn(config.batch_size, latent_dim, generator=rng, device=device)
        g_loss = -discriminator(generator(z)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        g_grad_norm = _grad_norm(generator)
        opt_g.step()

        d_sigmas, g_sigmas = layer_sigmas(discriminator), layer_sigmas(generator)
        record = {"step": step, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                  "d_grad_norm": d_grad_norm, "g_grad_norm": g_grad_norm, "d_sigmas": d_sigmas,
                  "g_sigmas": g_sigmas, "d_lipschitz_bound": lipschitz_bound(discriminator, d_sigmas)}
        _append(history, record)
        if step % config.sample_every == 0 or step == n_steps:
            record.update(_snapshot(history, step, generator, z_eval))
        if callback is not None:
            callback(step, record)
    if history.step and history.sample_steps[-1:] != history.step[-1:]:
        _snapshot(history, history.step[-1], generator, z_eval)  # stopped early: still show where it got to
    history.elapsed_s = time.perf_counter() - start
    return history


def _stopping(history, should_stop, start: float, time_budget_s: float | None) -> bool:
    """Asked before every step: stop when told to or when the time budget is spent, saying which."""
    if should_stop is not None and should_stop():
        history.stopped = "should_stop"
    elif time_budget_s is not None and time.perf_counter() - start > time_budget_s:
        history.stopped = "time_budget"
    else:
        return False
    return True


def _append(history, record: dict) -> None:
    """Add one step's record to a history (GanHistory or FinetuneHistory: each names its own fields)."""
    for key in history.PER_STEP:
        getattr(history, key).append(record[key])
    for key in history.PER_LAYER:
        for name, sigma in record[key].items():
            getattr(history, key).setdefault(name, []).append(sigma)


def _append_snapshot(history, record: dict) -> None:
    history.sample_steps.append(record["step"])
    for key in history.PER_SNAPSHOT:
        getattr(history, key).append(record[key])


@torch.no_grad()
def _snapshot(history: GanHistory, step: int, generator: Generator, z_eval: torch.Tensor) -> dict:
    """Generated points for the fixed latent batch, and their mode coverage. Eval mode, so the
    power iterations of a normalized G are not advanced by looking at it."""
    generator.eval()
    samples = generator(z_eval).cpu().numpy().astype(np.float32)
    generator.train()
    scores = mode_coverage(samples)
    snapshot = {"step": step, "samples": samples, "coverage": scores["coverage"], "quality": scores["quality"]}
    _append_snapshot(history, snapshot)
    return snapshot


def history_from_records(records: list[dict], stopped: str, elapsed_s: float = 0.0, kind: type = GanHistory):
    """Rebuild a history (`kind`: GanHistory or FinetuneHistory) from the records a callback saw, e.g.
    of a run interrupted from outside (a Stop button) before it could return. Snapshots are the
    records that carry samples; a fine-tune's step-0 snapshot is a record with step 0 and no losses."""
    history = kind(stopped=stopped, elapsed_s=elapsed_s)
    for record in records:
        if record["step"] > 0:
            _append(history, record)
        if "samples" in record:
            _append_snapshot(history, record)
    return history


# ---------------------------------------------------------------------------------------------
# Fine-tuning the 2D denoiser with per-layer modes
# ---------------------------------------------------------------------------------------------

DENOISER_CHAIN = ("in_x", "hidden1", "hidden2", "out")  # the path x takes (in_noise only adds a bias)


@dataclass(frozen=True)
class FinetuneConfig:
    """A fine-tune of the shipped 2D denoiser. modes: one mode for every linear layer, or a dict
    {layer name: mode} (unnamed layers stay "off"). The loss, noise-level sampling and gradient
    clipping are the ones the denoiser was trained with (explainers.train2d)."""

    modes: str | Mapping[str, str] = "sn"
    n_power_iterations: int = 1
    threshold: float = 1.0
    lr: float = 2e-4
    batch_size: int = 512
    dataset: str = "ring8"
    sample_every: int = 100
    n_eval_samples: int = 1000
    eval_steps: int = 50  # DDIM (eta = 0) steps on the cosine schedule, T = 1000, for the snapshots


@dataclass
class FinetuneHistory:
    """What a fine-tune recorded. Per step (1..n): loss, gradient norm before clipping, each layer's
    exact sigma, the Lipschitz bound in x. Per snapshot (step 0 = the normalized model before any
    step, then every sample_every steps): samples, mode coverage, energy distance to the data."""

    PER_STEP: ClassVar[tuple[str, ...]] = ("step", "loss", "grad_norm", "lipschitz_bound")
    PER_LAYER: ClassVar[tuple[str, ...]] = ("sigmas",)
    PER_SNAPSHOT: ClassVar[tuple[str, ...]] = ("samples", "coverage", "energy_distance")

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    sigmas: dict[str, list[float]] = field(default_factory=dict)
    lipschitz_bound: list[float] = field(default_factory=list)
    sample_steps: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # each (n_eval_samples, 2) float32
    coverage: list[float] = field(default_factory=list)
    energy_distance: list[float] = field(default_factory=list)
    stopped: str = "completed"
    elapsed_s: float = 0.0


def denoiser_lipschitz_bound(sigmas: Mapping[str, float]) -> float:
    """Bound on the denoiser's Lipschitz constant in x at a fixed noise level (SiLU between layers)."""
    return chain_lipschitz_bound(sigmas, DENOISER_CHAIN, SILU_MAX_SLOPE)


def finetune_denoiser(config: FinetuneConfig, seed: int, n_steps: int,
                      callback: Callable[[int, dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None, time_budget_s: float | None = None,
                      device: str = "cpu", model: nn.Module | None = None) -> FinetuneHistory:
    """Fine-tune a normalized copy of the 2D denoiser for up to n_steps Adam steps.

    `model` (default: the shipped checkpoint for config.dataset) is never changed: the modes are
    applied to a deep copy, and only that copy trains. callback(step, record) sees step 0 (the
    snapshot before training) and every step; should_stop and time_budget_s as in train_gan.
    The same seed and settings give the same history.
    """
    from explainers.data2d import get_dataset, quality_score
    from explainers.models import load_denoiser2d
    from explainers.sampling import sample_ddim, step_alphas_cumprod
    from explainers.schedules import make_schedule
    from explainers.train2d import sample_log_snr, v_prediction_loss

    _check_run(config, n_steps, device, time_budget_s)
    if not 1 <= config.eval_steps <= 1000:
        raise ValueError(f"eval_steps must be in [1, 1000], got {config.eval_steps!r}")
    data = get_dataset(config.dataset)
    base = load_denoiser2d(config.dataset) if model is None else model
    spec = config.modes
    if isinstance(spec, str):
        if spec not in MODES:
            raise ValueError(f"modes must be one of {', '.join(MODES)} or a dict of them per layer; got {spec!r}")
        spec = {layer: spec for layer, _ in base.linear_layers()}
    # apply_layer_modes deep-copies: the shared, read-only model is never trained.
    net = apply_layer_modes(base, dict(spec), config.n_power_iterations, config.threshold, seed=seed)
    net = net.to(device).train().requires_grad_(True)
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=config.lr)

    rng = torch.Generator().manual_seed(seed)  # data, noise levels and noise on the CPU: same on any device
    abar_steps = step_alphas_cumprod(make_schedule("cosine", T=1000).alphas_cumprod, config.eval_steps)
    z_eval = torch.randn(config.n_eval_samples, 2, generator=torch.Generator().manual_seed(seed + 10_000))

    history = FinetuneHistory()

    @torch.no_grad()
    def snapshot(step: int) -> dict:
        net.eval()  # sampling must not advance the power iterations
        samples = sample_ddim(net, z_eval.to(device), abar_steps).cpu().numpy().astype(np.float32)
        net.train()
        scores = quality_score(samples, data)
        record = {"step": step, "samples": samples, "coverage": scores["mode_coverage"],
                  "energy_distance": scores["energy_distance"]}
        _append_snapshot(history, record)
        return record

    start = time.perf_counter()
    first = snapshot(0)
    if callback is not None:
        callback(0, first)
    for step in range(1, n_steps + 1):
        if _stopping(history, should_stop, start, time_budget_s):
            break
        x0 = data.sample(config.batch_size, rng).to(device)
        log_snr = sample_log_snr(config.batch_size, rng).to(device)
        eps = torch.randn(config.batch_size, 2, generator=rng).to(device)
        loss = v_prediction_loss(net, x0, log_snr, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))  # as in the original training
        opt.step()

        sigmas = layer_sigmas(net)
        record = {"step": step, "loss": loss.item(), "grad_norm": grad_norm, "sigmas": sigmas,
                  "lipschitz_bound": denoiser_lipschitz_bound(sigmas)}
        _append(history, record)
        if step % config.sample_every == 0 or step == n_steps:
            record.update(snapshot(step))
        if callback is not None:
            callback(step, record)
    if history.step and history.sample_steps[-1] != history.step[-1]:
        snapshot(history.step[-1])  # stopped early: still show where it got to
    history.elapsed_s = time.perf_counter() - start
    return history


def main(argv: list[str] | None = None) -> int:
    """CLI: a short training run and a summary, e.g. `python -m explainers.spectral_training --d-modes sn`."""
    from explainers.device import configure_threads

    parser = argparse.ArgumentParser(description="Train the ring-of-8 GAN with per-layer spectral normalization.")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--d-modes", default="sn", choices=MODES, help="mode for every discriminator layer")
    parser.add_argument("--g-modes", default="off", choices=MODES, help="mode for every generator layer")
    parser.add_argument("--n-power-iterations", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=1.0)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds")
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    args = parser.parse_args(argv)
    configure_threads()

    config = GanConfig(d_modes=args.d_modes, g_modes=args.g_modes,
                       n_power_iterations=args.n_power_iterations, threshold=args.threshold)
    history = train_gan(config, args.seed, args.steps, time_budget_s=args.time_budget, device=args.device)
    n = len(history.step)
    print(f"GAN ring8: D {args.d_modes}, G {args.g_modes}, seed {args.seed}, device {args.device}: "
          f"{n} steps ({history.stopped}) in {history.elapsed_s:.1f} s, {1000 * history.elapsed_s / max(n, 1):.2f} ms/step")
    if n:
        print(f"final losses: D {history.d_loss[-1]:.4f}, G {history.g_loss[-1]:.4f}; "
              f"D Lipschitz bound {history.d_lipschitz_bound[-1]:.4f} (max over run {max(history.d_lipschitz_bound):.4f})")
        print("final D sigmas: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in history.d_sigmas.items()))
    for step, cov, qual in zip(history.sample_steps, history.coverage, history.quality):
        print(f"  step {step:6d}: mode coverage {cov:.3f}, samples on a mode {qual:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
