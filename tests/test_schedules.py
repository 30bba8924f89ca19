"""make_schedule against the numbers of REFERENCE.md (diffusers 0.42.1, float32)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import schedules as S
from explainers.schedules import make_schedule

IDX = [0, 249, 499, 749, 999]
REFERENCE_ABAR = {
    ("linear", False): [0.99989998, 0.52408534, 0.07858723, 3.3505505e-3, 4.0358304e-5],
    ("scaled_linear", False): [0.99914998, 0.67543209, 0.27766943, 0.05662345, 4.6600951e-3],
    ("cosine", False): [0.99995869, 0.84701222, 0.49384347, 0.14427210, 2.428735e-9],
    ("linear", True): [0.99989998, 0.52153337, 0.07602873, 2.6895225e-3, 0.0],
}


@pytest.mark.parametrize("name,ztsnr", list(REFERENCE_ABAR))
def test_alphas_cumprod_match_reference(name, ztsnr):
    s = make_schedule(name, T=1000, zero_terminal_snr=ztsnr)
    # REFERENCE.md: float32 reference, so 1e-4 relative plus 1e-6 absolute near zero.
    np.testing.assert_allclose(s.alphas_cumprod[IDX], REFERENCE_ABAR[(name, ztsnr)], rtol=1e-4, atol=1e-6)


def test_zero_terminal_snr_is_exactly_zero_and_log_snr_minus_inf():
    s = make_schedule("linear", T=1000, beta_start=1e-4, beta_end=0.02, zero_terminal_snr=True)
    assert s.alphas_cumprod[-1] == 0.0
    assert np.isneginf(s.log_snr[-1]) and s.snr[-1] == 0.0
    assert np.all(np.isfinite(s.log_snr[:-1]))


def test_log_snr_reference_values():
    s = make_schedule("linear", T=1000)
    assert s.log_snr[0] == pytest.approx(9.2101, rel=1e-4)
    assert s.log_snr[499] == pytest.approx(-2.4617, rel=1e-4)
    # abar = sigmoid(logSNR) and sigma_VE = exp(-logSNR/2)
    np.testing.assert_allclose(1 / (1 + np.exp(-s.log_snr)), s.alphas_cumprod, rtol=1e-12)
    np.testing.assert_allclose(s.sigma_ve, np.sqrt((1 - s.alphas_cumprod) / s.alphas_cumprod), rtol=1e-10)


def test_vp_sde_continuous_and_discrete():
    np.testing.assert_allclose(S.vp_sde_alpha_bar([0.5, 1.0]), [0.0790638, 4.318575e-5], rtol=1e-5)
    # Discretised with N = 1000 steps the VP SDE is the DDPM linear schedule.
    np.testing.assert_allclose(make_schedule("vp_sde", T=1000).betas, make_schedule("linear", T=1000).betas)


def test_sigmoid_schedule_spans_its_betas():
    s = make_schedule("sigmoid", T=1000)
    assert s.betas[0] == pytest.approx(1e-4 + (0.02 - 1e-4) / (1 + math.exp(6)))
    assert np.all(np.diff(s.betas) > 0)


def test_vp_means_signal_plus_noise_variance_is_one():
    for name in S.SCHEDULES:
        s = make_schedule(name, T=500)
        np.testing.assert_allclose(s.signal_coef**2 + s.noise_coef**2, 1.0, atol=1e-12)


def test_contrasts_are_not_variance_preserving():
    ve = S.contrast_coefficients("variance_exploding", 1000)
    assert ve.total_variance[-1] == pytest.approx(1 + 50.0**2)
    fm = S.contrast_coefficients("flow_matching", 1000)
    mid = fm.total_variance[499]  # sigma = 0.5: 0.25 + 0.25
    assert mid == pytest.approx(0.5, abs=1e-3)
    # Flow-matching equivalent abar has the same SNR as the flow level.
    sigma = np.array([0.1, 0.5, 0.9])
    abar = S.flow_equivalent_alpha_bar(sigma)
    np.testing.assert_allclose(abar / (1 - abar), ((1 - sigma) / sigma) ** 2, rtol=1e-12)


def test_flow_shift_matches_self_forcing_sigmas():
    np.testing.assert_allclose(S.flow_shift(np.array([1.0, 0.75, 0.5, 0.25]), 5.0),
                               [1.0, 0.9375, 0.8333333, 0.625], rtol=1e-6)


def test_flow_shift_keeps_a_tensor_a_tensor_with_the_same_numbers():
    # The video model's training draws its levels as a float32 tensor and shifts them with this function.
    import torch

    u = torch.rand(64, generator=torch.Generator().manual_seed(0))
    shifted = S.flow_shift(u, 5.0)
    assert isinstance(shifted, torch.Tensor) and shifted.dtype == torch.float32
    np.testing.assert_allclose(shifted.numpy(), S.flow_shift(u.double().numpy(), 5.0), rtol=1e-6)
    with pytest.raises(ValueError, match="^sigma "):
        S.flow_shift(torch.tensor([0.5, 1.5]), 5.0)


def test_one_log_snr_for_schedules_contrasts_and_samplers():
    s = make_schedule("linear", T=1000, zero_terminal_snr=True)
    np.testing.assert_array_equal(s.log_snr, S.log_snr_of(s.alphas_cumprod))
    assert np.isneginf(S.log_snr_of(0.0)) and S.log_snr_of(0.5) == 0.0
    # For VP, the coefficients' log-SNR is the schedule's; for a contrast it is log(a^2 / b^2).
    np.testing.assert_allclose(S.vp_coefficients(s).log_snr[:-1], s.log_snr[:-1], rtol=1e-9)
    assert np.isneginf(S.vp_coefficients(s).log_snr[-1])
    ve = S.contrast_coefficients("variance_exploding", 1000)
    np.testing.assert_allclose(ve.log_snr, -2 * np.log(ve.noise_coef), rtol=1e-9)
    fm = S.contrast_coefficients("flow_matching", 1000, 3.0)
    np.testing.assert_allclose(fm.log_snr[:-1], S.log_snr_of(S.flow_equivalent_alpha_bar(fm.noise_coef[:-1])),
                               rtol=1e-9)
    assert np.isneginf(fm.log_snr[-1])  # sigma = 1: no signal left


@pytest.mark.parametrize("kwargs,param", [
    (dict(name="linear", T=0), "T"),
    (dict(name="linear", T=1.5), "T"),
    (dict(name="linear", T=10**6), "T"),
    (dict(name="linear", beta_start=-1.0), "beta_start"),
    (dict(name="linear", beta_end=1.5), "beta_end"),
    (dict(name="linear", beta_start=0.02, beta_end=0.01), "beta_end"),
    (dict(name="cosine", s=float("nan")), "s"),
    (dict(name="vp_sde", beta_max=0.01, beta_min=0.1), "beta_max"),
    (dict(name="zigzag"), "schedule"),
])
def test_invalid_parameters_name_parameter_and_range(kwargs, param):
    name = kwargs.pop("name")
    with pytest.raises(ValueError) as err:
        make_schedule(name, **kwargs)
    message = str(err.value)
    assert message.startswith(param)
    assert "[" in message or "one of" in message or ">=" in message


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(S.SCHEDULES), T=st.integers(2, 3000),
       b0=st.floats(1e-6, 0.2), span=st.floats(0, 0.5), ztsnr=st.booleans(),
       s=st.floats(0, 0.5), shift=st.floats(1, 10))
def test_every_plotted_array_is_finite_or_a_clear_error(name, T, b0, span, ztsnr, s, shift):
    kwargs = dict(T=T, zero_terminal_snr=ztsnr)
    if name in ("linear", "scaled_linear", "sigmoid"):
        kwargs.update(beta_start=b0, beta_end=min(b0 + span, 0.999))
    elif name == "cosine":
        kwargs.update(s=s)
    try:
        sched = make_schedule(name, **kwargs)
    except ValueError as err:
        assert str(err).split()[0] in {"T", "beta_start", "beta_end", "s", "beta_max"}
        return
    for arr in (sched.betas, sched.alphas_cumprod, sched.signal_coef, sched.noise_coef):
        assert np.all(np.isfinite(arr))
    assert np.all((sched.alphas_cumprod >= 0) & (sched.alphas_cumprod <= 1))
    assert np.all(np.diff(sched.alphas_cumprod) <= 1e-15)  # signal only ever decreases
    log_snr = sched.log_snr
    # log-SNR is -inf exactly where no signal is left (abar = 0: zero terminal SNR, or a schedule
    # so aggressive that abar underflows); the figures clip it and say so. Never NaN.
    assert not np.any(np.isnan(log_snr))
    assert np.all(np.isfinite(log_snr) | (sched.alphas_cumprod == 0))
    if ztsnr:
        assert np.isneginf(log_snr[-1])
    for kind in ("variance_exploding", "flow_matching"):
        c = S.contrast_coefficients(kind, T, shift)
        assert np.all(np.isfinite(c.total_variance))
