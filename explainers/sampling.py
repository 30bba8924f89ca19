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

MAX_STEPS = 1000


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


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
    T = _check_int("T", T, 1, 100_000)
    steps = _check_int("steps", steps, 1, min(MAX_STEPS, T))
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


def log_snr_of(abar: np.ndarray) -> np.ndarray:
    """log SNR = log abar - log(1 - abar); -inf at abar = 0 (the model clips it)."""
    with np.errstate(divide="ignore"):
        return np.log(abar) - np.log1p(-abar)


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


def _levels(abar_steps, device, dtype):
    """Per-step constants computed once: abar, the next (less noisy) abar, log-SNR (numpy and tensor)."""
    abar = _check_abar_steps(abar_steps)
    abar_next = np.append(abar[1:], 1.0)  # after the last step: clean
    log_snr = log_snr_of(abar)
    return abar, abar_next, log_snr, torch.tensor(log_snr, dtype=dtype, device=device)


def sample_ddim(model, x: torch.Tensor, abar_steps, eta: float = 0.0,
                generator: torch.Generator | None = None, callback: Callable[[dict], None] | None = None):
    """DDIM (Song et al. 2021, Eq. 12), v-parameterised. Walks abar_steps[0] -> ... -> 1.

    Each step, from level abar to the next level abar':

        x' = sqrt(abar') x0_hat + sqrt(1 - abar' - sigma^2) eps_hat + sigma z,
        sigma = eta sqrt((1 - abar') / (1 - abar)) sqrt(1 - abar / abar')   (Eq. 16).

    eta = 0 is deterministic; eta = 1 gives the DDPM posterior variance (see ``sample_ddpm``).
    `x`: the starting state, usually torch.randn(n, 2, generator=g) (pure noise at abar = 0, and
    the standard start also when abar_steps[0] > 0). `callback(info)` after every step, with
    info = {'i', 'x' (the state after step i), 'x0_hat', 'abar', 'log_snr' (the level the model saw),
    'abar_next'}. Returns the final x.
    """
    eta = _check_unit_interval("eta", eta)
    abar, abar_next, log_snr, log_snr_t = _levels(abar_steps, x.device, x.dtype)
    a, s = np.sqrt(abar), np.sqrt(1 - abar)
    sigma = eta * np.sqrt((1 - abar_next) / (1 - abar) * (1 - abar / abar_next))
    direction = np.sqrt(np.clip(1 - abar_next - sigma**2, 0, None))
    # With x0_hat = a x - s v and eps_hat = s x + a v, the step is one linear combination of x and v:
    # x' = (a' a + d s) x + (d a - a' s) v. Two tensor ops a step instead of nine (bench/bench_sampling.py
    # counts this overhead against the model's forward passes); x0_hat is formed only for a callback.
    c_x, c_v = np.sqrt(abar_next) * a + direction * s, direction * a - np.sqrt(abar_next) * s
    # Python floats: multiplying a tensor by a float is the cheapest op per step.
    a, s, c_x, c_v, sigma = (v.tolist() for v in (a, s, c_x, c_v, sigma))
    with torch.inference_mode():
        for i in range(len(abar)):
            v = model(x, log_snr_t[i:i + 1])
            x_next = torch.add(c_x[i] * x, v, alpha=c_v[i])
            if sigma[i] > 0:
                x_next.add_(_noise_like(x, generator), alpha=sigma[i])
            if callback is not None:
                callback({"i": i, "x": x_next, "x0_hat": torch.add(a[i] * x, v, alpha=-s[i]), "abar": float(abar[i]),
                          "log_snr": float(log_snr[i]), "abar_next": float(abar_next[i])})
            x = x_next
    return x


def sample_ddpm(model, x: torch.Tensor, abar_steps, generator: torch.Generator | None = None,
                callback: Callable[[dict], None] | None = None):
    """Ancestral sampling (Ho et al. 2020, Eqs. 6-7) over the levels abar_steps, v-parameterised.

    Each step samples the posterior q(x' | x, x0 = x0_hat) between level abar and the next abar':
    with alpha = abar / abar' and beta = 1 - alpha,

        mean = sqrt(abar') beta / (1 - abar) x0_hat + sqrt(alpha) (1 - abar') / (1 - abar) x
        var  = (1 - abar') / (1 - abar) beta.

    DDIM with eta = 1 uses exactly this variance and, because x0_hat and eps_hat are consistent
    with x, exactly this mean: the two give the same result from the same noise.
    Arguments, callback and return as in ``sample_ddim``.
    """
    abar, abar_next, log_snr, log_snr_t = _levels(abar_steps, x.device, x.dtype)
    alpha = abar / abar_next
    beta = 1 - alpha
    coef_x0 = np.sqrt(abar_next) * beta / (1 - abar)
    coef_x = np.sqrt(alpha) * (1 - abar_next) / (1 - abar)
    std = np.sqrt((1 - abar_next) / (1 - abar) * beta)
    a, s = np.sqrt(abar), np.sqrt(1 - abar)
    # mean = coef_x0 (a x - s v) + coef_x x, folded into one combination of x and v as in sample_ddim.
    c_x, c_v = coef_x0 * a + coef_x, -coef_x0 * s
    a, s, c_x, c_v, std = (v.tolist() for v in (a, s, c_x, c_v, std))
    with torch.inference_mode():
        for i in range(len(abar)):
            v = model(x, log_snr_t[i:i + 1])
            x_next = torch.add(c_x[i] * x, v, alpha=c_v[i])
            if std[i] > 0:
                x_next.add_(_noise_like(x, generator), alpha=std[i])
            if callback is not None:
                callback({"i": i, "x": x_next, "x0_hat": torch.add(a[i] * x, v, alpha=-s[i]), "abar": float(abar[i]),
                          "log_snr": float(log_snr[i]), "abar_next": float(abar_next[i])})
            x = x_next
    return x
