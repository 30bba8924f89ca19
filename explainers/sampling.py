"""Reverse diffusion samplers as plain functions, in the style of k-diffusion.

A schedule gives ``alphas_cumprod`` (explainers.schedules); ``step_alphas_cumprod`` picks the noise
levels a sampler visits; ``sample_ddim`` / ``sample_ddpm`` walk them from the noisiest to clean
(abar = 1 after the last step); a ``callback`` sees every intermediate state. None of them knows
the others' internals.

The model predicts v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho 2022). With
x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, a rotation by the same angle gives back both parts:

    x0_hat  = sqrt(abar) x_t - sqrt(1 - abar) v_hat
    eps_hat = sqrt(1 - abar) x_t + sqrt(abar) v_hat

No division anywhere, so this is exact also at abar = 0 (zero terminal SNR, Lin et al. 2023).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from explainers.checks import check_int
from explainers.schedules import log_snr_of

MAX_STEPS = 1000


def _check_unit_interval(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def step_timesteps(T: int, steps: int) -> np.ndarray:
    """Indices of `steps` timesteps out of T with "trailing" spacing, noisiest first.

    Lin et al. 2023, Table 2: count back from the last index T - 1 in strides of T / steps, so the
    sampler always starts at the noisiest level the model was trained on (with zero terminal SNR:
    pure noise). For T = 1000, steps = 4: [999, 749, 499, 249]. Same as diffusers'
    ``timestep_spacing="trailing"``.
    """
    T = check_int("T", T, 1, 100_000)
    steps = check_int("steps", steps, 1, min(MAX_STEPS, T))
    return np.round(T - np.arange(steps) * (T / steps)).astype(np.int64) - 1


def step_alphas_cumprod(alphas_cumprod: np.ndarray, steps: int) -> np.ndarray:
    """abar at the `steps` trailing timesteps of a schedule, noisiest first (float64).

    `alphas_cumprod`: the schedule's abar_t for t = 0 .. T-1 (decreasing, in [0, 1]).
    `steps` must be in [1, min(1000, T)].
    """
    abar = np.asarray(alphas_cumprod, dtype=np.float64)
    if abar.ndim != 1 or len(abar) == 0 or not np.all(np.isfinite(abar)) or abar.min() < 0 or abar.max() > 1:
        raise ValueError("alphas_cumprod must be a non-empty 1-D array of values in [0, 1]")
    return abar[step_timesteps(len(abar), steps)]


def _check_abar_steps(abar_steps) -> np.ndarray:
    abar = np.asarray(abar_steps, dtype=np.float64)
    if abar.ndim != 1 or not 1 <= len(abar) <= MAX_STEPS:
        raise ValueError(f"abar_steps must be a 1-D array of 1 to {MAX_STEPS} noise levels (the steps), "
                         f"got shape {abar.shape}")
    if not np.all(np.isfinite(abar)) or abar.min() < 0 or abar.max() >= 1:
        raise ValueError("abar_steps values must be in [0, 1): 0 is pure noise, 1 (clean) comes after the last step")
    if np.any(np.diff(abar) <= 0):
        raise ValueError("abar_steps must be strictly increasing: the noisiest level first")
    return abar


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randn_like(x)
    # Draw on the generator's device so a CPU generator gives the same numbers for a CUDA run.
    return torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)


def forward_noise(x0: torch.Tensor, abar, generator: torch.Generator | None = None) -> torch.Tensor:
    """x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, eps ~ N(0, I) (Ho et al. 2020, Eq. 4).

    `abar` is a number in [0, 1] or a tensor broadcastable against x0 (e.g. shape (n, 1)).
    """
    if isinstance(abar, torch.Tensor):
        if not bool(torch.all((abar >= 0) & (abar <= 1))):
            raise ValueError("abar must be in [0, 1]")
    else:
        abar = _check_unit_interval("abar", abar)
    abar = torch.as_tensor(abar, dtype=x0.dtype, device=x0.device)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * _noise_like(x0, generator)


def predicted_x0(x: torch.Tensor, v_hat: torch.Tensor, abar: float) -> torch.Tensor:
    """x0_hat = sqrt(abar) x - sqrt(1 - abar) v_hat: the clean sample the model's v implies (module docstring)."""
    return torch.add(math.sqrt(abar) * x, v_hat, alpha=-math.sqrt(1 - abar))


def predicted_eps(x: torch.Tensor, v_hat: torch.Tensor, abar: float) -> torch.Tensor:
    """eps_hat = sqrt(1 - abar) x + sqrt(abar) v_hat: the noise the model's v implies."""
    return torch.add(math.sqrt(1 - abar) * x, v_hat, alpha=math.sqrt(abar))


def ddim_sigma(abar: np.ndarray, abar_next: np.ndarray, eta: float) -> np.ndarray:
    """sigma_t = eta sqrt((1 - abar') / (1 - abar)) sqrt(1 - abar / abar') (Song et al. 2021, Eq. 16).

    eta = 1 gives the variance of the DDPM posterior q(x' | x, x0), (1 - abar') / (1 - abar) beta with
    beta = 1 - abar / abar' (Ho et al. 2020, Eq. 7); eta = 0 gives none (deterministic DDIM).
    """
    return eta * np.sqrt((1 - abar_next) / (1 - abar) * (1 - abar / abar_next))


def _sample(model, x: torch.Tensor, abar_steps, eta: float, generator: torch.Generator | None,
            callback: Callable[[dict], None] | None) -> torch.Tensor:
    """The one loop behind ``sample_ddim`` and ``sample_ddpm``: DDIM's Eq. 12 at every step."""
    abar = _check_abar_steps(abar_steps)
    abar_next = np.append(abar[1:], 1.0)  # after the last step: clean
    sigma = ddim_sigma(abar, abar_next, eta)
    # sqrt(1 - abar' - sigma^2), the weight of the "direction pointing to x_t"; the clip keeps
    # round-off from going below 0 where it is exactly 0 (eta = 1 at abar = 0).
    direction = np.sqrt(np.clip(1 - abar_next - sigma**2, 0, None))
    log_snr = log_snr_of(abar)
    log_snr_t = torch.tensor(log_snr, dtype=x.dtype, device=x.device)
    # Python floats: multiplying a tensor by a float is the cheapest op per step.
    abar, abar_next, sigma, direction = (v.tolist() for v in (abar, abar_next, sigma, direction))
    with torch.inference_mode():
        for i in range(len(abar)):
            v_hat = model(x, log_snr_t[i:i + 1])
            x0_hat = predicted_x0(x, v_hat, abar[i])
            eps_hat = predicted_eps(x, v_hat, abar[i])
            # Eq. 12: x' = sqrt(abar') x0_hat + sqrt(1 - abar' - sigma^2) eps_hat + sigma z
            x_next = torch.add(math.sqrt(abar_next[i]) * x0_hat, eps_hat, alpha=direction[i])
            if sigma[i] > 0:
                x_next.add_(_noise_like(x, generator), alpha=sigma[i])
            if callback is not None:
                callback({"i": i, "x": x_next, "x0_hat": x0_hat, "eps_hat": eps_hat, "abar": abar[i],
                          "log_snr": float(log_snr[i]), "abar_next": abar_next[i]})
            x = x_next
    return x


def sample_ddim(model, x: torch.Tensor, abar_steps, eta: float = 0.0,
                generator: torch.Generator | None = None, callback: Callable[[dict], None] | None = None):
    """DDIM (Song et al. 2021, Eq. 12), v-parameterised. Walks abar_steps[0] -> ... -> 1.

    Each step, from level abar to the next level abar', with x0_hat and eps_hat from the model's v:

        x' = sqrt(abar') x0_hat  +  sqrt(1 - abar' - sigma^2) eps_hat  +  sigma z,   z ~ N(0, I)
             (predicted x0)         (direction pointing to x_t)           (random noise)

    with sigma = ``ddim_sigma(abar, abar', eta)`` (Eq. 16). eta = 0 is deterministic; eta = 1 is
    ancestral DDPM sampling (``sample_ddpm``).
    `x`: the starting state, usually torch.randn(n, 2, generator=g) (pure noise at abar = 0, and
    the standard start also when abar_steps[0] > 0). `callback(info)` after every step, with
    info = {'i', 'x' (the state after step i), 'x0_hat', 'eps_hat', 'abar', 'log_snr' (the level the
    model saw), 'abar_next'}. Returns the final x.
    """
    return _sample(model, x, abar_steps, _check_unit_interval("eta", eta), generator, callback)


def sample_ddpm(model, x: torch.Tensor, abar_steps, generator: torch.Generator | None = None,
                callback: Callable[[dict], None] | None = None):
    """Ancestral sampling (Ho et al. 2020, Eqs. 6-7) over the levels abar_steps, v-parameterised.

    Each step samples the posterior q(x' | x, x0 = x0_hat) between level abar and the next abar':
    with alpha = abar / abar' and beta = 1 - alpha,

        mean = sqrt(abar') beta / (1 - abar) x0_hat + sqrt(alpha) (1 - abar') / (1 - abar) x
        var  = (1 - abar') / (1 - abar) beta.

    That variance is DDIM's sigma^2 at eta = 1, and because x = sqrt(abar) x0_hat + sqrt(1 - abar) eps_hat
    the mean equals DDIM's sqrt(abar') x0_hat + sqrt(1 - abar' - sigma^2) eps_hat: so this runs the DDIM
    step with eta = 1 (Song et al. 2021: Eq. 12 with Eq. 16 at eta = 1). Arguments, callback and return as in
    ``sample_ddim``.
    """
    return _sample(model, x, abar_steps, 1.0, generator, callback)
