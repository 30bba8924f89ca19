"""The exact score and the exact denoiser of the 2D datasets: what a perfectly trained model would output.

Noising a dataset with x_t = √ᾱ x₀ + √(1-ᾱ) ε gives a density p_t we can write down exactly, because
every dataset in ``explainers.data2d`` is an equal-weight mixture of K components of one shape,

    x₀ = u + s z,    z ~ N(0, I),    u ~ the component's "core": a point μ_k (ring8, moons, swiss_roll)
                                     or uniform on a square (checkerboard),

with s the dataset's ``sigma``. Write a = √ᾱ, b = √(1-ᾱ). Then x_t = a u + √v n with v = a² s² + b²: given the
core point u, x_t is Gaussian (n ~ N(0, I)). Everything below follows from one posterior mean, ū(x) = E[u | x_t = x]:

    score       ∇ log p_t(x)  = (a ū(x) - x) / v
    denoiser    x̂₀(x) = E[x₀ | x_t = x] = (b² ū(x) + a s² x) / v
    noise       ε̂(x)  = E[ε | x_t = x]  = -b ∇ log p_t(x)

They agree with Tweedie's formula x̂₀ = (x + b² ∇ log p_t(x)) / a (Efron 2011; REFERENCE.md section 4), but x̂₀ is
computed from ū, not from Tweedie, which would divide by a → 0 at high noise.

For the Gaussian components ū = Σ_k r_k(x) μ_k with responsibilities r_k ∝ N(x; a μ_k, v I). For a square
[lo, hi] of side ``cell`` the noised density along each axis is (Φ(β) - Φ(α)) / (a·cell) with
α = (a·lo - x)/√v, β = (a·hi - x)/√v, and the posterior of u on the square is a truncated normal: its mean is
the square's centre plus an offset ``_truncated_normal`` computes without cancellation, both far from the
data (where Φ(α) and Φ(β) are both tiny) and at high noise (where the interval [α, β] is very narrow).

All maths runs in float64 on the CPU, in chunks of rows, with no Python loop over points: a few
milliseconds for a page's grid or 2,000 points (docs/PERFORMANCE.md).

Inputs and outputs: ``x`` is an (N, 2) numpy array (or anything numpy reads) or a torch tensor. A torch tensor
gives a torch tensor back, on its device and in its floating dtype (to compare with a model's output);
anything else gives a numpy float64 array (for plotting). The functions are not differentiable (inputs are
detached). ``alpha_bar`` is one number in (0, 1]; at ᾱ = 1 nothing is noised and x̂₀ is x itself. A row with a
non-finite coordinate gives a NaN row. Invalid arguments raise ValueError naming the parameter.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from explainers.data2d import DATASETS, Checkerboard2D, GaussianMixture2D, get_dataset

_CHUNK = 4096  # rows per block: swiss_roll's (rows, 480) matrices stay near 16 MB each
# Below this interval width (in units of max(1, |midpoint|)) the truncated normal is computed from its Taylor
# series: there Φ(β) - Φ(α) is a difference of nearly equal numbers (``_truncated_normal``).
_NARROW = 0.1
_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def exact_log_density(dataset, x, alpha_bar: float):
    """log p_t(x), the exact log-density of x_t = √ᾱ x₀ + √(1-ᾱ) ε with x₀ from `dataset`. Shape (N,).

    `dataset`: a name from data2d.DATASETS or a data2d dataset; at ᾱ = 1 this is the dataset's own ``log_prob``.
    """
    x64, back = _points(x)
    log_density, _, _ = _posterior(_dataset(dataset), x64, _check_alpha_bar(alpha_bar))
    return back(log_density)


def exact_score(dataset, x, alpha_bar: float):
    """The exact score ∇ₓ log p_t(x) = (√ᾱ ū(x) - x) / v, v = ᾱ s² + 1 - ᾱ (module docstring). Shape (N, 2).

    ū(x) = E[u | x_t = x] is the posterior mean of the component's core point. As ᾱ → 0 the score tends to -x,
    the score of N(0, I): pure noise.
    """
    x64, back = _points(x)
    ab = _check_alpha_bar(alpha_bar)
    _, u_bar, v = _posterior(_dataset(dataset), x64, ab)
    return back((math.sqrt(ab) * u_bar - x64) / v)


def exact_denoiser(dataset, x, alpha_bar: float):
    """The exact denoiser x̂₀(x) = E[x₀ | x_t = x] = ((1-ᾱ) ū(x) + √ᾱ s² x) / v. Shape (N, 2).

    Equal to Tweedie's (x + (1-ᾱ) ∇ log p_t(x)) / √ᾱ. The identity at ᾱ = 1; tends to the data mean as ᾱ → 0,
    where x_t holds no information about x₀. In the same units as the dataset's samples.
    """
    x64, back = _points(x)
    ab = _check_alpha_bar(alpha_bar)
    data = _dataset(dataset)
    _, u_bar, v = _posterior(data, x64, ab)
    # Given the core point u, (x₀, x_t) is jointly Gaussian and E[x₀ | x_t, u] = u + (a s² / v)(x_t - a u)
    # = (b² u + a s² x_t) / v, linear in u: averaging over the posterior of u puts ū in place of u.
    return back(((1.0 - ab) * u_bar + math.sqrt(ab) * data.sigma**2 * x64) / v)


def exact_noise(dataset, x, alpha_bar: float):
    """The exact noise prediction ε̂(x) = E[ε | x_t = x] = -√(1-ᾱ) ∇ log p_t(x). Shape (N, 2).

    What an ε-prediction network is trained towards; 0 at ᾱ = 1, where no noise was added.
    """
    x64, back = _points(x)
    ab = _check_alpha_bar(alpha_bar)
    _, u_bar, v = _posterior(_dataset(dataset), x64, ab)
    return back(-math.sqrt(1.0 - ab) * (math.sqrt(ab) * u_bar - x64) / v)


class ExactModel:
    """The exact denoiser in the shape of the app's 2D models: called as model(x, log_snr), it returns the
    v a perfect v-prediction network would give, v̂ = √ᾱ ε̂ - √(1-ᾱ) x̂₀ with ᾱ = sigmoid(log-SNR). So the
    samplers of explainers/sampling.py run it unchanged, and its samples show what the sampler alone does.
    At ᾱ = 0 (zero terminal SNR) x_t is pure noise: x̂₀ is the data mean and ε̂ = x."""

    def __init__(self, dataset):
        self.data = _dataset(dataset)

    def __call__(self, x: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
        ab = float(torch.sigmoid(log_snr.double().reshape(-1)[0]))
        if ab <= 0.0:
            return -torch.as_tensor(self.data.mean, dtype=x.dtype, device=x.device).expand_as(x)  # v̂ = √0·ε̂ - √1·x̂₀
        x0_hat = exact_denoiser(self.data, x, ab)
        eps_hat = (x - math.sqrt(ab) * x0_hat) / math.sqrt(1.0 - ab) if ab < 1.0 else torch.zeros_like(x)
        return math.sqrt(ab) * eps_hat - math.sqrt(1.0 - ab) * x0_hat


# ---------------------------------------------------------------------------------------------
# The posterior of the core point u, per dataset family
# ---------------------------------------------------------------------------------------------


def _posterior(data, x: torch.Tensor, alpha_bar: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """log p_t(x) (N,), ū(x) = E[u | x_t = x] (N, 2), and the per-axis variance v = a² s² + b² of x_t given u."""
    a, b2 = math.sqrt(alpha_bar), 1.0 - alpha_bar  # b² straight from ᾱ: no round trip through a square root
    v = a * a * data.sigma**2 + b2
    per_component = _gaussian_cores if isinstance(data, GaussianMixture2D) else _square_cores
    log_density = torch.empty(len(x), dtype=torch.float64)
    u_bar = torch.empty(len(x), 2, dtype=torch.float64)
    for start in range(0, len(x), _CHUNK):
        rows = slice(start, start + _CHUNK)
        log_density[rows], u_bar[rows] = per_component(data, x[rows], a, v)
    return log_density, u_bar, v


def _gaussian_cores(data: GaussianMixture2D, x: torch.Tensor, a: float, v: float):
    """Cores are points μ_k: p_t(x) = (1/K) Σ_k N(x; a μ_k, v I), r_k ∝ N(x; a μ_k, v I), ū = Σ_k r_k μ_k."""
    mu = data.means
    # -|x - a μ_k|² / (2v) with the -|x|² / (2v) that all k share taken out (responsibilities ignore it): one
    # matrix product instead of an (N, K, 2) array of differences. (N, K) is the one big array here, so the
    # softmax works in place on it.
    logits = torch.addmm((-0.5 * a * a / v) * (mu * mu).sum(1), x, mu.T, alpha=a / v)
    top = logits.max(dim=1, keepdim=True).values
    weights = logits.sub_(top).exp_()  # r_k times a factor common to the row
    total = weights.sum(dim=1, keepdim=True)
    u_bar = (weights @ mu) / total
    log_density = (top[:, 0] + torch.log(total[:, 0]) - (x * x).sum(1) / (2 * v)
                   - math.log(len(mu)) - math.log(2 * math.pi * v))
    return log_density, u_bar


def _square_cores(data: Checkerboard2D, x: torch.Tensor, a: float, v: float):
    """Cores are uniform on squares: per axis the noised density is (Φ(β) - Φ(α)) / (a·cell), the posterior
    of u on square k a truncated normal whose mean is the centre plus cell × offset."""
    sd, cell = math.sqrt(v), data.cell
    centres = data.lows + cell / 2  # (8, 2)
    log_mass = torch.empty(len(x), len(centres), 2, dtype=torch.float64)
    u_given_square = torch.empty_like(log_mass)
    for axis in range(2):
        # The 8 squares share 4 columns (and 4 rows): each axis needs its distinct intervals only.
        edges, column = torch.unique(centres[:, axis], return_inverse=True)
        # In units of sd, u's posterior on the interval is N(0, 1) restricted to [c - w/2, c + w/2], shifted:
        # c = (a·centre - x) / sd is where the interval's centre lands, w = a·cell / sd its width there.
        c = (a * edges[None] - x[:, axis, None]) / sd
        mass, offset = _truncated_normal(c, torch.full_like(c, a * cell / sd))
        log_mass[:, :, axis] = mass[:, column]
        u_given_square[:, :, axis] = (edges + cell * offset)[:, column]
    per_square = log_mass.sum(2)  # the two axes are independent given the square
    log_sum = torch.logsumexp(per_square, dim=1)
    r = torch.exp(per_square - log_sum[:, None])
    log_density = log_sum - math.log(len(centres)) - 2 * math.log(a * cell)
    return log_density, (r[:, :, None] * u_given_square).sum(1)


def _truncated_normal(c: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Z ~ N(0, 1) restricted to [c - w/2, c + w/2]: log of its mass log(Φ(β) - Φ(α)), and the offset of its
    mean from the midpoint in units of the width, (E[Z] - c) / w, in (-1/2, 1/2).

    Elementwise, float64; both agree with 80-digit arithmetic to about 1e-12 for any c (tried up to |c| = 1e6)
    and w (1e-12 to 60). Three regimes, because the textbook E[Z] = (φ(α) - φ(β)) / (Φ(β) - Φ(α)) cancels in two:
    * around the mode of N(0, 1): the textbook formula, with 1 - e^q written -expm1(q);
    * far in a tail (far from the data): the mean measured from the interval's inner end, with the Mills ratio
      (``_mills_excess``) and Φ(z) = erfcx(-z/√2) e^(-z²/2) / 2, which keeps the huge e^(-z²/2) out of the ratios;
    * narrow intervals (w·max(1, |c|) < _NARROW, high noise, where Φ(β) - Φ(α) cancels): a Taylor series in w.
    """
    # Reflect onto c <= 0: Φ(β) - Φ(α) = Φ(-α) - Φ(-β) and the mean changes sign. The interval then lies mostly
    # in the lower tail, where Φ is small and known to full relative precision.
    flip = c > 0
    c = torch.where(flip, -c, c)
    lo, hi = c - w / 2, c + w / 2

    # -- wide, log mass: Φ(hi) - Φ(lo) = Φ(hi) (1 - ρ), ρ = Φ(lo) / Φ(hi). Φ(z) = erfcx(-z/√2) e^(-z²/2) / 2 for
    # z <= 0 (and lo <= 0 after the reflection) keeps the huge e^(-z²/2) of the far tails out of every ratio.
    log_cdf_hi = torch.special.log_ndtr(hi)
    erfcx_lo = torch.special.erfcx(-lo / _SQRT2)
    erfcx_hi = torch.special.erfcx(-hi.clamp(max=0.0) / _SQRT2)  # only read where hi < 0, where it is safe
    tail = hi < 0
    # In the lower tail log ρ = w c + log erfcx(-lo/√2) - log erfcx(-hi/√2): the two -z²/2 terms cancel exactly,
    # as w c = (hi² - lo²) / 2. Elsewhere Φ(hi) >= 1/2 and log_ndtr(hi) is accurate as it stands.
    log_rho = torch.where(tail, w * c + torch.log(erfcx_lo / erfcx_hi),
                          torch.log(erfcx_lo / 2) - 0.5 * lo * lo - log_cdf_hi)
    log_mass_wide = log_cdf_hi + torch.log(-torch.expm1(log_rho))

    # -- wide, mean. Around the mode (hi >= 0, so |c| <= w/2) the textbook E[Z] = (φ(lo) - φ(hi)) / (Φ(hi) - Φ(lo))
    # is accurate: E[Z] = -(φ(hi)/Φ(hi)) (1 - φ(lo)/φ(hi)) / (1 - ρ), and φ(lo)/φ(hi) = e^(w c).
    mills_hi = torch.exp(-0.5 * hi * hi - _LOG_SQRT_2PI - log_cdf_hi)
    offset_mode = (mills_hi * torch.expm1(w * c) / -torch.expm1(log_rho) - c) / w
    # In the tail the mean sits within about 1/|hi| of hi, so E[Z] - c would be a small difference of two large
    # numbers. Measure it from the end instead: with S = -Z on [k, k + w], k = -hi > 0, and the Mills excess
    # ψ(k) = E[S | S > k] - k (about 1/k), cutting off S > k + w gives
    #     E[S] - k = ψ(k) + (ψ(k) - ψ(k + w) - w) ρ / (1 - ρ),
    # every term of which is small or known to full relative precision.
    k = -hi.clamp(max=0.0)
    psi_k = _mills_excess(k, erfcx_hi)
    psi_kw = _mills_excess(k + w, erfcx_lo)  # k + w = -lo in the tail
    excess = psi_k + (psi_k - psi_kw - w) / torch.expm1(-log_rho)  # ρ / (1 - ρ) = 1 / (1/ρ - 1)
    offset_tail = 0.5 - excess / w
    offset_wide = torch.where(tail, offset_tail, offset_mode)

    # -- narrow: with Z = c + t, t in [-w/2, w/2], the density is φ(c) e^(-c t - t²/2) = φ(c) Σ_n He_n(-c) t^n / n!
    # (Hermite polynomials); integrating term by term,
    #   mass   = w φ(c) (1 + He₂(c) w²/24 + He₄(c) w⁴/1920 + He₆(c) w⁶/322560 + ...)
    #   offset = -c w/12 + (c³ + 2c) w³/720 - (c⁵ + 4c³ + c) w⁵/30240 + ...
    # To first order the posterior is uniform, tilted towards the side nearer the mode of N(0, 1). Below
    # _NARROW the terms left out are below 1e-13; above it the wide formulas lose less than 1e-12.
    c2, w2 = c * c, w * w
    he2, he4, he6 = c2 - 1, (c2 - 6) * c2 + 3, ((c2 - 15) * c2 + 45) * c2 - 15
    log_mass_narrow = (torch.log(w) - 0.5 * c2 - _LOG_SQRT_2PI
                       + torch.log1p(w2 * (he2 / 24 + w2 * (he4 / 1920 + w2 * he6 / 322560))))
    offset_narrow = -c * w * (1 / 12 - w2 * ((c2 + 2) / 720 - w2 * ((c2 + 4) * c2 + 1) / 30240))

    narrow = w * torch.clamp(c.abs(), min=1.0) < _NARROW
    log_mass = torch.where(narrow, log_mass_narrow, log_mass_wide)
    offset = torch.where(narrow, offset_narrow, offset_wide).clamp(-0.5, 0.5)
    return log_mass, torch.where(flip, -offset, offset)


def _mills_excess(k: torch.Tensor, erfcx_k: torch.Tensor) -> torch.Tensor:
    """ψ(k) = E[S | S > k] - k = φ(k) / (1 - Φ(k)) - k for S ~ N(0, 1), k >= 0: how far past a cut-off in the
    upper tail the tail's mean lies; about 1/k for large k. `erfcx_k` is erfcx(k/√2), which the caller has.

    φ(k) / (1 - Φ(k)) = √(2/π) / erfcx(k/√2); beyond k = 40 that is k to 15 digits and the difference would lose
    them, so there the asymptotic series ψ(k) = (1/k)(1 - 2/k² + 10/k⁴ - 74/k⁶ + 706/k⁸ - 8162/k¹⁰) takes over
    (its error is below 1e-14 relative there).
    """
    direct = math.sqrt(2.0 / math.pi) / erfcx_k - k
    big = k.clamp(min=40.0)
    u = 1.0 / (big * big)
    series = (1 - u * (2 - u * (10 - u * (74 - u * (706 - u * 8162))))) / big
    return torch.where(k < 40.0, direct, series)


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def _dataset(dataset):
    if isinstance(dataset, str):
        return get_dataset(dataset)  # its ValueError names `dataset` and the valid names
    if isinstance(dataset, (GaussianMixture2D, Checkerboard2D)):
        return dataset
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)} or a data2d dataset; got {dataset!r}")


def _check_alpha_bar(alpha_bar) -> float:
    """ᾱ as a float in (0, 1]. ᾱ = 0 (zero terminal SNR) is pure noise: x_t says nothing about x₀ and the
    score is that of N(0, I), but Tweedie's 1/√ᾱ and the checkerboard's 1/(a·cell) have no value there."""
    if getattr(alpha_bar, "ndim", None) == 0 and not isinstance(alpha_bar, (bool, np.bool_)):
        alpha_bar = alpha_bar.item()  # a 0-d array or tensor, e.g. schedule.alphas_cumprod[t]
    ok = isinstance(alpha_bar, (int, float, np.integer, np.floating)) and not isinstance(alpha_bar, bool)
    if not (ok and math.isfinite(alpha_bar) and 0 < alpha_bar <= 1):
        raise ValueError(f"alpha_bar must be a number in (0, 1], got {alpha_bar!r}")
    return float(alpha_bar)


def _points(x):
    """x as an (N, 2) float64 CPU tensor, and the function that turns a result back into x's kind."""
    if isinstance(x, torch.Tensor):
        out_dtype = x.dtype if x.is_floating_point() else torch.float64
        device = x.device
        x64 = x.detach().to("cpu", torch.float64)

        def back(result: torch.Tensor):
            return result.to(device, out_dtype)
    else:
        try:
            x64 = torch.from_numpy(np.array(x, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"x must be an (N, 2) array of numbers; {err}") from None

        def back(result: torch.Tensor):
            return result.numpy()
    if x64.ndim != 2 or x64.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2), got {tuple(x64.shape)}")
    return x64, back
