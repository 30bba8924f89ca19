"""explainers.oracle: the exact score and denoiser of the noised 2D datasets, each checked against a computation
that shares no code with it: an independent log-density (Gaussian log-pdfs; numerical quadrature for the squares)
and its finite differences, a Monte-Carlo posterior mean, the high-noise limit, and 80-digit arithmetic."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from explainers import oracle as O
from explainers.data2d import DATASETS, centres, get_dataset
from explainers.oracle import exact_denoiser, exact_log_density, exact_noise, exact_score

ABARS = (0.01, 0.3, 0.9, 0.999)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def noised_points(name: str, alpha_bar: float, n: int = 24, seed: int = 0) -> np.ndarray:
    """Typical points of p_t (forward-noised samples), plus the origin and two points far from the data."""
    g = torch.Generator().manual_seed(seed)
    x0 = get_dataset(name).sample(n, g).double().numpy()
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64).numpy()
    x = math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * eps
    return np.concatenate([x, [[0.0, 0.0], [4.0, -3.5], [-6.0, 0.2]]])


# ---- an independent log p_t ------------------------------------------------------------------------------------

def reference_log_density(name: str, x: np.ndarray, alpha_bar: float) -> np.ndarray:
    """log p_t(x) computed another way. Gaussian mixture: component k noised is N(a μ_k, (a² s² + b²) I) (scipy's
    log-pdf). Checkerboard: p_t(x) = (1/8) Σ_squares Π_axes (1/cell) ∫ N(x_d; a u, a² s² + b²) du over the square's
    side, by composite Gauss-Legendre quadrature (no normal CDF anywhere)."""
    data = get_dataset(name)
    a, b2 = math.sqrt(alpha_bar), 1 - alpha_bar
    v = a * a * data.sigma**2 + b2
    if hasattr(data, "means"):
        mu = data.means.numpy()
        per = np.stack([multivariate_normal(a * m, v * np.eye(2)).logpdf(x) for m in mu], axis=1)
        return logsumexp(per, axis=1) - math.log(len(mu))
    nodes, weights = np.polynomial.legendre.leggauss(20)
    panels = np.linspace(0.0, 1.0, 61)  # 60 panels of 20 nodes: the Gaussian is never narrower than 2 panels
    half = np.diff(panels) / 2
    s = (panels[:-1, None] + half[:, None] * (nodes[None] + 1)).ravel()  # nodes on [0, 1]
    ws = (half[:, None] * weights[None]).ravel()
    lows = data.lows.numpy()
    per_square = np.zeros((len(x), len(lows)))
    for axis in range(2):
        u = lows[None, :, axis, None] + data.cell * s  # (1, 8, nodes)
        z = (x[:, None, axis, None] - a * u) ** 2 / (2 * v)
        # (1/cell) ∫ N du = ∫_0^1 N(x; a (lo + cell s), v) ds
        per_square += logsumexp(-z, b=ws, axis=2) - 0.5 * math.log(2 * math.pi * v)
    return logsumexp(per_square, axis=1) - math.log(len(lows))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha_bar", ABARS)
def test_log_density_matches_an_independent_computation(name, alpha_bar):
    x = noised_points(name, alpha_bar)
    np.testing.assert_allclose(exact_log_density(name, x, alpha_bar), reference_log_density(name, x, alpha_bar),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
def test_at_alpha_bar_one_the_density_is_the_datasets_own(name):
    x = noised_points(name, 1.0)
    np.testing.assert_allclose(exact_log_density(name, x, 1.0), get_dataset(name).log_prob(x).numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha_bar", ABARS)
def test_score_is_the_gradient_of_the_log_density(name, alpha_bar):
    """Central differences of the independent log p_t. With step h = 1e-3 √v (v the variance of x_t around one
    core point, the scale on which log p_t bends), the truncation error is about 1e-7 / √v and the round-off
    1e-10 / √v, while the score itself is of order 1 / √v."""
    data = get_dataset(name)
    v = alpha_bar * data.sigma**2 + 1 - alpha_bar
    h = 1e-3 * math.sqrt(v)
    x = noised_points(name, alpha_bar)
    fd = np.stack([(reference_log_density(name, x + h * e, alpha_bar)
                    - reference_log_density(name, x - h * e, alpha_bar)) / (2 * h) for e in np.eye(2)], axis=1)
    score = exact_score(name, x, alpha_bar)
    assert np.all(np.abs(score - fd) <= 1e-5 * (1 / math.sqrt(v) + np.abs(fd))), np.abs(score - fd).max()


# ---- the denoiser against a Monte-Carlo posterior mean ---------------------------------------------------------

MC_SAMPLES = 200_000


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha_bar", (0.3, 0.9))
def test_denoiser_matches_a_monte_carlo_posterior_mean(name, alpha_bar):
    """E[x₀ | x_t = x] = ∫ x₀ p(x₀) N(x; a x₀, b² I) dx₀ / ∫ p(x₀) N(x; a x₀, b² I) dx₀, estimated with x₀ drawn
    from the dataset and self-normalised weights w_i ∝ N(x; a x₀_i, b² I). Its standard error per coordinate is
    sqrt(Σ w_i² (x₀_i - estimate)²) (weights summing to 1); we require agreement within 5 standard errors (with a
    fixed seed, so the test is deterministic) and an effective sample size 1 / Σ w_i² of at least 500, so the
    estimate and its error bar are trustworthy (the self-normalisation bias is then ~1/√500 of an error bar)."""
    data = get_dataset(name)
    a, b2 = math.sqrt(alpha_bar), 1 - alpha_bar
    x0 = data.sample(MC_SAMPLES, torch.Generator().manual_seed(1)).double().numpy()
    points = noised_points(name, alpha_bar, n=5, seed=2)[:5]
    exact = exact_denoiser(name, points, alpha_bar)
    for x, want in zip(points, exact):
        log_w = -((x - a * x0) ** 2).sum(1) / (2 * b2)
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        estimate = w @ x0
        standard_error = np.sqrt((w[:, None] ** 2 * (x0 - estimate) ** 2).sum(0))
        assert 1 / (w**2).sum() >= 500
        assert np.all(np.abs(estimate - want) <= 5 * standard_error + 1e-6), (x, estimate, want, standard_error)


# ---- limits and identities -------------------------------------------------------------------------------------

def data_covariance(name: str) -> np.ndarray:
    """Cov[x₀]: the spread of the cores plus, within a core, s² I (and cell²/12 I for a uniform square)."""
    data = get_dataset(name)
    spread = np.cov(centres(data).numpy().T, bias=True)
    within = data.sigma**2 + (data.cell**2 / 12 if hasattr(data, "cell") else 0.0)
    return spread + within * np.eye(2)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha_bar", (1e-4, 1e-8, 1e-12))
def test_at_high_noise_the_denoiser_is_the_data_mean_and_the_score_that_of_pure_noise(name, alpha_bar):
    """As ᾱ → 0, x_t ≈ ε: the score tends to -x (that of N(0, I)), ε̂ to x, and x̂₀ to E[x₀] = 0 (the datasets are
    centred). To first order in a = √ᾱ, x̂₀ is the linear regression of x₀ on x_t, a Cov[x₀] x (Var[x_t] = 1);
    the next term is of order a² times the data's third moments, hence the tolerance. This is where the
    checkerboard's intervals are narrowest (its Taylor-series branch)."""
    a = math.sqrt(alpha_bar)
    x = np.array([[0.5, -1.0], [2.0, 1.5], [-3.0, 0.2], [0.0, 0.0], [1.0, 1.0]])
    size = 1 + (x**2).sum(1, keepdims=True)
    denoised = exact_denoiser(name, x, alpha_bar)
    assert np.all(np.abs(denoised) <= 2 * a * size)  # the data mean, 0, to within O(a)
    assert np.all(np.abs(denoised / a - x @ data_covariance(name).T) <= 10 * a * size)
    assert np.all(np.abs(exact_score(name, x, alpha_bar) + x) <= 2 * a * size)
    assert np.all(np.abs(exact_noise(name, x, alpha_bar) - x) <= 2 * a * size)


@pytest.mark.parametrize("name", DATASETS)
def test_at_alpha_bar_one_the_denoiser_is_the_identity_and_no_noise_was_added(name):
    x = noised_points(name, 0.5)
    np.testing.assert_allclose(exact_denoiser(name, x, 1.0), x, rtol=1e-14, atol=1e-14)
    assert np.all(exact_noise(name, x, 1.0) == 0)


@FAST
@given(name=st.sampled_from(DATASETS), alpha_bar=st.floats(1e-3, 1.0),
       x=st.lists(st.tuples(st.floats(-8, 8), st.floats(-8, 8)), min_size=1, max_size=20))
def test_tweedie_links_score_denoiser_and_noise(name, alpha_bar, x):
    """x̂₀ = (x + (1-ᾱ) ∇ log p_t) / √ᾱ (Tweedie) and x_t = √ᾱ x̂₀ + √(1-ᾱ) ε̂: the three outputs are one."""
    x = np.array(x)
    score, denoised, noise = (f(name, x, alpha_bar) for f in (exact_score, exact_denoiser, exact_noise))
    scale = 1 + np.abs(x) + np.abs(score)
    assert np.all(np.abs(denoised - (x + (1 - alpha_bar) * score) / math.sqrt(alpha_bar)) <= 1e-10 * scale)
    assert np.all(np.abs(math.sqrt(alpha_bar) * denoised + math.sqrt(1 - alpha_bar) * noise - x) <= 1e-10 * scale)


@FAST
@given(name=st.sampled_from(DATASETS), log_alpha_bar=st.floats(-30, 0),
       x=st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), min_size=1, max_size=20))
def test_finite_everywhere_and_the_core_posterior_stays_on_the_cores(name, log_alpha_bar, x):
    """Far from the data and at any noise level every output is finite, and ū = E[u | x_t], a mean over the
    cores, lies in the box around them, however far x is (a check of the log-space, tail and series branches)."""
    alpha_bar = math.exp(log_alpha_bar)
    x = np.array(x)
    for f in (exact_score, exact_denoiser, exact_noise, exact_log_density):
        assert np.all(np.isfinite(f(name, x, alpha_bar)))
    data = get_dataset(name)
    _, u_bar, _ = O._posterior(data, torch.from_numpy(x), alpha_bar)
    core = centres(data)
    reach = data.cell / 2 if hasattr(data, "cell") else 0.0
    # ū is x minus a shift as large as x itself, so its rounding error grows with |x|: ~1e-16 relative to |x|.
    slack = 1e-9 * (1 + torch.from_numpy(np.abs(x)).max())
    assert torch.all(u_bar >= core.min(0).values - reach - slack)
    assert torch.all(u_bar <= core.max(0).values + reach + slack)


# ---- the truncated normal behind the checkerboard, against 80-digit arithmetic ---------------------------------

def reference_truncated_normal(c: float, w: float) -> tuple[float, float]:
    mp = pytest.importorskip("mpmath")
    with mp.workdps(80):
        sign = -1 if c > 0 else 1  # work on the lower side, where mpmath's ncdf keeps its digits
        c, w = mp.mpf(-abs(c)), mp.mpf(w)
        lo, hi = c - w / 2, c + w / 2
        mass = mp.ncdf(hi) - mp.ncdf(lo)
        mean = (mp.npdf(lo) - mp.npdf(hi)) / mass
        return float(mp.log(mass)), sign * float((mean - c) / w)


def test_truncated_normal_in_every_regime():
    # Widths on both sides of the Taylor-series switch, centres from the mode to a million sd into the tail.
    cs = [-1e6, -1e3, -40.0, -10.0, -3.0, -1.0, -0.3, 0.0, 0.5, 2.0, 8.0, 50.0]
    ws = [1e-12, 1e-6, 1e-3, 0.0099, 0.0101, 0.099, 0.101, 0.3, 1.0, 5.0, 17.0, 60.0]
    grid = [(c, w) for c in cs for w in ws]
    log_mass, offset = O._truncated_normal(torch.tensor([c for c, _ in grid], dtype=torch.float64),
                                           torch.tensor([w for _, w in grid], dtype=torch.float64))
    for (c, w), got_mass, got_offset in zip(grid, log_mass.tolist(), offset.tolist()):
        want_mass, want_offset = reference_truncated_normal(c, w)
        assert abs(got_mass - want_mass) <= 1e-14 * max(1.0, abs(want_mass)), (c, w, got_mass, want_mass)
        assert abs(got_offset - want_offset) <= 1e-11, (c, w, got_offset, want_offset)


# ---- kinds of input and output ---------------------------------------------------------------------------------

def test_numpy_and_lists_give_float64_numpy_and_tensors_stay_tensors():
    x = noised_points("ring8", 0.5)
    out = exact_score("ring8", x, 0.5)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == x.shape
    np.testing.assert_array_equal(exact_score("ring8", x.tolist(), 0.5), out)
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    got = exact_denoiser("ring8", t, 0.5)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and not got.requires_grad
    np.testing.assert_allclose(got.numpy(), exact_denoiser("ring8", t.detach().double().numpy(), 0.5), rtol=1e-6)
    assert exact_log_density("moons", torch.tensor(x), 0.5).dtype == torch.float64
    assert exact_score("checkerboard", np.zeros((0, 2)), 0.5).shape == (0, 2)
    # Schedules hand out numpy scalars; a 0-d tensor works too.
    s = exact_score("moons", x, np.float64(0.5))
    np.testing.assert_array_equal(exact_score("moons", x, torch.tensor(0.5, dtype=torch.float64)), s)


def test_a_dataset_object_and_big_inputs_in_chunks():
    x = np.random.default_rng(0).normal(size=(O._CHUNK + 37, 2))
    data = get_dataset("swiss_roll")
    whole = exact_score(data, x, 0.2)
    np.testing.assert_allclose(whole[-37:], exact_score("swiss_roll", x[-37:], 0.2), rtol=1e-12, atol=1e-12)


def test_a_non_finite_row_gives_a_nan_row_and_leaves_the_others():
    x = np.array([[0.3, 0.1], [np.nan, 0.0], [np.inf, 1.0], [-1.0, 2.0]])
    for name in DATASETS:
        out = exact_denoiser(name, x, 0.5)
        assert np.all(np.isnan(out[1:3])) and np.all(np.isfinite(out[[0, 3]]))
        np.testing.assert_allclose(out[[0, 3]], exact_denoiser(name, x[[0, 3]], 0.5), rtol=1e-13)


@pytest.mark.parametrize("dataset,x,alpha_bar,param", [
    ("nope", [[0.0, 0.0]], 0.5, "dataset"),
    (42, [[0.0, 0.0]], 0.5, "dataset"),
    ("ring8", [[0.0, 0.0]], 0.0, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], -0.1, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], 1.5, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], math.nan, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], math.inf, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], "0.5", "alpha_bar"),
    ("ring8", [[0.0, 0.0]], True, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], None, "alpha_bar"),
    ("ring8", [[0.0, 0.0]], np.array([0.5, 0.6]), "alpha_bar"),
    ("ring8", np.zeros((5, 3)), 0.5, "x"),
    ("ring8", np.zeros(5), 0.5, "x"),
    ("ring8", np.zeros((2, 5, 2)), 0.5, "x"),
    ("ring8", torch.zeros(4, 1), 0.5, "x"),
    ("ring8", [[1.0, "a"]], 0.5, "x"),
])
def test_invalid_arguments_name_the_parameter(dataset, x, alpha_bar, param):
    for f in (exact_score, exact_denoiser, exact_noise, exact_log_density):
        with pytest.raises(ValueError) as err:
            f(dataset, x, alpha_bar)
        assert str(err.value).startswith(f"{param} must "), str(err.value)


@pytest.mark.parametrize("name", DATASETS)
def test_the_exact_model_gives_the_exact_denoiser_through_the_samplers_own_formulas(name):
    """ExactModel speaks the models' language (v̂ from log-SNR): the sampler's x̂₀ and ε̂ recover the oracle's."""
    from explainers.oracle import ExactModel
    from explainers.sampling import predicted_eps, predicted_x0
    from explainers.schedules import log_snr_of

    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    model = ExactModel(name)
    for ab in (0.02, 0.5, 0.97):
        v_hat = model(x, torch.tensor([float(log_snr_of(np.array([ab]))[0])], dtype=torch.float64))
        torch.testing.assert_close(predicted_x0(x, v_hat, ab), exact_denoiser(name, x, ab), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(predicted_eps(x, v_hat, ab), exact_noise(name, x, ab), rtol=1e-9, atol=1e-9)
    v0 = model(x, torch.tensor([-math.inf], dtype=torch.float64))  # zero terminal SNR: x̂₀ = the data mean
    torch.testing.assert_close(predicted_x0(x, v0, 0.0), torch.tensor(get_dataset(name).mean).expand_as(x).double())


def test_sampling_with_the_exact_denoiser_reaches_the_data_with_many_steps():
    """With the right x̂₀ at every level, DDIM's only error is its step size: 200 steps land on the data."""
    from explainers import data2d
    from explainers.oracle import ExactModel
    from explainers.sampling import sample_ddim, step_alphas_cumprod
    from explainers.schedules import make_schedule

    abar = step_alphas_cumprod(make_schedule("cosine", T=1000).alphas_cumprod, 200)
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    score = data2d.quality_score(sample_ddim(ExactModel("ring8"), x, abar), "ring8")
    assert score["log_density_gap"] < 0.1 and score["mode_coverage"] == 1.0
