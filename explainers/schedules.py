"""Variance-preserving noise schedules, and two non-VP contrasts.

Forward process (Ho et al. 2020, Eq. 4):

    x_t = sqrt(abar_t) * x0 + sqrt(1 - abar_t) * eps,    abar_t = prod_{i<=t} (1 - beta_i)

If Var[x0] = 1 then Var[x_t] = abar_t + (1 - abar_t) = 1 at every t: the signal variance
shrinks exactly as fast as the noise variance grows. That is what "variance preserving" means.

A schedule here is a small immutable value: arrays in float64, indexed t = 0 .. T-1, named as in
diffusers' ``DDPMScheduler`` (``beta_schedule="linear" | "scaled_linear" | "squaredcos_cap_v2"``).

Samplers in the EDM family (Karras et al. 2022) think in noise levels sigma instead, x = x0 + sigma eps;
``karras_sigmas`` gives their levels and ``ve_equivalent_alpha_bar`` the VP abar with the same SNR,
abar = 1 / (1 + sigma^2), which is how ``make_schedule("karras", ...)`` turns them into a VP schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from explainers.checks import check_int

SCHEDULES = ("linear", "scaled_linear", "cosine", "sigmoid", "vp_sde")
# Schedules defined by their noise levels sigma rather than by betas. make_schedule builds them, but they are
# kept out of SCHEDULES, the families the schedule page offers, so adding one changes no page.
SIGMA_SCHEDULES = ("karras",)
# A schedule drawn by hand: log-SNR set at a few knots, joined by a monotone cubic (custom_log_snr).
KNOT_SCHEDULES = ("custom",)
KNOT_POSITIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where along t (as a fraction of the way to T - 1) the knots sit
LOG_SNR_KNOT_RANGE = (-20.0, 20.0)  # ᾱ from 2e-9 to 1 - 2e-9: beyond, the ends are pure noise or pure signal
DEFAULT_KNOTS = (8.0, 3.0, 0.0, -3.0, -8.0)
CONTRASTS = ("none", "variance_exploding", "flow_matching")

# Valid ranges, in one place so the error messages, the sliders and the URL checks agree.
T_RANGE = (2, 10_000)
BETA_RANGE = (1e-6, 0.999)
COSINE_S_RANGE = (0.0, 0.5)
VP_SDE_BETA_RANGE = (1e-3, 100.0)
# Flow-matching time shift s (SD3 uses 3, Wan and Self-Forcing 5 to 8). Far below 0.01, 1 + (s - 1) sigma
# cancels to 0 at sigma = 1 and the shifted level is inf.
SHIFT_RANGE = (0.01, 100.0)
# Noise levels sigma of x = x0 + sigma eps (variance exploding, EDM). Below 1e-6 the VP abar = 1 / (1 + sigma^2)
# is 1 - 1e-12 and float64 keeps only a few digits of 1 - abar; above 1e4 abar is below 1e-8, pure noise.
SIGMA_RANGE = (1e-6, 1e4)
# EDM's rho (Karras et al. 2022, Eq. 5; 7 in the paper). rho = 1 spaces sigma evenly, a large rho approaches
# even spacing in log sigma (at 100, within 10% from 0.01 to 50); a small rho raises sigma to the power 1 / rho,
# which overflows float64 for sigma_max = 1e4 once rho is below about 0.013.
RHO_RANGE = (0.1, 100.0)
# The smallest abar a schedule may reach (before a zero-terminal-SNR rescale). Below about 1e-308
# float64 loses digits and then rounds abar to exactly 0, so several steps share one level and a sampler
# can no longer tell them apart. Large betas over many steps get there (linear, T = 1000, beta_end = 0.6).
ALPHA_BAR_MIN = 1e-300



def monotone_cubic(x_knots, y_knots, x) -> np.ndarray:
    """The monotone piecewise-cubic (PCHIP, Fritsch & Carlson 1980) through (x_knots, y_knots), at x.

    A cubic Hermite curve whose slope at each knot is a weighted harmonic mean of the two neighbouring
    secants (0 where they change sign), so it never overshoots: decreasing knots give a decreasing curve.
    """
    xk, yk, x = (np.asarray(a, dtype=np.float64) for a in (x_knots, y_knots, x))
    h, delta = np.diff(xk), np.diff(yk) / np.diff(xk)
    d = np.zeros_like(yk)
    same = delta[:-1] * delta[1:] > 0
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    d[1:-1][same] = (w1 + w2)[same] / (w1[same] / delta[:-1][same] + w2[same] / delta[1:][same])
    d[0], d[-1] = _end_slope(h[0], h[1], delta[0], delta[1]), _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    k = np.clip(np.searchsorted(xk, x, side="right") - 1, 0, len(xk) - 2)
    s = (x - xk[k]) / h[k]
    # The cubic Hermite basis on [x_k, x_k+1], with s the position inside it.
    return ((2 * s**3 - 3 * s**2 + 1) * yk[k] + (s**3 - 2 * s**2 + s) * h[k] * d[k]
            + (-2 * s**3 + 3 * s**2) * yk[k + 1] + (s**3 - s**2) * h[k] * d[k + 1])


def _end_slope(h0: float, h1: float, delta0: float, delta1: float) -> float:
    """A knot at the end: the three-point estimate, kept monotone (no sign flip, at most 3 secants steep)."""
    d = ((2 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
    if np.sign(d) != np.sign(delta0):
        return 0.0
    if np.sign(delta0) != np.sign(delta1) and abs(d) > 3 * abs(delta0):
        return 3 * delta0
    return d


def custom_log_snr(T: int, knots) -> np.ndarray:
    """log-SNR over t = 0 .. T-1 through `knots` (log-SNR at KNOT_POSITIONS of the way to T - 1), joined by
    ``monotone_cubic``. The knots must fall strictly, in LOG_SNR_KNOT_RANGE: noise only grows with t."""
    _check_T(T)
    knots = tuple(knots) if isinstance(knots, (tuple, list, np.ndarray)) else ()
    if len(knots) != len(KNOT_POSITIONS):
        raise ValueError(f"knots must be {len(KNOT_POSITIONS)} log-SNR values, one at each of "
                         f"{', '.join(f'{p:g}' for p in KNOT_POSITIONS)} of the way along t; got {knots!r}")
    for i, k in enumerate(knots):
        _check_range(f"knot {i + 1} (log-SNR)", k, *LOG_SNR_KNOT_RANGE)
    if any(b >= a for a, b in zip(knots, knots[1:])):
        raise ValueError("knots must fall strictly from the first to the last (noise only grows along t); got "
                         + ", ".join(f"{k:g}" for k in knots))
    return monotone_cubic(KNOT_POSITIONS, knots, np.arange(T) / max(T - 1, 1))


def log_snr_of(alphas_cumprod: np.ndarray | float) -> np.ndarray:
    """log SNR = log abar - log(1 - abar) (Kingma et al. 2021); abar = sigmoid(log SNR).

    -inf at abar = 0 (zero terminal SNR): plots clip it, the 2D denoiser clamps its input.
    """
    abar = np.asarray(alphas_cumprod, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(abar) - np.log1p(-abar)


@dataclass(frozen=True)
class Schedule:
    """One noise schedule: everything a plot or a sampler needs, as arrays of length T."""

    name: str
    betas: np.ndarray
    alphas_cumprod: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def T(self) -> int:
        return len(self.betas)

    @property
    def signal_coef(self) -> np.ndarray:
        """sqrt(abar_t): how much of x0 survives in x_t."""
        return np.sqrt(self.alphas_cumprod)

    @property
    def noise_coef(self) -> np.ndarray:
        """sqrt(1 - abar_t): the standard deviation of the noise mixed in."""
        return np.sqrt(1.0 - self.alphas_cumprod)

    @property
    def snr(self) -> np.ndarray:
        """SNR_t = abar_t / (1 - abar_t) (Kingma et al. 2021). Exactly 0 at zero terminal SNR."""
        with np.errstate(divide="ignore"):
            return self.alphas_cumprod / (1.0 - self.alphas_cumprod)

    @property
    def log_snr(self) -> np.ndarray:
        """log SNR_t (``log_snr_of``); -inf where abar_t = 0."""
        return log_snr_of(self.alphas_cumprod)

    @property
    def sigma_ve(self) -> np.ndarray:
        """The equivalent variance-exploding noise level, sigma = exp(-logSNR / 2)."""
        with np.errstate(over="ignore"):
            return np.exp(-self.log_snr / 2.0)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")


def _check_T(T) -> None:
    check_int("T", T, *T_RANGE)


def _check_beta_pair(beta_start: float, beta_end: float) -> None:
    _check_range("beta_start", beta_start, *BETA_RANGE)
    _check_range("beta_end", beta_end, *BETA_RANGE)
    if beta_end < beta_start:
        raise ValueError(
            f"beta_end must be >= beta_start ({beta_start:g}) and <= {BETA_RANGE[1]:g}, got {beta_end:g}"
        )


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """DDPM (Ho et al. 2020): betas evenly spaced from beta_start to beta_end."""
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def scaled_linear_betas(T: int, beta_start: float = 0.00085, beta_end: float = 0.012) -> np.ndarray:
    """Latent diffusion / Stable Diffusion: sqrt(beta) evenly spaced, then squared."""
    return np.linspace(math.sqrt(beta_start), math.sqrt(beta_end), T, dtype=np.float64) ** 2


def cosine_alpha_bar(u: np.ndarray, s: float = 0.008) -> np.ndarray:
    """Nichol & Dhariwal 2021, Eq. 17 (unnormalised): cos^2(((u + s) / (1 + s)) * pi / 2), u = t/T."""
    return np.cos((u + s) / (1.0 + s) * math.pi / 2.0) ** 2


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal 2021 (diffusers "squaredcos_cap_v2"): beta_i = 1 - abar((i+1)/T) / abar(i/T),
    capped at max_beta so the last step does not divide by a value at or near zero."""
    u = np.arange(T + 1, dtype=np.float64) / T
    abar = cosine_alpha_bar(u, s)
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def sigmoid_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """GeoDiff (Xu et al. 2022): a sigmoid over [-6, 6] rescaled to [beta_start, beta_end]."""
    ramp = 1.0 / (1.0 + np.exp(-np.linspace(-6.0, 6.0, T, dtype=np.float64)))
    return ramp * (beta_end - beta_start) + beta_start


def vp_sde_betas(T: int, beta_min: float = 0.1, beta_max: float = 20.0) -> np.ndarray:
    """Song et al. 2021, VP SDE beta(t) = beta_min + t (beta_max - beta_min), discretised with T steps
    as beta_i = linspace(beta_min / T, beta_max / T, T). For T = 1000 this is the DDPM linear schedule."""
    return np.linspace(beta_min / T, beta_max / T, T, dtype=np.float64)


def vp_sde_alpha_bar(t: np.ndarray | float, beta_min: float = 0.1, beta_max: float = 20.0) -> np.ndarray:
    """Continuous VP SDE: log m(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2, abar(t) = m(t)^2."""
    t = np.asarray(t, dtype=np.float64)
    log_mean = -(t**2) * (beta_max - beta_min) / 4.0 - t * beta_min / 2.0
    return np.exp(2.0 * log_mean)


def rescale_zero_terminal_snr(betas: np.ndarray) -> np.ndarray:
    """Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Algorithm 1.

    Shift sqrt(abar) so its last value is exactly 0, scale it so its first value is unchanged,
    square, and convert back to betas. The last step then holds no signal at all (SNR = 0).
    """
    sqrt_abar = np.sqrt(np.cumprod(1.0 - betas))
    first, last = sqrt_abar[0], sqrt_abar[-1]
    sqrt_abar = (sqrt_abar - last) * first / (first - last)
    abar = sqrt_abar**2
    # Where abar has already reached 0 the step ratio is 0/0; the step keeps nothing (alpha = 0).
    ratio = np.divide(abar[1:], abar[:-1], out=np.zeros(len(abar) - 1), where=abar[:-1] > 0)
    alphas = np.concatenate([abar[:1], ratio])
    return 1.0 - alphas


# The families parameterised by (beta_start, beta_end).
_BETAS_FROM_PAIR = {"linear": linear_betas, "sigmoid": sigmoid_betas, "scaled_linear": scaled_linear_betas}


def _largest_valid(build, low: float, high: float) -> float | None:
    """The largest value v in [low, high] whose betas build(v) keep every abar >= ALPHA_BAR_MIN
    (abar falls as betas grow, so bisection finds the edge); None when even `low` underflows."""
    def ok(v: float) -> bool:
        return bool(np.cumprod(1.0 - build(v))[-1] >= ALPHA_BAR_MIN)

    if not ok(low):
        return None
    if ok(high):
        return high
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def _check_no_underflow(name: str, T: int, betas: np.ndarray, params: dict) -> None:
    """Reject betas that drive abar below ALPHA_BAR_MIN, naming the parameter that does it and the range
    that is valid for the other parameters (found by bisection)."""
    abar = np.cumprod(1.0 - betas)
    if abar[-1] >= ALPHA_BAR_MIN:
        return
    first = int(np.argmax(abar < ALPHA_BAR_MIN))
    why = (f"with larger values abar falls below {ALPHA_BAR_MIN:g} (here at t = {first} of T = {T}) and rounds "
           f"to 0, so the last steps could not be told apart")
    if name == "vp_sde":
        lo = params["beta_min"]
        top = _largest_valid(lambda v: vp_sde_betas(T, lo, v), lo, params["beta_max"])
        if top is not None:
            raise ValueError(f"beta_max must be in [{lo:g}, {top:.4g}] for T = {T} and beta_min = {lo:g}; {why}")
        raise ValueError(f"T must be smaller for beta_min = {lo:g}; {why}")
    build = _BETAS_FROM_PAIR[name]
    start = params["beta_start"]
    top = _largest_valid(lambda v: build(T, start, v), start, params["beta_end"])
    if top is not None:
        raise ValueError(f"beta_end must be in [{start:g}, {top:.4g}] for T = {T} and beta_start = {start:g}; {why}")
    top = _largest_valid(lambda v: build(T, v, v), BETA_RANGE[0], start)
    raise ValueError(f"beta_start must be in [{BETA_RANGE[0]:g}, {top:.4g}] for T = {T} "
                     f"(even with beta_end = beta_start); {why}")


def make_schedule(
    name: str,
    T: int = 1000,
    *,
    beta_start: float | None = None,
    beta_end: float | None = None,
    s: float = 0.008,
    beta_min: float = 0.1,
    beta_max: float = 20.0,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    knots: tuple[float, ...] = DEFAULT_KNOTS,
    zero_terminal_snr: bool = False,
) -> Schedule:
    """Build a VP schedule by name: "linear", "scaled_linear", "cosine", "sigmoid", "vp_sde" or "karras".

    beta_start / beta_end default to each family's usual values (linear and sigmoid 1e-4..0.02,
    scaled_linear 0.00085..0.012). "karras" takes EDM's noise levels instead (``karras_sigmas``,
    defaults sigma_min 0.002, sigma_max 80, rho 7), in increasing order along t, as abar = 1 / (1 + sigma^2):
    t = 0 is the least noisy level. Invalid parameters raise ValueError naming the parameter and
    its valid range, also betas so large that abar would underflow to 0 (ALPHA_BAR_MIN); zero
    terminal SNR then sets only the last abar to exactly 0, which the samplers handle. "custom" takes
    log-SNR at the KNOT_POSITIONS (``custom_log_snr``).
    """
    every = SCHEDULES + SIGMA_SCHEDULES + KNOT_SCHEDULES
    if name not in every:
        raise ValueError(f"schedule must be one of {', '.join(every)}; got {name!r}")
    _check_T(T)
    params: dict = {"T": int(T)}
    if name == "custom":
        log_snr = custom_log_snr(T, knots)
        params.update(knots=tuple(float(k) for k in knots))
        return _schedule_from_alpha_bar(name, 1.0 / (1.0 + np.exp(-log_snr)), params, zero_terminal_snr)
    if name == "karras":
        # Eq. 5 lists the levels from sigma_max down, the order a sampler visits them; a schedule's t counts
        # the forward (noising) direction, so t = 0 gets sigma_min.
        sigmas = karras_sigmas(T, sigma_min, sigma_max, rho)[::-1]
        params.update(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho)
        return _schedule_from_alpha_bar(name, ve_equivalent_alpha_bar(sigmas), params, zero_terminal_snr)
    if name in ("linear", "sigmoid", "scaled_linear"):
        default = (0.00085, 0.012) if name == "scaled_linear" else (1e-4, 0.02)
        beta_start = default[0] if beta_start is None else beta_start
        beta_end = default[1] if beta_end is None else beta_end
        _check_beta_pair(beta_start, beta_end)
        params.update(beta_start=beta_start, beta_end=beta_end)
        betas = _BETAS_FROM_PAIR[name](T, beta_start, beta_end)
    elif name == "cosine":
        _check_range("s", s, *COSINE_S_RANGE)
        params.update(s=s)
        betas = cosine_betas(T, s)
    else:  # vp_sde
        _check_range("beta_min", beta_min, *VP_SDE_BETA_RANGE)
        _check_range("beta_max", beta_max, *VP_SDE_BETA_RANGE)
        if beta_max < beta_min:
            raise ValueError(f"beta_max must be >= beta_min ({beta_min:g}), got {beta_max:g}")
        if beta_max / T >= 1.0:
            raise ValueError(f"beta_max must be in [{beta_min:g}, {T}) for T = {T}, so every discrete beta stays "
                             f"below 1 (must be < T); got {beta_max:g}")
        params.update(beta_min=beta_min, beta_max=beta_max)
        betas = vp_sde_betas(T, beta_min, beta_max)
    # cosine's betas are capped at 0.999 and its abar stays above 1e-11 for every s and T allowed
    if name != "cosine":
        _check_no_underflow(name, T, betas, params)
    if zero_terminal_snr:
        betas = rescale_zero_terminal_snr(betas)
    params["zero_terminal_snr"] = bool(zero_terminal_snr)
    alphas_cumprod = np.cumprod(1.0 - betas)
    if zero_terminal_snr:
        alphas_cumprod[-1] = 0.0  # exact, not 1e-20 from round-off
    for arr in (betas, alphas_cumprod):
        arr.setflags(write=False)
    return Schedule(name=name, betas=betas, alphas_cumprod=alphas_cumprod, params=params)


def _schedule_from_alpha_bar(name: str, alphas_cumprod: np.ndarray, params: dict, zero_terminal_snr: bool) -> Schedule:
    """A schedule given by its abar (decreasing in t): beta_t = 1 - abar_t / abar_{t-1}, with abar_{-1} = 1."""
    betas = 1.0 - alphas_cumprod / np.concatenate([[1.0], alphas_cumprod[:-1]])
    if zero_terminal_snr:
        betas = rescale_zero_terminal_snr(betas)
        alphas_cumprod = np.cumprod(1.0 - betas)
        alphas_cumprod[-1] = 0.0  # exact, as in make_schedule
    else:
        # Keep the abar we were given, not cumprod(1 - betas), which would bring back round-off.
        alphas_cumprod = np.array(alphas_cumprod, dtype=np.float64)
    params["zero_terminal_snr"] = bool(zero_terminal_snr)
    for arr in (betas, alphas_cumprod):
        arr.setflags(write=False)
    return Schedule(name=name, betas=betas, alphas_cumprod=alphas_cumprod, params=params)


# ---------------------------------------------------------------------------------------------
# Noise levels in the EDM parameterisation (Karras et al. 2022): x = x0 + sigma eps.
# ---------------------------------------------------------------------------------------------


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    """EDM's n noise levels (Karras et al. 2022, Eq. 5), sigma_max first and sigma_min last:

        sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,  i = 0 .. n-1

    Evenly spaced in sigma^(1/rho): with rho = 7 the steps crowd towards sigma_min, where a sampler's
    errors matter most; rho = 1 is plain linear spacing. No trailing 0 is appended (EDM's samplers add
    sigma_n = 0 themselves). Float64 array of length n. Raises ValueError naming the parameter and its range:
    n an integer in T_RANGE, sigma_min in SIGMA_RANGE, sigma_max above sigma_min and in SIGMA_RANGE,
    rho in RHO_RANGE.
    """
    n = check_int("n", n, *T_RANGE)
    _check_range("sigma_min", sigma_min, *SIGMA_RANGE)
    _check_range("sigma_max", sigma_max, *SIGMA_RANGE)
    if not sigma_max > sigma_min:
        raise ValueError(
            f"sigma_max must be > sigma_min ({sigma_min:g}) and <= {SIGMA_RANGE[1]:g}, got {sigma_max:g}"
        )
    _check_range("rho", rho, *RHO_RANGE)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float64)
    top, bottom = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    sigmas = (top + ramp * (bottom - top)) ** rho
    # The root then the power round-trips to within a few ulps; the ends are the levels asked for, exactly.
    sigmas[0], sigmas[-1] = sigma_max, sigma_min
    return sigmas


def ve_equivalent_alpha_bar(sigma):
    """The VP abar with the same SNR as noise level sigma of x = x0 + sigma eps: abar = 1 / (1 + sigma^2).

    Dividing x0 + sigma eps by sqrt(1 + sigma^2) gives sqrt(abar) x0 + sqrt(1 - abar) eps: the same
    signal-to-noise ratio 1 / sigma^2, so log SNR = -2 log sigma. The inverse is ``Schedule.sigma_ve``.
    A float gives a float; anything else a float64 array.
    """
    if not isinstance(sigma, float):
        sigma = np.asarray(sigma, dtype=np.float64)
    return 1.0 / (1.0 + sigma**2)


# ---------------------------------------------------------------------------------------------
# Contrasts that are NOT variance preserving, on the same axes: x_t = a_t * x0 + b_t * eps.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coefficients:
    """x_t = signal_coef * x0 + noise_coef * eps, over a normalised time axis u in [0, 1]."""

    name: str
    u: np.ndarray
    signal_coef: np.ndarray
    noise_coef: np.ndarray

    @property
    def total_variance(self) -> np.ndarray:
        """Var[x_t] when Var[x0] = 1 and x0, eps independent: a^2 + b^2 (1 everywhere only for VP)."""
        return self.signal_coef**2 + self.noise_coef**2

    @property
    def log_snr(self) -> np.ndarray:
        """log SNR = log(a^2 / b^2): ``log_snr_of`` the VP abar with the same SNR, abar = a^2 / (a^2 + b^2)
        (for VP a^2 + b^2 = 1 and this is the schedule's own log-SNR); -inf where a = 0."""
        return log_snr_of(self.signal_coef**2 / self.total_variance)


def vp_coefficients(schedule: Schedule) -> Coefficients:
    u = np.arange(1, schedule.T + 1, dtype=np.float64) / schedule.T
    return Coefficients(schedule.name, u, schedule.signal_coef, schedule.noise_coef)


def ve_sigmas(T: int, sigma_min: float = 0.01, sigma_max: float = 50.0) -> np.ndarray:
    """Variance exploding (Song & Ermon 2019; Song et al. 2021): geometric sigmas, x = x0 + sigma eps."""
    _check_T(T)
    _check_range("sigma_min", sigma_min, *SIGMA_RANGE)
    _check_range("sigma_max", sigma_max, sigma_min, SIGMA_RANGE[1])
    return np.geomspace(sigma_min, sigma_max, T)


def flow_shift(sigma, shift: float):
    """Time shift of flow matching (SD3, Esser et al. 2024; Wan): sigma' = s sigma / (1 + (s - 1) sigma).

    s > 1 pushes every level towards pure noise, spending more of the steps where the coarse layout
    is decided; s = 1 leaves sigma unchanged. A torch tensor (training draws its levels as one) stays
    a tensor in its own dtype; anything else comes back as a float64 numpy array.
    """
    _check_range("shift", shift, *SHIFT_RANGE)
    if not hasattr(sigma, "detach"):
        sigma = np.asarray(sigma, dtype=np.float64)
    # NaN fails both comparisons, so this also rejects non-finite levels.
    if not bool(((sigma >= 0) & (sigma <= 1)).all()):
        raise ValueError("sigma must be in [0, 1] (a flow-matching noise level)")
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def flow_sigmas(T: int, shift: float = 1.0) -> np.ndarray:
    """Rectified flow: x_t = (1 - sigma) x0 + sigma eps, with sigma = t/T warped by the time shift."""
    _check_T(T)
    return flow_shift(np.arange(1, T + 1, dtype=np.float64) / T, shift)


def flow_equivalent_alpha_bar(sigma):
    """The VP abar with the same SNR as flow level sigma: abar = (1-sigma)^2 / ((1-sigma)^2 + sigma^2).

    Same signal-to-noise ratio: abar / (1 - abar) = ((1 - sigma) / sigma)^2. A float gives a float
    (Eq. 1's re-noising calls it once per frame); anything else a float64 array.
    """
    if not isinstance(sigma, float):
        sigma = np.asarray(sigma, dtype=np.float64)
    return (1 - sigma) ** 2 / ((1 - sigma) ** 2 + sigma**2)


def contrast_coefficients(kind: str, T: int, shift: float = 1.0) -> Coefficients:
    """The non-VP contrast named `kind` on T steps: "variance_exploding" or "flow_matching"."""
    _check_T(T)
    u = np.arange(1, T + 1, dtype=np.float64) / T
    if kind == "variance_exploding":
        sigma = ve_sigmas(T)
        return Coefficients(kind, u, np.ones_like(sigma), sigma)
    if kind == "flow_matching":
        sigma = flow_sigmas(T, shift)
        return Coefficients(kind, u, 1.0 - sigma, sigma)
    raise ValueError(f"contrast must be one of variance_exploding, flow_matching; got {kind!r}")
