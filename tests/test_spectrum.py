"""explainers/spectrum.py: the power spectrum's normalisation, white noise, the crossover k*, and the claims
the page's text makes about the procedural image (MODERATE_TEXT, HARD_TEXT)."""

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from explainers import schedules as S
from explainers import spectrum as Sp
from explainers.image_data import procedural_image

MATH = settings(max_examples=60, deadline=None, derandomize=True)
SEED = st.integers(0, 2**31 - 1)
N_PAGE = procedural_image().shape[0]  # the image the schedule page noises


@pytest.fixture(scope="module")
def image_spectrum():
    return Sp.radial_power_spectrum(procedural_image())


def random_image(seed: int, n: int, offset: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return offset + scale * np.random.default_rng(seed).standard_normal((n, n))


# ---- the normalisation --------------------------------------------------------------------------


@MATH
@given(seed=SEED, n=st.integers(4, 40), offset=st.floats(-100, 100), scale=st.floats(1e-3, 1e3))
@example(seed=0, n=40, offset=100.0, scale=1e-3)  # a large mean over a small variance
def test_parseval_mean_power_per_bin_is_the_variance(seed, n, offset, scale):
    x = random_image(seed, n, offset, scale) ** 3  # skewed on purpose: nothing Gaussian is assumed
    p = Sp.power_spectrum_2d(x)
    assert p.shape == (n, n)
    assert p.sum() / n**2 == pytest.approx(x.var(), rel=1e-10)
    assert p[0, 0] <= n**2 * 1e-28 * (x**2).max()  # mean removed: only round-off is left at k = 0


@MATH
@given(seed=SEED, n=st.integers(4, 24))
def test_radial_average_against_a_loop_over_bins(seed, n):
    x = random_image(seed, n)
    p2 = Sp.power_spectrum_2d(x)
    sums, counts = np.zeros(n // 2 + 1), np.zeros(n // 2 + 1)
    for u in range(n):
        for v in range(n):
            ku, kv = (u if u <= n // 2 else u - n), (v if v <= n // 2 else v - n)  # cycles per image
            k = round(math.hypot(ku, kv))  # never a tie: the root of an integer is an integer or irrational
            if 1 <= k <= n // 2:
                sums[k] += p2[u, v]
                counts[k] += 1
    freqs, power = Sp.radial_power_spectrum(x)
    np.testing.assert_array_equal(freqs, np.arange(1, n // 2 + 1))
    np.testing.assert_array_equal(Sp.annulus_sizes(n), counts[1:])
    np.testing.assert_allclose(power, sums[1:] / counts[1:], rtol=1e-12)
    # Parseval on the annuli: they hold all the power but the corners' (radius above n // 2).
    assert (Sp.annulus_sizes(n) * power).sum() <= n**2 * x.var() * (1 + 1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("variance", [1.0, 0.25])
def test_white_noise_has_a_flat_spectrum_at_its_variance(seed, variance):
    n = 64
    freqs, power = Sp.radial_power_spectrum(random_image(seed, n, scale=math.sqrt(variance)))
    # Per bin, |FFT|^2 / N^2 of white noise is exponential with mean `variance`, and bins come in conjugate
    # pairs: an annulus of n_k bins averages about n_k / 2 independent ones, so its sd is variance / sqrt(n_k / 2).
    sd = variance / np.sqrt(Sp.annulus_sizes(n) / 2)
    assert np.all(np.abs(power - variance) < 6 * sd)
    assert abs(np.mean(power) / variance - 1) < 0.05
    assert abs(Sp.spectral_slope(freqs, power)) < 0.15  # flat: no trend with k


@MATH
@given(n=st.integers(8, 48), kx=st.integers(0, 23), ky=st.integers(-23, 23),
       amplitude=st.floats(0.01, 100), phase=st.floats(0, 2 * math.pi))
def test_a_sinusoid_puts_all_its_power_at_its_frequency(n, kx, ky, amplitude, phase):
    # Integer frequencies below Nyquist: the image is exactly periodic and its variance is amplitude^2 / 2.
    kx, ky = kx % (n // 2), ky % (n // 2) * (1 if ky >= 0 else -1)
    k = round(math.hypot(kx, ky))
    assume(1 <= k <= n // 2)
    i, j = np.mgrid[0:n, 0:n]
    x = amplitude * np.cos(2 * np.pi * (kx * i + ky * j) / n + phase)
    freqs, power = Sp.radial_power_spectrum(x)
    total = n**2 * amplitude**2 / 2  # the sum of the per-bin power over all bins (Parseval)
    assert Sp.annulus_sizes(n)[k - 1] * power[k - 1] == pytest.approx(total, rel=1e-9)
    others = np.delete(power, k - 1)
    assert np.all(others < 1e-12 * total)
    assert freqs[np.argmax(power)] == k


def test_forward_noised_image_has_signal_plus_flat_noise_power(image_spectrum):
    """x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, measured: its spectrum is abar P(k) + (1 - abar) on average."""
    freqs, p0 = image_spectrum
    x0 = procedural_image()
    rng = np.random.default_rng(0)
    for abar in (0.9, 0.5, 0.1):
        draws = [Sp.radial_power_spectrum(math.sqrt(abar) * x0 + math.sqrt(1 - abar) * rng.standard_normal(x0.shape))[1]
                 for _ in range(400)]
        expected = Sp.signal_power(p0, abar) + Sp.noise_power(abar)
        # Noise term: sd (1 - abar) / sqrt(400 n_k / 2); cross term: sd sqrt(2 abar (1 - abar) P / (400 n_k / 2)).
        m = 400 * Sp.annulus_sizes(N_PAGE) / 2
        sd = (1 - abar) / np.sqrt(m) + np.sqrt(2 * abar * (1 - abar) * p0 / m)
        assert np.all(np.abs(np.mean(draws, axis=0) - expected) < 6 * sd)


# ---- SNR per frequency and the crossover ---------------------------------------------------------


def test_snr_per_frequency_formula_and_ends():
    p = np.array([4.0, 1.0, 0.25, 0.0])
    np.testing.assert_allclose(Sp.snr_per_frequency(p, 0.8), 0.8 * p / 0.2)
    np.testing.assert_allclose(Sp.snr_per_frequency(p, 0.8, noise_variance=2.0), 0.8 * p / 0.4)
    np.testing.assert_array_equal(Sp.snr_per_frequency(p, 1.0), [np.inf, np.inf, np.inf, 0.0])  # no noise
    np.testing.assert_array_equal(Sp.snr_per_frequency(p, 0.0), 0.0)  # no signal
    assert Sp.noise_power(0.3) == pytest.approx(0.7) and Sp.noise_power(0.3, 4.0) == pytest.approx(2.8)


def test_crossover_on_k_to_the_minus_2_is_sqrt_of_snr():
    """P(k) = k^-2: SNR(k) = abar k^-2 / (1 - abar) = 1 at k* = (abar / (1 - abar))^(1/2)."""
    freqs = np.arange(1.0, 25.0)
    power = freqs**-2.0
    for abar in (0.6, 0.9, 0.99, 0.995):
        assert Sp.crossover_frequency(freqs, power, abar) == pytest.approx(math.sqrt(abar / (1 - abar)), rel=1e-12)
    assert Sp.crossover_frequency(freqs, power, 0.3) is None  # SNR < 1 at every k (k* would be below 1)
    assert Sp.crossover_frequency(freqs, power, 0.9995) is None  # SNR >= 1 up to k = 24 (k* would be 44.7)


@MATH
@given(beta=st.floats(0.5, 4), c=st.floats(0.1, 10), abar=st.floats(1e-4, 1 - 1e-6),
       noise_variance=st.floats(0.25, 4))
def test_crossover_on_any_power_law_is_analytic(beta, c, abar, noise_variance):
    """P = c k^-beta: k* = (c abar / ((1 - abar) s^2))^(1/beta); None when it lies outside [1, 64)."""
    freqs = np.arange(1.0, 65.0)
    k_star = (c * abar / ((1 - abar) * noise_variance)) ** (1 / beta)
    got = Sp.crossover_frequency(freqs, c * freqs**-beta, abar, noise_variance)
    if 1 + 1e-9 < k_star < 64 - 1e-9:
        assert got == pytest.approx(k_star, rel=1e-9)
    elif k_star < 1 - 1e-9 or k_star > 64 + 1e-9:
        assert got is None


def test_crossover_on_an_image_with_a_k_to_the_minus_2_spectrum():
    """End to end: an image whose per-bin power is |k|^-2 (random phases), measured, noised in theory."""
    n = 128
    k = np.fft.fftfreq(n, d=1.0 / n)
    radius = np.hypot(k[:, None], k[None, :])
    f = np.fft.fft2(np.random.default_rng(3).standard_normal((n, n)))
    target = np.divide(1.0, radius, out=np.zeros_like(radius), where=radius > 0)  # |F| / N = 1 / |k|
    x = np.fft.ifft2(f / np.abs(f) * n * target).real  # a Hermitian spectrum gives a real image
    freqs, power = Sp.radial_power_spectrum(x)
    # An annulus averages 1/r^2 over the radii that round to k, not exactly 1/k^2: at k = 1 half its bins sit
    # on the diagonal, r = sqrt(2), and P(1) = 0.75. Only the lowest bins differ by more than a few percent.
    np.testing.assert_allclose(power[4:] * freqs[4:] ** 2, 1.0, rtol=0.06)
    assert Sp.spectral_slope(freqs, power) == pytest.approx(-2.0, abs=0.05)
    for abar in (0.9, 0.99, 0.999):
        assert Sp.crossover_frequency(freqs, power, abar) == pytest.approx(math.sqrt(abar / (1 - abar)), rel=0.02)


def test_crossover_ends_and_bins_without_signal():
    freqs = np.arange(1.0, 5.0)
    assert Sp.crossover_frequency(freqs, [4.0, 1.0, 0.0, 0.0], 0.5) == 2.0  # the signal ends at k = 2
    assert Sp.crossover_frequency(freqs, [4.0, 1.0, 0.0, 0.0], 1.0) == 2.0  # no noise, still no signal above 2
    assert Sp.crossover_frequency(freqs, [4.0, 3.0, 2.0, 1.5], 1.0) is None  # no noise: SNR inf everywhere
    assert Sp.crossover_frequency(freqs, [4.0, 3.0, 2.0, 1.5], 0.0) is None  # pure noise: SNR 0 everywhere
    assert Sp.crossover_frequency([1.0], [4.0], 0.5) is None  # one frequency: nothing above it
    assert Sp.crossover_frequency(freqs, [4.0, 1.0, 0.25, 0.0625], 0.5) == pytest.approx(2.0)  # SNR exactly 1 at k


@MATH
@given(seed=SEED, a1=st.floats(0, 1), a2=st.floats(0, 1))
def test_crossover_never_moves_up_as_abar_falls_on_any_spectrum(seed, a1, a2):
    """Bumpy spectra too: k* is the top of {k : SNR(k) >= 1}, a set that only shrinks as abar falls."""
    hi, lo = max(a1, a2), min(a1, a2)
    rng = np.random.default_rng(seed)
    freqs = np.arange(1.0, 25.0)
    power = np.exp(rng.normal(0, 2, 24)) * freqs ** rng.uniform(-3, 1)
    k_hi, k_lo = Sp.crossover_frequency(freqs, power, hi), Sp.crossover_frequency(freqs, power, lo)
    if k_hi is not None and k_lo is not None:
        assert k_lo <= k_hi * (1 + 1e-12)
    if k_hi is None and not (Sp.snr_per_frequency(power, hi) >= 1).any():  # everything erased stays erased
        assert k_lo is None
    for abar, k in ((hi, k_hi), (lo, k_lo)):  # what k* promises: above it the noise has won everywhere
        if k is not None:
            snr = Sp.snr_per_frequency(power, abar)
            assert np.all(snr[freqs > k] < 1) and snr[freqs <= k].max() >= 1


def assert_moves_down(k_star: np.ndarray) -> None:
    """NaNs only before ("nothing erased yet") and after ("everything erased") a block that never rises."""
    finite = np.flatnonzero(np.isfinite(k_star))
    assert len(finite) > 0
    assert np.all(np.isfinite(k_star[finite[0] : finite[-1] + 1]))
    assert np.all(np.diff(k_star[finite]) <= 1e-12 * k_star[finite][:-1])


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_crossover_moves_down_as_t_grows_on_the_page_image(name, image_spectrum):
    freqs, power = image_spectrum
    abar = S.make_schedule(name, T=1000).alphas_cumprod
    k_star = Sp.crossover_over_t(freqs, power, abar)
    assert_moves_down(k_star)
    finite = k_star[np.isfinite(k_star)]
    assert finite.max() > N_PAGE / 4 and finite.min() < 2  # the curve sweeps the spectrum, not one bin
    for t in (0, 999):  # at both ends the reason for None is the documented one
        if np.isnan(k_star[t]):
            snr = Sp.snr_per_frequency(power, abar[t])
            assert (snr[-1] >= 1) if t == 0 else not (snr >= 1).any()
    # The array is crossover_frequency at every step.
    for t in range(0, 1000, 37):
        k = Sp.crossover_frequency(freqs, power, abar[t])
        assert (k is None and np.isnan(k_star[t])) or k == k_star[t]


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_crossover_moves_down_on_a_power_law(name):
    freqs = np.arange(1.0, 25.0)
    abar = S.make_schedule(name, T=1000).alphas_cumprod
    k_star = Sp.crossover_over_t(freqs, freqs**-2.0, abar)
    assert_moves_down(k_star)
    ok = np.isfinite(k_star)
    np.testing.assert_allclose(k_star[ok], np.sqrt(abar[ok] / (1 - abar[ok])), rtol=1e-10)


def test_a_larger_flow_shift_moves_the_crossover_down_sooner(image_spectrum):
    freqs, power = image_spectrum
    T = 1000
    curves = {s: Sp.crossover_over_t(freqs, power, S.flow_equivalent_alpha_bar(S.flow_sigmas(T, s)))
              for s in (1.0, 3.0, 5.0, 8.0)}
    for curve in curves.values():
        assert_moves_down(curve)
    shifts = sorted(curves)
    for small, large in zip(shifts, shifts[1:]):
        a, b = curves[small], curves[large]
        both = np.isfinite(a) & np.isfinite(b)
        assert both.sum() > 100
        assert np.all(b[both] <= a[both] * (1 + 1e-12))  # never higher at the same step
        assert np.mean(b[both] < a[both] * (1 - 1e-6)) > 0.5  # and lower at most of them
        # "Everything erased" comes no later with the larger shift.
        last = lambda c: np.flatnonzero(np.isfinite(c))[-1]  # noqa: E731
        assert last(b) <= last(a)


# ---- the procedural image and what the page says about it ---------------------------------------


def test_page_image_spectrum_falls_with_frequency(image_spectrum):
    """Backs 'this image's falls too' and 'the noise overtakes the fine detail first'."""
    freqs, power = image_spectrum
    assert len(freqs) == N_PAGE // 2
    assert Sp.spectral_slope(freqs, power) < 0
    # Every fine frequency (k > N/4) holds less power than any coarse one (k <= N/8), so there is a range of
    # noise levels at which all the fine detail is under the noise and all the coarse shapes above it ...
    fine, coarse = power[freqs > N_PAGE / 4], power[freqs <= N_PAGE / 8]
    assert fine.max() < coarse.min()
    # ... and the page's default linear schedule passes through it.
    abar = S.make_schedule("linear", T=1000).alphas_cumprod
    snr = np.array([Sp.snr_per_frequency(power, a) for a in abar])
    window = (snr[:, freqs > N_PAGE / 4] < 1).all(axis=1) & (snr[:, freqs <= N_PAGE / 8] > 1).all(axis=1)
    assert window.sum() >= 10


@pytest.mark.parametrize("level", ["Moderate", "Hard"])
def test_page_text_formats_the_measured_slope(level, image_spectrum):
    freqs, power = image_spectrum
    text = Sp.page_text(level, freqs, power)
    slope = Sp.spectral_slope(freqs, power)
    assert "{slope" in Sp.TEXTS[level]  # the number comes from the computation, not from the text
    assert text == Sp.TEXTS[level].format(slope=slope)
    assert f"{slope:.1f}" in text or f"{slope:.2f}" in text
    assert text.count("{") == text.count("}") and "{slope" not in text  # LaTeX braces survive the formatting
    assert text.count("$") % 2 == 0 and "SNR" in text and "k^*" in text


# ---- invalid input --------------------------------------------------------------------------------


GOOD_P = np.array([4.0, 1.0, 0.25])
GOOD_F = np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("call,name", [
    (lambda: Sp.radial_power_spectrum(np.zeros(16)), "image"),
    (lambda: Sp.radial_power_spectrum(np.zeros((8, 8, 3))), "image"),
    (lambda: Sp.radial_power_spectrum(np.zeros((8, 6))), "image"),
    (lambda: Sp.radial_power_spectrum(np.zeros((2, 2))), "image"),
    (lambda: Sp.radial_power_spectrum(np.full((8, 8), np.nan)), "image"),
    (lambda: Sp.power_spectrum_2d(np.zeros((5, 4))), "image"),
    (lambda: Sp.annulus_sizes(3), "size"),
    (lambda: Sp.snr_per_frequency(GOOD_P, -0.1), "alpha_bar"),
    (lambda: Sp.snr_per_frequency(GOOD_P, 1.1), "alpha_bar"),
    (lambda: Sp.snr_per_frequency(GOOD_P, float("nan")), "alpha_bar"),
    (lambda: Sp.snr_per_frequency(GOOD_P, "0.5"), "alpha_bar"),
    (lambda: Sp.snr_per_frequency(GOOD_P, True), "alpha_bar"),
    (lambda: Sp.snr_per_frequency([1.0, -1.0], 0.5), "power_x0"),
    (lambda: Sp.snr_per_frequency(np.ones((2, 2)), 0.5), "power_x0"),
    (lambda: Sp.snr_per_frequency(GOOD_P, 0.5, noise_variance=0.0), "noise_variance"),
    (lambda: Sp.noise_power(2.0), "alpha_bar"),
    (lambda: Sp.signal_power(GOOD_P, -1.0), "alpha_bar"),
    (lambda: Sp.crossover_frequency(GOOD_F, GOOD_P, 1.5), "alpha_bar"),
    (lambda: Sp.crossover_frequency(GOOD_F[:2], GOOD_P, 0.5), "freqs"),
    (lambda: Sp.crossover_frequency([3.0, 2.0, 1.0], GOOD_P, 0.5), "freqs"),
    (lambda: Sp.crossover_frequency([0.0, 1.0, 2.0], GOOD_P, 0.5), "freqs"),
    (lambda: Sp.crossover_frequency(GOOD_F, [1.0, np.inf, 1.0], 0.5), "power_x0"),
    (lambda: Sp.crossover_over_t(GOOD_F, GOOD_P, [0.5, 1.5]), "alphas_cumprod"),
    (lambda: Sp.crossover_over_t(GOOD_F, GOOD_P, [0.5, np.nan]), "alphas_cumprod"),
    (lambda: Sp.crossover_over_t(GOOD_F, GOOD_P, np.ones((2, 2))), "alphas_cumprod"),
    (lambda: Sp.spectral_slope(GOOD_F, [1.0, 0.0, 1.0]), "power"),
    (lambda: Sp.spectral_slope([1.0], [1.0]), "power"),
    (lambda: Sp.spectral_slope([1.0, 1.0, 2.0], GOOD_P), "freqs"),
    (lambda: Sp.page_text("Easy", GOOD_F, GOOD_P), "level"),
])
def test_invalid_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


@MATH
@given(alpha_bar=st.one_of(st.floats(-1e6, -1e-12), st.floats(1 + 1e-12, 1e6)))
def test_alpha_bar_outside_0_1_is_refused_everywhere(alpha_bar):
    for call in (lambda: Sp.snr_per_frequency(GOOD_P, alpha_bar), lambda: Sp.noise_power(alpha_bar),
                 lambda: Sp.crossover_frequency(GOOD_F, GOOD_P, alpha_bar)):
        with pytest.raises(ValueError, match="^alpha_bar "):
            call()
