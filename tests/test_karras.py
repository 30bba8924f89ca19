"""karras_sigmas (EDM, Karras et al. 2022, Eq. 5), its VP reading abar = 1 / (1 + sigma^2), and the
"karras" family of make_schedule."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import schedules as S
from explainers.schedules import karras_sigmas, make_schedule, ve_equivalent_alpha_bar


def test_endpoints_are_exact_and_no_trailing_zero():
    sigmas = karras_sigmas(18, 0.002, 80.0)
    assert sigmas.dtype == np.float64 and sigmas.shape == (18,)
    assert sigmas[0] == 80.0 and sigmas[-1] == 0.002  # exactly, not after a round trip through ** (1 / rho)
    assert np.all(sigmas > 0)


def test_eq5_by_hand_for_three_levels():
    # i = 1 of n = 3 is the midpoint in sigma^(1/rho): ((80^(1/7) + 0.002^(1/7)) / 2)^7.
    mid = ((80.0 ** (1 / 7) + 0.002 ** (1 / 7)) / 2) ** 7
    np.testing.assert_allclose(karras_sigmas(3, 0.002, 80.0), [80.0, mid, 0.002], rtol=1e-14)


def test_rho_one_is_linear_spacing():
    np.testing.assert_allclose(karras_sigmas(11, 0.5, 10.5, rho=1.0), np.linspace(10.5, 0.5, 11), rtol=1e-13)


def test_large_rho_approaches_geometric_spacing():
    # (a + u (b - a))^rho -> exp(log sigma_max + u log(sigma_min / sigma_max)) as rho -> infinity.
    geometric = np.geomspace(50.0, 0.01, 10)
    gaps = [np.max(np.abs(np.log(karras_sigmas(10, 0.01, 50.0, rho) / geometric))) for rho in (7.0, 20.0, 100.0)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.1  # within 10% at the largest rho allowed


def test_steps_crowd_towards_sigma_min_with_rho_7():
    # Why rho = 7: the first step from sigma_max is a large jump, the last ones are tiny.
    steps = -np.diff(karras_sigmas(10, 0.002, 80.0))
    assert np.all(np.diff(steps) < 0)


def test_matches_diffusers_euler_karras():
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler()
    for n, lo, hi in [(10, 0.0292, 14.6146), (25, 0.002, 80.0), (2, 0.1, 1.0)]:
        theirs = np.asarray(scheduler._convert_to_karras(torch.tensor([hi, lo], dtype=torch.float64), n))
        np.testing.assert_allclose(karras_sigmas(n, lo, hi), theirs, rtol=1e-12)


def test_diffusers_euler_with_use_karras_sigmas_uses_these_levels():
    # The scheduler the way people use it: its own sigma range (from the scaled-linear betas), then Eq. 5.
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       use_karras_sigmas=True)
    scheduler.set_timesteps(20)
    theirs = scheduler.sigmas.double().numpy()
    assert theirs[-1] == 0.0  # diffusers appends the final sigma = 0; karras_sigmas does not
    ours = karras_sigmas(20, float(theirs[-2]), float(theirs[0]))
    np.testing.assert_allclose(ours, theirs[:-1], rtol=1e-6)  # diffusers stores float32


@settings(max_examples=200, deadline=None)
@given(n=st.integers(*S.T_RANGE), lo=st.floats(*S.SIGMA_RANGE), ratio=st.floats(1.001, 1e10),
       rho=st.floats(*S.RHO_RANGE))
def test_any_valid_input_gives_finite_decreasing_levels(n, lo, ratio, rho):
    hi = min(lo * ratio, S.SIGMA_RANGE[1])
    if not hi > lo:
        return
    sigmas = karras_sigmas(n, lo, hi, rho)
    assert sigmas.shape == (n,) and np.all(np.isfinite(sigmas))
    assert sigmas[0] == hi and sigmas[-1] == lo
    # Strictly decreasing when there is room in float64; consecutive levels may round to the same number
    # when thousands of them share a narrow range, never increase.
    assert np.all(np.diff(sigmas) <= 0)
    assert np.all((sigmas >= lo) & (sigmas <= hi))


def test_strictly_decreasing_for_typical_ranges():
    for rho in (1.0, 3.0, 7.0, 20.0):
        assert np.all(np.diff(karras_sigmas(1000, 0.002, 80.0, rho)) < 0)


def test_alpha_bar_reading():
    sigmas = karras_sigmas(8, 0.002, 80.0)
    abar = ve_equivalent_alpha_bar(sigmas)
    np.testing.assert_allclose(abar, 1 / (1 + sigmas**2), rtol=1e-15)
    np.testing.assert_allclose(S.log_snr_of(abar), -2 * np.log(sigmas), rtol=1e-9, atol=1e-12)
    assert isinstance(ve_equivalent_alpha_bar(1.0), float) and ve_equivalent_alpha_bar(1.0) == 0.5


def test_karras_schedule_is_the_levels_in_forward_order():
    s = make_schedule("karras", T=50, sigma_min=0.002, sigma_max=80.0, rho=7.0)
    sigmas = karras_sigmas(50, 0.002, 80.0)
    assert s.name == "karras" and s.T == 50
    np.testing.assert_allclose(s.alphas_cumprod, 1 / (1 + sigmas[::-1] ** 2), rtol=1e-15)
    np.testing.assert_allclose(s.sigma_ve, sigmas[::-1], rtol=1e-9)  # t = 0 least noise
    # Its betas rebuild the same abar, so samplers that walk betas see the same levels.
    np.testing.assert_allclose(np.cumprod(1 - s.betas), s.alphas_cumprod, rtol=1e-12)
    assert np.all((s.betas > 0) & (s.betas < 1))
    assert s.params == {"T": 50, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "zero_terminal_snr": False}
    # Not one of the families the schedule page offers: adding it changed no page.
    assert "karras" not in S.SCHEDULES


def test_karras_schedule_defaults_and_zero_terminal_snr():
    s = make_schedule("karras", T=1000)
    assert s.sigma_ve[0] == pytest.approx(0.002) and s.sigma_ve[-1] == pytest.approx(80.0)
    z = make_schedule("karras", T=1000, zero_terminal_snr=True)
    assert z.alphas_cumprod[-1] == 0.0 and z.alphas_cumprod[0] == pytest.approx(s.alphas_cumprod[0])


@pytest.mark.parametrize("args,param", [
    ((1, 0.002, 80.0), "n"),
    ((10_001, 0.002, 80.0), "n"),
    ((2.5, 0.002, 80.0), "n"),
    ((True, 0.002, 80.0), "n"),
    ((10, 0.0, 80.0), "sigma_min"),
    ((10, -1.0, 80.0), "sigma_min"),
    ((10, math.nan, 80.0), "sigma_min"),
    ((10, 0.002, math.inf), "sigma_max"),
    ((10, 0.002, 1e5), "sigma_max"),
    ((10, 1.0, 1.0), "sigma_max"),
    ((10, 2.0, 1.0), "sigma_max"),
    ((10, 0.002, 80.0, 0.0), "rho"),
    ((10, 0.002, 80.0, -7.0), "rho"),
    ((10, 0.002, 80.0, math.nan), "rho"),
    ((10, 0.002, 80.0, "7"), "rho"),
])
def test_invalid_inputs_name_the_parameter_and_its_range(args, param):
    with pytest.raises(ValueError) as err:
        karras_sigmas(*args)
    message = str(err.value)
    assert message.startswith(f"{param} must be"), message
    assert "[" in message or ">" in message, message


def test_invalid_karras_schedule_names_the_parameter():
    with pytest.raises(ValueError, match="^sigma_max must be"):
        make_schedule("karras", T=10, sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="^T must be"):
        make_schedule("karras", T=1)
    with pytest.raises(ValueError, match="^schedule must be one of .*karras"):
        make_schedule("karas")


# ---- the custom schedule: log-SNR through knots ----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=5, max_size=5, unique=True).map(lambda k: sorted(k, reverse=True)),
       st.integers(2, 2000))
def test_custom_log_snr_is_scipys_pchip_through_the_knots_and_falls(knots, T):
    from scipy.interpolate import PchipInterpolator

    curve = S.custom_log_snr(T, knots)
    u = np.arange(T) / (T - 1)
    np.testing.assert_allclose(curve, PchipInterpolator(S.KNOT_POSITIONS, knots)(u), rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(curve) <= 1e-12)  # monotone: no overshoot between knots
    s = S.make_schedule("custom", T=T, knots=tuple(knots))
    np.testing.assert_allclose(s.log_snr, curve, atol=1e-6)
    assert s.params["knots"] == tuple(knots)


@pytest.mark.parametrize("knots, says", [
    ((8, 3, 3, -3, -8), "fall strictly"), ((8, 3, 0, -3), "5 log-SNR values"),
    ((25, 3, 0, -3, -8), "knot 1"), ((8, 3, float("nan"), -3, -8), "knot 3"),
])
def test_bad_knots_are_refused_naming_them(knots, says):
    with pytest.raises(ValueError, match=says):
        S.make_schedule("custom", T=100, knots=knots)
