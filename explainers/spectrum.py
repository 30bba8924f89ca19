"""Which frequencies the noise erases first: the forward process seen frequency by frequency.

Forward process (Ho et al. 2020, Eq. 4), x_t = sqrt(abar) x0 + sqrt(1 - abar) eps with white eps of unit
variance. The Fourier transform is linear, so every frequency bin of x_t holds sqrt(abar) times the image's
coefficient plus a noise coefficient independent of it. In the normalisation used here (power per bin
P = |FFT(x - mean)|^2 / N^2 for an N x N image, so the mean over all N^2 bins is the image's variance:
Parseval) white noise of variance s^2 has the same expected power s^2 in every bin, and

    signal power ᾱ P_x0(k),    noise power (1 - ᾱ) s^2,    SNR(k) = ᾱ P_x0(k) / ((1 - ᾱ) s^2).

Natural photographs have P(k) falling roughly as 1/k^2 (Field 1987), so SNR(k) drops below 1 first at large
k: noising drowns fine detail first, and the crossing frequency moves down as t grows (REFERENCE.md, §4).
``spectral_slope`` measures how fast this project's own image falls, so the page can say it with the number.

Frequencies k are in cycles per image (integers 1 .. N // 2, the radius of an annulus of FFT bins).
numpy only; nothing here draws or knows about pages.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from explainers.checks import check_int

# The smallest image with two annuli (k = 1, 2), so a slope can be fitted; the largest keeps the FFT cheap.
SIZE_RANGE = (4, 4096)
ALPHA_BAR_RANGE = (0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Argument checks: a ValueError that names the parameter.
# ---------------------------------------------------------------------------------------------


def _check_image(image) -> np.ndarray:
    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"image must be a 2D array (N, N), got {x.ndim} dimension(s) of shape {x.shape}")
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"image must be square (N, N) so k counts cycles per image on both axes; got {x.shape}")
    if not SIZE_RANGE[0] <= x.shape[0] <= SIZE_RANGE[1]:
        raise ValueError(f"image must be N x N with N in [{SIZE_RANGE[0]}, {SIZE_RANGE[1]}], got N = {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("image must hold finite values only (no NaN or inf)")
    return x


def _check_alpha_bar(alpha_bar, name: str = "alpha_bar") -> float:
    if isinstance(alpha_bar, bool) or not isinstance(alpha_bar, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in [0, 1], got {alpha_bar!r}")
    value = float(alpha_bar)
    low, high = ALPHA_BAR_RANGE
    if not low <= value <= high:  # NaN fails too
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value


def _check_power(power, name: str = "power_x0") -> np.ndarray:
    p = np.asarray(power, dtype=np.float64)
    if p.ndim != 1 or len(p) < 1:
        raise ValueError(f"{name} must be a 1D array of powers, one per frequency; got shape {p.shape}")
    if not (np.isfinite(p).all() and (p >= 0).all()):
        raise ValueError(f"{name} must hold finite values >= 0 (a power spectrum)")
    return p


def _check_freqs(freqs, n: int, power_name: str = "power_x0") -> np.ndarray:
    f = np.asarray(freqs, dtype=np.float64)
    if f.ndim != 1 or len(f) != n:
        raise ValueError(f"freqs must be a 1D array as long as {power_name} ({n}); got shape {f.shape}")
    if not (np.isfinite(f).all() and (f > 0).all() and (np.diff(f) > 0).all()):
        raise ValueError("freqs must be finite, > 0 and strictly increasing")
    return f


def _check_noise_variance(noise_variance) -> float:
    if isinstance(noise_variance, bool) or not isinstance(noise_variance, (int, float, np.integer, np.floating)):
        raise ValueError(f"noise_variance must be a number > 0, got {noise_variance!r}")
    value = float(noise_variance)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"noise_variance must be a finite number > 0, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# The spectrum of an image.
# ---------------------------------------------------------------------------------------------


def power_spectrum_2d(image) -> np.ndarray:
    """Power per FFT bin, P[u, v] = |FFT2(x - mean(x))|^2 / N^2, shape (N, N), in numpy's (unshifted) order.

    Parseval: P.mean() = sum(P) / N^2 = Var[x]. White noise of variance s^2 has E[P[u, v]] = s^2 in every bin.
    """
    x = _check_image(image)
    n = x.shape[0]
    f = np.fft.fft2(x - x.mean())
    return (f.real**2 + f.imag**2) / n**2


@lru_cache(maxsize=16)
def _annulus_index(n: int) -> np.ndarray:
    """For every FFT bin of an n x n image, the annulus it falls in: round(sqrt(kx^2 + ky^2)), kx, ky in cycles
    per image. Read-only and cached: the page asks for the same size on every rerun."""
    k = np.fft.fftfreq(n, d=1.0 / n)
    radius = np.rint(np.hypot(k[:, None], k[None, :])).astype(np.intp)
    radius.setflags(write=False)
    return radius


def annulus_sizes(size: int) -> np.ndarray:
    """How many FFT bins of a size x size image fall in the annulus of radius k, for k = 1 .. size // 2.

    Bins beyond size // 2 (the corners, up to sqrt(2) size / 2) belong to no annulus.
    """
    n = check_int("size", size, *SIZE_RANGE)
    return np.bincount(_annulus_index(n).ravel(), minlength=n // 2 + 1)[1 : n // 2 + 1]


def radial_power_spectrum(image) -> tuple[np.ndarray, np.ndarray]:
    """The radially averaged power spectrum of a square image, mean removed.

        P(k) = mean of |FFT2(x - mean)|^2 / N^2 over the bins with round(sqrt(kx^2 + ky^2)) = k

    for k = 1 .. N // 2 cycles per image. Normalised per bin (``power_spectrum_2d``), so the mean over all
    N^2 bins is Var[x] (Parseval) and white noise of variance s^2 gives P(k) = s^2 at every k (in expectation).
    Returns (freqs, power): float64 arrays of length N // 2. Raises ValueError naming `image` unless it is a
    finite, square 2D array with N in SIZE_RANGE.
    """
    p = power_spectrum_2d(image)
    n = p.shape[0]
    sums = np.bincount(_annulus_index(n).ravel(), weights=p.ravel(), minlength=n // 2 + 1)[1 : n // 2 + 1]
    return np.arange(1, n // 2 + 1, dtype=np.float64), sums / annulus_sizes(n)


def spectral_slope(freqs, power) -> float:
    """The slope of the least-squares line through (log k, log P(k)), every bin weighted equally:
    P(k) ~ c k^slope. About -2 for natural photographs; 0 for white noise. Every power must be > 0."""
    p = np.asarray(power, dtype=np.float64)
    if p.ndim != 1 or len(p) < 2:
        raise ValueError(f"power must be a 1D array of at least 2 powers; got shape {p.shape}")
    if not (np.isfinite(p).all() and (p > 0).all()):
        raise ValueError("power must hold finite values > 0 (a log-log fit needs them)")
    f = _check_freqs(freqs, len(p), "power")
    slope, _ = np.polyfit(np.log(f), np.log(p), 1)
    return float(slope)


# ---------------------------------------------------------------------------------------------
# Signal and noise at noise level alpha_bar, frequency by frequency.
# ---------------------------------------------------------------------------------------------


def signal_power(power_x0, alpha_bar: float) -> np.ndarray:
    """The signal's power in x_t = sqrt(ᾱ) x0 + sqrt(1 - ᾱ) eps at every frequency: ᾱ P_x0(k)."""
    return _check_alpha_bar(alpha_bar) * _check_power(power_x0)


def noise_power(alpha_bar: float, noise_variance: float = 1.0) -> float:
    """The noise's power in x_t at every frequency (flat: eps is white): (1 - ᾱ) s^2, s^2 = Var[eps]."""
    return (1.0 - _check_alpha_bar(alpha_bar)) * _check_noise_variance(noise_variance)


def _snr(power_x0: np.ndarray, alpha_bar: np.ndarray, noise_variance: float) -> np.ndarray:
    """SNR for checked inputs, one row per alpha_bar: ᾱ P / ((1 - ᾱ) s^2), inf with no noise, 0 with no signal."""
    signal = alpha_bar[:, None] * power_x0[None, :]
    noise = ((1.0 - alpha_bar) * noise_variance)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = signal / noise
    return np.where(signal > 0, snr, 0.0)  # signal > 0 with noise 0 is already inf


def snr_per_frequency(power_x0, alpha_bar: float, noise_variance: float = 1.0) -> np.ndarray:
    """SNR(k) = ᾱ P_x0(k) / ((1 - ᾱ) s^2): signal over noise power in each frequency of x_t.

    At ᾱ = 1 (no noise) it is inf where P_x0(k) > 0; where P_x0(k) = 0 there is nothing to see and it is 0,
    at every ᾱ.
    """
    p = _check_power(power_x0)
    a = _check_alpha_bar(alpha_bar)
    return _snr(p, np.array([a]), _check_noise_variance(noise_variance))[0]


def _crossovers(freqs: np.ndarray, power_x0: np.ndarray, alpha_bar: np.ndarray, noise_variance: float) -> np.ndarray:
    """``crossover_frequency`` for checked inputs and many ᾱ at once; NaN where it is None."""
    snr = _snr(power_x0, alpha_bar, noise_variance)
    above = snr >= 1.0
    n = above.shape[1]
    if n < 2:  # one frequency: nothing above it, so never a crossing
        return np.full(len(alpha_bar), np.nan)
    found = above.any(axis=1) & ~above[:, -1]
    # The last bin at or above 1; bin i + 1 is below, and so is every bin above it.
    i = np.minimum(n - 1 - np.argmax(above[:, ::-1], axis=1), n - 2)
    rows = np.arange(len(alpha_bar))
    lo, hi = snr[rows, i], snr[rows, i + 1]
    log_f = np.log(freqs)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.log(lo) / (np.log(lo) - np.log(hi))  # where log SNR reaches 0, in [0, 1)
        k = np.exp(log_f[i] + frac * (log_f[i + 1] - log_f[i]))
    k = np.where(np.isinf(lo), freqs[i + 1], k)  # no noise (ᾱ = 1) beside a bin without signal
    k = np.where(hi == 0.0, freqs[i], k)  # no signal at all in bin i + 1: the signal ends at k_i
    return np.where(found, k, np.nan)


def crossover_frequency(freqs, power_x0, alpha_bar: float, noise_variance: float = 1.0) -> float | None:
    """The frequency k* where SNR(k) falls through 1 for the last time, counting up from low k: every
    frequency above k* is below the noise (SNR < 1). A spectrum with bumps can also dip below 1 at some k
    under k*; k* is where, from there up, the noise has won everywhere.

    Between the two bins on either side (SNR(k_i) >= 1 > SNR(k_i+1)) log SNR is interpolated linearly in
    log k, so a power law P = c k^-beta gives exactly k* = (c ᾱ / ((1 - ᾱ) s^2))^(1 / beta).

    None when there is no such crossing, at either end: SNR < 1 at every frequency (the noise has won
    everywhere, the low end included), or SNR >= 1 still at the highest frequency (nothing above it to lose;
    for a spectrum lowest at its top frequency that means SNR >= 1 everywhere). As ᾱ falls, k* only moves
    down: it is the top of the set {k : SNR(k) >= 1} of the interpolated curve, which shrinks.
    """
    p = _check_power(power_x0)
    f = _check_freqs(freqs, len(p))
    a = _check_alpha_bar(alpha_bar)
    k = _crossovers(f, p, np.array([a]), _check_noise_variance(noise_variance))[0]
    return None if math.isnan(k) else float(k)


def crossover_over_t(freqs, power_x0, alphas_cumprod, noise_variance: float = 1.0) -> np.ndarray:
    """``crossover_frequency`` at every ᾱ_t of a schedule: float64 array as long as `alphas_cumprod`, NaN where
    it is None. With ᾱ_t falling in t, NaNs at the start mean "nothing erased yet" (SNR >= 1 at the top
    frequency) and NaNs at the end "everything erased" (SNR < 1 everywhere)."""
    abar = np.asarray(alphas_cumprod, dtype=np.float64)
    if abar.ndim != 1:
        raise ValueError(f"alphas_cumprod must be a 1D array, got shape {abar.shape}")
    if not ((abar >= ALPHA_BAR_RANGE[0]) & (abar <= ALPHA_BAR_RANGE[1])).all():  # NaN fails too
        raise ValueError("alphas_cumprod must hold values in [0, 1]")
    p = _check_power(power_x0)
    f = _check_freqs(freqs, len(p))
    return _crossovers(f, p, abar, _check_noise_variance(noise_variance))


# ---------------------------------------------------------------------------------------------
# What the page says. Fields are filled from the computation (``page_text``); literal LaTeX braces are doubled.
# ---------------------------------------------------------------------------------------------

MODERATE_TEXT = (
    "Look at the noisy image one frequency k at a time (k in cycles across the image). The noise ε is white: "
    "on average it adds the same power, $1-\\bar\\alpha_t$, at every frequency, while the image keeps "
    "$\\bar\\alpha_t P(k)$ of its own power $P(k)$. Per frequency, the signal-to-noise ratio is "
    "$\\mathrm{{SNR}}(k) = \\bar\\alpha_t P(k) / (1-\\bar\\alpha_t)$. Natural photographs have power falling "
    "roughly as $1/k^2$; this image's falls too: a straight line through its spectrum on log–log axes has "
    "slope {slope:.1f}, that is $P(k) \\approx c\\,k^{{{slope:.1f}}}$. So as t grows, the noise overtakes the "
    "fine detail (large k) while the coarse shapes (small k) still stand above it: the crossover frequency "
    "$k^*$, above which every frequency has $\\mathrm{{SNR}} < 1$, moves down as t grows."
)

HARD_TEXT = (
    "With $P(k) = |\\mathcal F(x_0 - \\bar x_0)|^2 / N^2$ averaged over the annulus of radius k, the mean "
    "over all $N^2$ frequency bins is $\\operatorname{{Var}}[x_0]$ (Parseval), and white noise of unit "
    "variance has expected power 1 in every bin. The Fourier transform is linear, so in "
    "$x_t = \\sqrt{{\\bar\\alpha_t}}\\,x_0 + \\sqrt{{1-\\bar\\alpha_t}}\\,\\epsilon$ each frequency holds "
    "signal power $\\bar\\alpha_t P(k)$ and expected noise power $1-\\bar\\alpha_t$: "
    "$\\mathrm{{SNR}}(k) = \\frac{{\\bar\\alpha_t}}{{1-\\bar\\alpha_t}}\\,P(k) = \\mathrm{{SNR}}_t\\,P(k)$. "
    "The least-squares slope of $\\log P$ against $\\log k$ is {slope:.2f} for this image (about −2 for "
    "natural photographs). For an exact power law $P(k) = c\\,k^{{-\\beta}}$ the crossover "
    "$\\mathrm{{SNR}}(k^*) = 1$ sits at $k^* = (c\\,\\mathrm{{SNR}}_t)^{{1/\\beta}}$: each factor of 10 by which "
    "$\\mathrm{{SNR}}_t$ falls divides $k^*$ by $10^{{1/\\beta}}$, so the steeper the spectrum, the smaller "
    "the move. The image's spectrum is a power law only roughly, so the page interpolates between measured "
    "bins instead. A flow-matching time shift $s > 1$, $\\sigma' = s\\sigma / (1 + (s-1)\\sigma)$, raises "
    "the noise level of every step but the last, so $k^*$ reaches low frequencies at an earlier step."
)

TEXTS = {"Moderate": MODERATE_TEXT, "Hard": HARD_TEXT}


def page_text(level: str, freqs, power) -> str:
    """The page's text at `level` ("Moderate" or "Hard") with the image's measured slope filled in."""
    if level not in TEXTS:
        raise ValueError(f"level must be one of {', '.join(TEXTS)}; got {level!r}")
    return TEXTS[level].format(slope=spectral_slope(freqs, power))
