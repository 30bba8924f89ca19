"""Procedural 2D datasets whose density is known exactly, so generated samples can be scored honestly.

Four datasets, each standardised so that every coordinate has mean 0 and variance exactly 1
(the premise of a variance-preserving schedule, REFERENCE.md section 1):

* ``ring8``        8 Gaussians on a circle (the classic GAN / diffusion mode-collapse test).
* ``moons``        two interleaved half circles (the shape of scikit-learn's ``make_moons``).
* ``swiss_roll``   a 2D spiral (the shape of scikit-learn's ``make_swiss_roll``, seen from above).
* ``checkerboard`` 8 uniform squares of a 4 x 4 board, blurred by a small Gaussian.

The first three are mixtures of small isotropic Gaussians: ``ring8`` has one per mode, ``moons`` and
``swiss_roll`` have hundreds placed evenly along the curve, so their log-density is an exact
log-sum-exp. The checkerboard is a uniform density on squares convolved with N(0, sigma^2 I); the
convolution of a uniform interval with a Gaussian is a difference of two normal CDFs, so its density
is an exact sum of products of CDF differences.

Measured on 200,000 samples drawn with seed 0 (``MEASURED_VARIANCE``; tests/test_data2d.py checks it),
the per-coordinate variances are ring8 (1.0010, 0.9994), moons (1.0012, 0.9961),
swiss_roll (0.9993, 0.9985), checkerboard (0.9969, 1.0010): the exact value 1 up to sampling error.

Every dataset is split into 8 regions of equal true probability ("modes"), so that mode coverage means
the same thing everywhere. See ``quality_score`` for the numbers used to judge samples.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from explainers.checks import check_int

DATASETS = ("ring8", "moons", "swiss_roll", "checkerboard")

N_MODES = 8  # every dataset is split into 8 regions of equal true mass
ON_DATA_RADIUS = 3.0  # a point belongs to a mode when it lies within 3 sigma of the mode's support
MIN_SHARE = 0.2  # a mode is covered when it gets at least 20% of its fair share 1/N_MODES of the samples
REFERENCE_SEED = 2024  # fresh true samples for the energy distance: fixed, so scores are reproducible
REFERENCE_SIZE = 2000
# The data's own mean log-density, -H(p), estimated on this many fresh samples (standard error about
# 0.007 nats): the value a perfect sampler reaches, and the zero of the log-density gap.
ENTROPY_SIZE = 20_000
ENTROPY_SEED = 7
# Samples count as under-dispersed when their median distance to the nearest component centre is below
# this share of the data's: n = 2,000 true samples stay within about 3% of 1.
UNDER_DISPERSED = 0.9
# Per-coordinate variance of 200,000 samples drawn with torch.Generator().manual_seed(0).
MEASURED_VARIANCE = {"ring8": (1.0010, 0.9994), "moons": (1.0012, 0.9961),
                     "swiss_roll": (0.9993, 0.9985), "checkerboard": (0.9969, 1.0010)}
_CHUNK = 4096  # rows per block when building (n, K) distance matrices, to bound memory



class GaussianMixture2D:
    """p(x) = (1/K) sum_k N(x; mu_k, sigma^2 I), with the K centres grouped into N_MODES equal modes.

    ``means`` is (K, 2) float64 with K a multiple of N_MODES; centres k*K/M .. (k+1)*K/M - 1 form mode k.
    """

    def __init__(self, name: str, means: np.ndarray, sigma: float, description: str):
        if len(means) % N_MODES:
            raise ValueError(f"the number of centres must be a multiple of {N_MODES}, got {len(means)}")
        self.name = name
        self.description = description
        self.sigma = float(sigma)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        groups = self.means.reshape(N_MODES, -1, 2)
        self.modes = [{"name": f"{name} region {k}", "center": groups[k].mean(0).tolist()} for k in range(N_MODES)]
        # Mixture moments: Var = Var(centres) + sigma^2, exact for equal weights.
        self.mean = self.means.mean(0).tolist()
        self.variance = (self.means.var(0, unbiased=False) + self.sigma**2).tolist()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points: pick a centre uniformly, then add N(0, sigma^2 I). Returns (n, 2) float32."""
        _check_n(n)
        k = torch.randint(len(self.means), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.sigma * noise).float()

    def log_prob(self, x) -> torch.Tensor:
        """log p(x) = logsumexp_k(-|x - mu_k|^2 / (2 sigma^2)) - log K - log(2 pi sigma^2)."""
        x = _as_points(x)
        out = torch.empty(len(x), dtype=torch.float64)
        norm = math.log(len(self.means)) + math.log(2 * math.pi * self.sigma**2)
        for start in range(0, len(x), _CHUNK):
            sq = torch.cdist(x[start:start + _CHUNK], self.means) ** 2
            out[start:start + _CHUNK] = torch.logsumexp(-sq / (2 * self.sigma**2), dim=1) - norm
        return out

    def distance_to_modes(self, x) -> torch.Tensor:
        """(n, N_MODES): distance from each point to the nearest centre of each mode."""
        x = _as_points(x)
        out = torch.empty(len(x), N_MODES, dtype=torch.float64)
        for start in range(0, len(x), _CHUNK):
            d = torch.cdist(x[start:start + _CHUNK], self.means)
            out[start:start + _CHUNK] = d.reshape(len(d), N_MODES, -1).amin(dim=2)
        return out


class Checkerboard2D:
    """Uniform on the 8 dark squares of a 4 x 4 board of side `cell`, convolved with N(0, sigma^2 I).

    Convolving the uniform density on [lo, hi] with N(0, sigma^2) gives, per coordinate,
    (Phi((hi - x) / sigma) - Phi((lo - x) / sigma)) / (hi - lo); the 2D density of one square is the
    product over the two coordinates, and the board is the equal-weight mixture of its 8 squares.
    """

    def __init__(self, name: str, cell: float, sigma: float, description: str):
        self.name = name
        self.description = description
        self.cell = cell = float(cell)
        self.sigma = sigma = float(sigma)
        # Dark squares: (row + column) even on a 4 x 4 board centred on the origin.
        lows = [(i * cell - 2 * cell, j * cell - 2 * cell) for i in range(4) for j in range(4) if (i + j) % 2 == 0]
        self.lows = torch.tensor(lows, dtype=torch.float64)  # (8, 2) lower-left corners
        self.modes = [{"name": f"square {k}", "center": (self.lows[k] + cell / 2).tolist()} for k in range(N_MODES)]
        # Each column of the board holds two dark squares, so each coordinate is uniform on
        # [-2 cell, 2 cell] (variance (4 cell)^2 / 12) before the blur adds sigma^2.
        self.mean = [0.0, 0.0]
        self.variance = [float((4 * cell) ** 2 / 12 + sigma**2)] * 2

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points: pick a dark square uniformly, a uniform point in it, then add N(0, sigma^2 I)."""
        _check_n(n)
        k = torch.randint(len(self.lows), (n,), generator=generator)
        inside = torch.rand(n, 2, generator=generator, dtype=torch.float64) * self.cell
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.lows[k] + inside + self.sigma * noise).float()

    def log_prob(self, x) -> torch.Tensor:
        """log p(x) = logsumexp_squares(sum_d log(Phi(b_d) - Phi(a_d))) - log 8 - 2 log cell."""
        x = _as_points(x)
        a = (self.lows[None] - x[:, None]) / self.sigma  # (n, 8, 2): lower edge, standardised
        b = a + self.cell / self.sigma
        per_square = _log_normal_cdf_difference(a, b).sum(dim=2)
        return torch.logsumexp(per_square, dim=1) - math.log(len(self.lows)) - 2 * math.log(self.cell)

    def distance_to_modes(self, x) -> torch.Tensor:
        """(n, N_MODES): Euclidean distance from each point to each dark square (0 inside it)."""
        x = _as_points(x)
        centre = self.lows + self.cell / 2
        outside = ((x[:, None] - centre[None]).abs() - self.cell / 2).clamp(min=0)
        return outside.norm(dim=2)


def _log_normal_cdf_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for a < b, accurate far in either tail.

    By symmetry Phi(b) - Phi(a) = Phi(-a) - Phi(-b); using the side where the interval lies below 0
    keeps both CDFs small, where log_ndtr is accurate, instead of subtracting two numbers near 1.
    """
    flip = (a + b) > 0
    hi = torch.where(flip, -a, b)
    lo = torch.where(flip, -b, a)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log1p(-torch.exp(log_lo - log_hi))


def _check_n(n) -> None:
    check_int("n", n, 1, 10_000_000)


def _as_points(x) -> torch.Tensor:
    x = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {tuple(x.shape)}")
    return x


def _standardise(points: np.ndarray, sigma: float) -> np.ndarray:
    """Shift and scale the centres per coordinate so the mixture has mean 0 and Var = 1 exactly
    (Var of the mixture = Var of the centres + sigma^2)."""
    centred = points - points.mean(0)
    return centred * np.sqrt(1 - sigma**2) / centred.std(0)


def _ring8() -> GaussianMixture2D:
    sigma = 0.1
    angle = 2 * np.pi * np.arange(8) / 8
    # For 8 equally spaced angles mean(cos^2) = 1/2, so Var = radius^2 / 2 + sigma^2 = 1.
    radius = np.sqrt(2 * (1 - sigma**2))
    means = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    return GaussianMixture2D("ring8", means, sigma, "8 Gaussians (std 0.1) on a circle of radius 1.407")


def _moons(per_moon: int = 200) -> GaussianMixture2D:
    sigma = 0.1
    theta = np.linspace(0, np.pi, per_moon)
    upper = np.stack([np.cos(theta), np.sin(theta)], 1)
    lower = np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], 1)
    means = _standardise(np.concatenate([upper, lower]), sigma)
    return GaussianMixture2D("moons", means, sigma, f"two half circles, each {per_moon} Gaussians of std 0.1")


def _swiss_roll(n_centres: int = 480) -> GaussianMixture2D:
    sigma = 0.1
    # Centres evenly spaced in arc length along r = theta, theta in [1.5 pi, 4.5 pi]
    # (arc length element sqrt(r^2 + r'^2) dtheta = sqrt(theta^2 + 1) dtheta), so the density
    # along the curve is even rather than crowded at the centre.
    fine = np.linspace(1.5 * np.pi, 4.5 * np.pi, 20001)
    arc = np.concatenate([[0], np.cumsum(np.sqrt(fine[1:] ** 2 + 1) * np.diff(fine))])
    theta = np.interp(np.linspace(0, arc[-1], n_centres), arc, fine)
    means = _standardise(np.stack([theta * np.cos(theta), theta * np.sin(theta)], 1), sigma)
    return GaussianMixture2D("swiss_roll", means, sigma, f"a spiral of {n_centres} Gaussians of std 0.1")


def _checkerboard() -> Checkerboard2D:
    sigma = 0.05
    cell = np.sqrt(12 * (1 - sigma**2)) / 4  # (4 cell)^2 / 12 + sigma^2 = 1
    return Checkerboard2D("checkerboard", cell, sigma, f"8 uniform squares of side {cell:.3f}, blurred by std 0.05")


_BUILDERS = {"ring8": _ring8, "moons": _moons, "swiss_roll": _swiss_roll, "checkerboard": _checkerboard}


@lru_cache(maxsize=None)
def get_dataset(name: str):
    """The dataset called `name` (one of DATASETS). One shared instance per name; never mutated.

    Every dataset has ``sample(n, generator)``, ``log_prob(x)``, ``distance_to_modes(x)``, ``modes``
    (8 dicts with "name" and "center"), ``sigma``, and its exact ``mean`` and ``variance`` per
    coordinate ([0, 0] and [1, 1]; the measured values are in MEASURED_VARIANCE).
    """
    if name not in _BUILDERS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    return _BUILDERS[name]()


def _resolve(dataset):
    return get_dataset(dataset) if isinstance(dataset, str) else dataset


def assign_modes(x, dataset) -> torch.Tensor:
    """The mode index (0..7) of each point, or -1 when it lies farther than 3 sigma from every mode."""
    data = _resolve(dataset)
    dist = data.distance_to_modes(x)
    nearest, index = dist.min(dim=1)
    return torch.where(nearest <= ON_DATA_RADIUS * data.sigma, index, torch.full_like(index, -1))


def mode_coverage(modes, n_samples: int, min_share: float = MIN_SHARE) -> float:
    """The fraction of the N_MODES modes that are covered: mode k is covered when at least `min_share`
    of its fair share n_samples / N_MODES of the samples lie on it (true data gives each mode about that).

    `modes`: each sample's mode index (0 .. N_MODES - 1), or -1 for a sample on no mode (``assign_modes``).
    The share keeps a handful of stray points from counting as a covered mode.
    """
    modes = torch.as_tensor(modes)
    counts = torch.bincount(modes[modes >= 0], minlength=N_MODES)
    return float((counts >= min_share * n_samples / N_MODES).double().mean())


@lru_cache(maxsize=None)
def _reference(name: str) -> tuple[torch.Tensor, float]:
    """Fresh true samples (fixed seed) and their mean pairwise distance E|Y - Y'|, computed once."""
    g = torch.Generator().manual_seed(REFERENCE_SEED)
    ref = get_dataset(name).sample(REFERENCE_SIZE, g).double()
    return ref, float(torch.cdist(ref, ref).mean())


def energy_distance(samples, dataset) -> float:
    """Energy distance (Szekely & Rizzo 2013) to 2,000 fresh true samples drawn with a fixed seed:

        D = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,

    estimated with all pairs (a V-statistic, so always >= 0). It is 0 only when the distributions are
    equal; 2,000 true samples score about 0.001 to 0.004 (the estimate's own noise).
    """
    data = _resolve(dataset)
    # float32 distances and means (torch sums float32 pairwise, not one running total): half the time of
    # float64 on every rerun, and the same score to 1e-6 (docs/PERFORMANCE.md).
    x = _as_points(samples).float()
    ref, ref_self = _reference(data.name)
    ref = ref.float()
    return float(2 * torch.cdist(x, ref).mean()) - float(torch.cdist(x, x).mean()) - ref_self


def centres(dataset) -> torch.Tensor:
    """(K, 2): the centres the data is spread around: each Gaussian's mean, or each square's centre."""
    data = _resolve(dataset)
    return data.means if hasattr(data, "means") else data.lows + data.cell / 2


def median_spread(x, dataset) -> float:
    """Median distance from each point to the nearest centre (``centres``): how tightly samples sit
    around the data's components. The median ignores a few stragglers far from every mode."""
    x = _as_points(x)
    c = centres(dataset)
    nearest = torch.cat([torch.cdist(x[i:i + _CHUNK], c).amin(dim=1) for i in range(0, len(x), _CHUNK)])
    return float(nearest.median())


@lru_cache(maxsize=None)
def data_reference(name: str) -> dict:
    """The data's own values, from ENTROPY_SIZE fresh samples with a fixed seed: its mean log-density
    (-H, the entropy of the data with its sign flipped) and its median spread."""
    data = get_dataset(name)
    x = data.sample(ENTROPY_SIZE, torch.Generator().manual_seed(ENTROPY_SEED))
    return {"mean_log_density": float(data.log_prob(x).mean()), "median_spread": median_spread(x, data)}


def quality_score(samples, dataset) -> dict:
    """Honest numbers for generated samples, using the known density of `dataset`.

    * ``log_density_gap`` (the lead number): |mean log p_data(samples) - the data's own mean log p|.
      The data itself scores 0 (up to sampling noise: about 0.02 for 2,000 true samples), and nothing
      scores below it. A *higher* mean log-density is not better: samples squeezed onto the modes
      (too little spread) sit where the density is highest and score above the data itself.
    * ``mean_log_density`` and ``data_log_density``: the two numbers the gap compares.
    * ``spread_ratio``: the samples' ``median_spread`` over the data's (1 for the data); below
      UNDER_DISPERSED the samples are ``under_dispersed``: tighter around the modes than the data.
    * ``mode_coverage``: the fraction of the 8 modes that are covered (``mode_coverage``). Each sample
      is assigned to the mode whose support is nearest, if it is within 3 sigma of it; a mode is covered
      when it receives at least 20% of its fair share, i.e. at least 0.2 * n / 8 samples.
    * ``off_mode_fraction``: the fraction of samples farther than 3 sigma from every mode
      (at most about 0.01 for true samples).
    * ``energy_distance``: see ``energy_distance``; lower is better, but it hardly sees a wrong spread
      at the scale of one mode (samples shrunk onto the centres of moons still score about 0.003).

    `samples`: (n, 2) tensor or array; `dataset`: a name from DATASETS or a dataset object.
    Non-finite samples count as off-mode and make the density, the gap and the distance infinite.
    """
    data = _resolve(dataset)
    x = _as_points(samples)
    if len(x) == 0:
        raise ValueError("samples must hold at least one point, got shape (0, 2)")
    finite = torch.isfinite(x).all(dim=1)
    modes = assign_modes(x[finite], data)
    all_finite = bool(finite.all())
    ref = data_reference(data.name)
    mean_log_density = float(data.log_prob(x).mean()) if all_finite else -math.inf
    spread_ratio = median_spread(x[finite], data) / ref["median_spread"] if bool(finite.any()) else math.nan
    return {
        "log_density_gap": abs(mean_log_density - ref["mean_log_density"]),
        "mean_log_density": mean_log_density,
        "data_log_density": ref["mean_log_density"],
        "spread_ratio": spread_ratio,
        "under_dispersed": bool(spread_ratio < UNDER_DISPERSED),
        "mode_coverage": mode_coverage(modes, len(x)),
        "off_mode_fraction": float(1 - (modes >= 0).sum() / len(x)),
        "energy_distance": energy_distance(x, data) if all_finite else math.inf,
    }
