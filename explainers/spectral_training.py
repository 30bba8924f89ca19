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
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from explainers.checks import check_int
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
    PER_SNAPSHOT: ClassVar[tuple[str, ...]] = ("samples", "coverage", "quality", "surface", "d_grad_mean",
                                               "d_grad_max")

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
    surface: list[np.ndarray] = field(default_factory=list)  # D(x) on SURFACE_GRID², float32, row i at y = grid[i]
    d_grad_mean: list[float] = field(default_factory=list)  # mean ‖∇ₓ D‖ over the plane
    d_grad_max: list[float] = field(default_factory=list)  # its largest value: never above the Lipschitz bound
    stopped: str = "completed"  # or "should_stop" or "time_budget"
    elapsed_s: float = 0.0


SURFACE_GRID = 41  # the discriminator's surface: points per side
SURFACE_LIMIT = 3.0  # over [-3, 3]², the ring (radius 2) and a margin around it


def surface_points() -> np.ndarray:
    """The plane the discriminator's surface is read on: SURFACE_GRID² points, row by row (y, then x)."""
    g = np.linspace(-SURFACE_LIMIT, SURFACE_LIMIT, SURFACE_GRID)
    return np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)


def discriminator_surface(discriminator: nn.Module, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """D(x) over the plane and ‖∇ₓ D(x)‖ at each point, both (SURFACE_GRID, SURFACE_GRID).

    Evaluated in eval mode, so a normalized D's power iterations do not advance by being looked at; the
    gradient norm is what the Lipschitz bound caps: ‖∇ₓ D‖ ≤ Lip(D) ≤ the product of the layers' σ.
    """
    was_training = discriminator.training
    discriminator.eval()
    x = torch.as_tensor(surface_points(), dtype=torch.float32, device=device).requires_grad_(True)
    with torch.enable_grad():
        out = discriminator(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
    discriminator.train(was_training)
    shape = (SURFACE_GRID, SURFACE_GRID)
    return (out.detach().reshape(shape).cpu().numpy().astype(np.float32),
            grad.norm(dim=1).reshape(shape).cpu().numpy().astype(np.float32))


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


def _check_run(config, n_steps, device) -> None:
    check_int("n_steps", n_steps, 1, 1_000_000)
    if str(device) not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if str(device) == "cuda" and not torch.cuda.is_available():
        raise ValueError("device must be 'cpu' here: CUDA is not available on this machine")
    if not 1 <= config.batch_size <= 65536:
        raise ValueError(f"batch_size must be in [1, 65536], got {config.batch_size!r}")
    if not 0 < config.lr <= 1:
        raise ValueError(f"lr must be in (0, 1], got {config.lr!r}")
    if not 1 <= config.sample_every:
        raise ValueError(f"sample_every must be >= 1, got {config.sample_every!r}")
    if not 1 <= config.n_eval_samples <= 100_000:
        raise ValueError(f"n_eval_samples must be in [1, 100000], got {config.n_eval_samples!r}")


class TrainingRun:
    """A training run driven one step at a time, so a page can show it while it trains and stop it at
    any moment without losing what it learned.

    The constructor builds private copies of the models (shared ones are never trained). `step()`
    trains one step and returns its record, with a snapshot (samples and their scores) every
    `sample_every` steps and at the last step; `stop(reason)` ends the run with a snapshot of where it
    got to. `history` is complete after every step. `run()` drives it to the end, as the CLI and the
    tests do; GanRun and FinetuneRun say what one step is.
    """

    History: ClassVar[type]

    def __init__(self, config, n_steps: int, device: str):
        _check_run(config, n_steps, device)
        self.config, self.n_steps, self.device = config, n_steps, str(device)
        self.history = self.History()
        self.done = False
        # A page's Stop can arrive from a new script run while the old one is still inside a step: step and stop
        # take turns, so a stopped run never gains a step afterwards.
        self._lock = threading.RLock()
        self.opening: dict | None = None  # a snapshot taken before the first step, if the run has one

    @property
    def steps_done(self) -> int:
        return self.history.step[-1] if self.history.step else 0

    def step_if_running(self) -> dict | None:
        """step(), or None once the run has ended (stopped from elsewhere meanwhile)."""
        with self._lock:
            return None if self.done else self.step()

    def step(self) -> dict:
        """Train one step; the record holds its losses, σ's and bound (and a snapshot when one is due)."""
        with self._lock:
            return self._step()

    def _step(self) -> dict:
        if self.done:
            raise RuntimeError(f"this run has ended ({self.history.stopped})")
        started = time.perf_counter()
        step = self.steps_done + 1
        record = {"step": step, **self._train_step()}
        _append(self.history, record)
        if step % self.config.sample_every == 0 or step == self.n_steps:
            record.update(self._take_snapshot(step))
        self.history.elapsed_s += time.perf_counter() - started
        if step == self.n_steps:
            self.done = True
        return record

    def stop(self, reason: str):
        """End the run (reason: "should_stop", "time_budget", "stopped by you"…), with a last snapshot."""
        with self._lock:
            return self._stop(reason)

    def _stop(self, reason: str):
        if not self.done:
            started = time.perf_counter()
            if self.history.step and self.history.sample_steps[-1:] != self.history.step[-1:]:
                self._take_snapshot(self.history.step[-1])  # stopped early: still show where it got to
            self.history.elapsed_s += time.perf_counter() - started
            self.history.stopped, self.done = reason, True
        return self.history

    def run(self, callback: Callable[[int, dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
            time_budget_s: float | None = None):
        """Step until the end, until should_stop() (asked before every step) says so, or until
        time_budget_s seconds have passed. callback(step, record) sees each record, and the opening
        snapshot as step 0 when the run has one."""
        if time_budget_s is not None and not time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0 seconds (or None for no budget), got {time_budget_s!r}")
        start = time.perf_counter()
        if callback is not None and self.opening is not None and not self.history.step:
            callback(0, self.opening)
        while not self.done:
            if should_stop is not None and should_stop():
                self.stop("should_stop")
            elif time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                self.stop("time_budget")
            else:
                record = self.step()
                if callback is not None:
                    callback(record["step"], record)
        return self.history

    def _take_snapshot(self, step: int) -> dict:
        with torch.no_grad():
            snapshot = {"step": step, **self._snapshot()}
        _append_snapshot(self.history, snapshot)
        return snapshot

    def _train_step(self) -> dict:
        raise NotImplementedError

    def _snapshot(self) -> dict:
        raise NotImplementedError


class GanRun(TrainingRun):
    """SN-GAN training on the ring of 8 Gaussians: one D step, then one G step, per step.

    `models` (G, D) are deep-copied, never trained in place; by default fresh ones come from `seed`.
    """

    History = GanHistory

    def __init__(self, config: GanConfig, seed: int, n_steps: int, device: str = "cpu",
                 models: tuple[Generator, Discriminator] | None = None):
        super().__init__(config, n_steps, device)
        if models is None:
            generator, discriminator = make_gan(seed, config.latent_dim, config.hidden, device)
        else:
            generator, discriminator = (copy.deepcopy(m).to(device).train() for m in models)
        # apply_layer_modes returns new copies, so the models above are never modified either.
        self.discriminator = apply_layer_modes(discriminator, _layer_modes(config.d_modes, discriminator, "d_modes"),
                                               config.n_power_iterations, config.threshold, seed=seed)
        self.generator = apply_layer_modes(generator, _layer_modes(config.g_modes, generator, "g_modes"),
                                           config.n_power_iterations, config.threshold, seed=seed + 1)
        self.latent_dim = self.generator.hidden1.in_features
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=config.betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas)
        self.rng = torch.Generator(device=device).manual_seed(seed)
        # The same latent points at every snapshot, so the plotted samples move smoothly.
        self.z_eval = torch.randn(config.n_eval_samples, self.latent_dim,
                                  generator=torch.Generator(device=device).manual_seed(seed + 10_000), device=device)

    def d_step(self) -> tuple[float, float]:
        """One discriminator step on the hinge loss: (L_D, gradient norm of D)."""
        n = self.config.batch_size
        real = ring8_sample(n, self.rng, device=self.device)
        z = torch.randn(n, self.latent_dim, generator=self.rng, device=self.device)
        with torch.no_grad():
            fake = self.generator(z)
        # Real and fake go through D as one batch: SN iterates at every training-mode forward, so this
        # is one power iteration for the D step, not two.
        scores = self.discriminator(torch.cat([real, fake]))
        d_real, d_fake = scores[:n], scores[n:]
        d_loss = torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        grad_norm = _grad_norm(self.discriminator)
        self.opt_d.step()
        return d_loss.item(), grad_norm

    def g_step(self) -> tuple[float, float]:
        """One generator step, pushing D's score of fresh fakes up: (L_G, gradient norm of G)."""
        z = torch.randn(self.config.batch_size, self.latent_dim, generator=self.rng, device=self.device)
        g_loss = -self.discriminator(self.generator(z)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm = _grad_norm(self.generator)
        self.opt_g.step()
        return g_loss.item(), grad_norm

    def _train_step(self) -> dict:
        d_loss, d_grad_norm = self.d_step()
        g_loss, g_grad_norm = self.g_step()
        d_sigmas, g_sigmas = layer_sigmas(self.discriminator), layer_sigmas(self.generator)
        return {"d_loss": d_loss, "g_loss": g_loss, "d_grad_norm": d_grad_norm, "g_grad_norm": g_grad_norm,
                "d_sigmas": d_sigmas, "g_sigmas": g_sigmas,
                "d_lipschitz_bound": lipschitz_bound(self.discriminator, d_sigmas)}

    def _snapshot(self) -> dict:
        """Generated points for the fixed latent batch, and their mode coverage. Eval mode, so the power
        iterations of a normalized G are not advanced by looking at it."""
        self.generator.eval()
        samples = self.generator(self.z_eval).cpu().numpy().astype(np.float32)
        self.generator.train()
        scores = mode_coverage(samples)
        surface, grad = discriminator_surface(self.discriminator, self.device)
        return {"samples": samples, "coverage": scores["coverage"], "quality": scores["quality"], "surface": surface,
                "d_grad_mean": float(grad.mean()), "d_grad_max": float(grad.max())}

    def current(self) -> dict:
        """A snapshot of the models as they are now, between steps, for a live view (not kept in the history)."""
        with torch.no_grad():
            return {"step": self.steps_done, **self._snapshot()}


def train_gan(config: GanConfig, seed: int, n_steps: int, callback: Callable[[int, dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None, time_budget_s: float | None = None,
              device: str = "cpu", models: tuple[Generator, Discriminator] | None = None) -> GanHistory:
    """Train G and D with the hinge loss for up to n_steps steps; return the recorded history
    (GanRun, driven to the end by TrainingRun.run)."""
    return GanRun(config, seed, n_steps, device, models).run(callback, should_stop, time_budget_s)


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


def v_prediction_step(net: nn.Module, params: list, opt, data, rng: torch.Generator, batch_size: int,
                      device: str) -> tuple[float, float]:
    """One Adam step of a 2D denoiser on `data` with the loss it was trained with (explainers.train2d):
    a fresh batch, noise levels drawn at random, v-prediction, gradients clipped at 1. (loss, grad norm
    before clipping). Draws on the CPU generator `rng`, so a run is the same on any device."""
    from explainers.train2d import sample_log_snr, v_prediction_loss

    x0 = data.sample(batch_size, rng).to(device)
    log_snr = sample_log_snr(batch_size, rng).to(device)
    eps = torch.randn(batch_size, 2, generator=rng).to(device)
    loss = v_prediction_loss(net, x0, log_snr, eps)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))  # as in the original training
    opt.step()
    return loss.item(), grad_norm


def denoiser_lipschitz_bound(sigmas: Mapping[str, float]) -> float:
    """Bound on the denoiser's Lipschitz constant in x at a fixed noise level (SiLU between layers)."""
    return chain_lipschitz_bound(sigmas, DENOISER_CHAIN, SILU_MAX_SLOPE)


class FinetuneRun(TrainingRun):
    """A fine-tune of a normalized copy of the 2D denoiser, one Adam step per step.

    `model` (default: the shipped checkpoint for config.dataset) is never changed: the modes are
    applied to a deep copy, and only that copy trains. The opening snapshot (step 0) is the
    normalized model before any step. The same seed and settings give the same history.
    """

    History = FinetuneHistory

    def __init__(self, config: FinetuneConfig, seed: int, n_steps: int, device: str = "cpu",
                 model: nn.Module | None = None):
        from explainers.data2d import get_dataset
        from explainers.models import load_denoiser2d
        from explainers.sampling import step_alphas_cumprod
        from explainers.schedules import make_schedule

        super().__init__(config, n_steps, device)
        check_int("eval_steps", config.eval_steps, 1, 1000)
        self.data = get_dataset(config.dataset)
        base = load_denoiser2d(config.dataset) if model is None else model
        spec = config.modes
        if isinstance(spec, str):
            if spec not in MODES:
                raise ValueError(f"modes must be one of {', '.join(MODES)} or a dict of them per layer; got {spec!r}")
            spec = {layer: spec for layer, _ in base.linear_layers()}
        # apply_layer_modes deep-copies: the shared, read-only model is never trained.
        net = apply_layer_modes(base, dict(spec), config.n_power_iterations, config.threshold, seed=seed)
        self.net = net.to(device).train().requires_grad_(True)
        self.params = list(self.net.parameters())
        self.opt = torch.optim.Adam(self.params, lr=config.lr)
        self.rng = torch.Generator().manual_seed(seed)  # data, noise levels and noise on the CPU: same on any device
        self.abar_steps = step_alphas_cumprod(make_schedule("cosine", T=1000).alphas_cumprod, config.eval_steps)
        self.z_eval = torch.randn(config.n_eval_samples, 2, generator=torch.Generator().manual_seed(seed + 10_000))
        self.opening = self._take_snapshot(0)

    def _train_step(self) -> dict:
        loss, grad_norm = v_prediction_step(self.net, self.params, self.opt, self.data, self.rng,
                                            self.config.batch_size, self.device)
        sigmas = layer_sigmas(self.net)
        return {"loss": loss, "grad_norm": grad_norm, "sigmas": sigmas,
                "lipschitz_bound": denoiser_lipschitz_bound(sigmas)}

    def _snapshot(self) -> dict:
        from explainers.data2d import quality_score
        from explainers.sampling import sample_ddim

        self.net.eval()  # sampling must not advance the power iterations
        samples = sample_ddim(self.net, self.z_eval.to(self.device), self.abar_steps).cpu().numpy().astype(np.float32)
        self.net.train()
        scores = quality_score(samples, self.data)
        return {"samples": samples, "coverage": scores["mode_coverage"], "energy_distance": scores["energy_distance"]}

    def current(self) -> dict:
        """A snapshot of the model as it is now, between steps, for a live view (not kept in the history)."""
        with torch.no_grad():
            return {"step": self.steps_done, **self._snapshot()}


def finetune_denoiser(config: FinetuneConfig, seed: int, n_steps: int,
                      callback: Callable[[int, dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None, time_budget_s: float | None = None,
                      device: str = "cpu", model: nn.Module | None = None) -> FinetuneHistory:
    """Fine-tune a normalized copy of the 2D denoiser for up to n_steps steps (FinetuneRun, driven to the
    end); callback sees step 0 (the snapshot before training) and every step."""
    return FinetuneRun(config, seed, n_steps, device, model).run(callback, should_stop, time_budget_s)


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
