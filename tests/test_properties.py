"""Property tests of public `explainers` functions that other test files check only at a few points:
random valid inputs give finite outputs of the documented shape; out-of-range inputs raise ValueError
whose message names the parameter. Deterministic (derandomized) so a failure reproduces."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from explainers import backward_init as B
from explainers import backward_view, schedule_view, spectral_view
from explainers import figures as F
from explainers import schedules as S
from explainers import spectral as SN
from explainers.exports import figure_csv
from explainers.state import Param

FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


def raises_naming(name: str, fn, *args, **kwargs) -> None:
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    assert name in str(info.value), (name, str(info.value))


NOT_INT = st.one_of(st.floats(allow_nan=True), st.booleans(), st.text(max_size=3), st.none())
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])

# ---------------------------------------------------------------------------------------------
# schedules: contrast_coefficients, flow_shift, ve_sigmas
# ---------------------------------------------------------------------------------------------


@FAST
@given(kind=st.sampled_from(["variance_exploding", "flow_matching"]), T=st.integers(2, 3000),
       shift=st.floats(*S.SHIFT_RANGE))
def test_contrast_coefficients_valid(kind, T, shift):
    c = S.contrast_coefficients(kind, T, shift)
    for arr in (c.u, c.signal_coef, c.noise_coef, c.total_variance):
        assert arr.shape == (T,) and finite(arr)
    np.testing.assert_allclose(c.u, np.arange(1, T + 1) / T)
    if kind == "flow_matching":
        np.testing.assert_allclose(c.signal_coef + c.noise_coef, 1.0, atol=1e-12)
        assert np.all((c.noise_coef >= 0) & (c.noise_coef <= 1 + 1e-12)) and np.all(np.diff(c.noise_coef) >= 0)
        assert np.all(c.total_variance <= 1 + 1e-12) and np.all(c.total_variance >= 0.5 - 1e-12)
    else:
        assert np.all(c.signal_coef == 1) and np.all(np.diff(c.noise_coef) > 0)
        assert c.noise_coef[0] == pytest.approx(0.01) and c.noise_coef[-1] == pytest.approx(50.0)


@FAST
@given(kind=st.text(max_size=20),
       T=st.one_of(st.integers(-10**6, 1), st.integers(10_001, 10**6), st.floats(-1e6, 1e6), st.booleans()),
       shift=st.one_of(st.floats(max_value=0.0099), st.floats(min_value=100.001), NON_FINITE))
def test_contrast_coefficients_out_of_range(kind, T, shift):
    assume(kind not in ("variance_exploding", "flow_matching"))
    raises_naming("contrast", S.contrast_coefficients, kind, 100)
    raises_naming("T", S.contrast_coefficients, "flow_matching", T)
    raises_naming("T", S.contrast_coefficients, "variance_exploding", T)
    raises_naming("shift", S.contrast_coefficients, "flow_matching", 100, shift)


@pytest.mark.parametrize("T", [None, "ab", math.nan, 10**13])
def test_contrast_coefficients_non_integer_or_huge_T(T):
    """Regression (fixed during this work): the time axis was built before T was checked, so these raised
    TypeError, an arange error or MemoryError (T=10**8 allocated 800 MB first)."""
    raises_naming("T", S.contrast_coefficients, "variance_exploding", T)


@FAST
@given(sigma=hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(0.0, 1.0)), shift=st.floats(*S.SHIFT_RANGE))
def test_flow_shift_valid(sigma, shift):
    out = S.flow_shift(sigma, shift)
    assert out.shape == sigma.shape and finite(out)
    assert np.all(out >= 0) and np.all(out <= 1 + 1e-12)
    order = np.argsort(sigma, kind="stable")
    assert np.all(np.diff(out[order]) >= -1e-12)  # monotone in sigma
    assert float(S.flow_shift(0.0, shift)) == 0.0 and float(S.flow_shift(1.0, shift)) == pytest.approx(1.0)
    if shift >= 1:
        assert np.all(out >= sigma - 1e-12)  # s > 1 spends more of the steps at high noise
    np.testing.assert_allclose(S.flow_shift(sigma, 1.0), sigma)


@FAST
@given(shift=st.one_of(st.floats(max_value=0.0099), st.floats(min_value=100.001), NON_FINITE, st.text(max_size=3)))
def test_flow_shift_out_of_range_shift(shift):
    raises_naming("shift", S.flow_shift, 0.5, shift)


@FAST
@given(sigma=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.000001), NON_FINITE))
def test_flow_shift_out_of_range_sigma(sigma):
    """Regression (fixed during this work): sigma = -1 with shift 2 gave -inf, NaN passed through."""
    raises_naming("sigma", S.flow_shift, sigma, 2.0)
    raises_naming("sigma", S.flow_shift, np.array([0.5, sigma]), 2.0)


SIGMA_RANGE = (1e-6, 1e4)  # ve_sigmas: sigma_min in [1e-6, 1e4], sigma_max in [sigma_min, 1e4]


@FAST
@given(T=st.integers(2, 10_000), lo=st.floats(*SIGMA_RANGE), frac=st.floats(0.0, 1.0))
def test_ve_sigmas_valid(T, lo, frac):
    hi = min(lo + frac * (SIGMA_RANGE[1] - lo), SIGMA_RANGE[1])
    out = S.ve_sigmas(T, lo, hi)
    assert out.shape == (T,) and finite(out) and np.all(out > 0)
    assert out[0] == pytest.approx(lo) and out[-1] == pytest.approx(hi)
    assert np.all(np.diff(out) >= -1e-12 * hi)
    if T > 2 and hi > lo * 1.001:
        np.testing.assert_allclose(out[1:] / out[:-1], (hi / lo) ** (1 / (T - 1)), rtol=1e-6)  # geometric


@FAST
@given(T=st.one_of(st.integers(max_value=1), st.integers(min_value=10_001), NOT_INT))
def test_ve_sigmas_out_of_range_T(T):
    raises_naming("T", S.ve_sigmas, T)


@FAST
@given(lo=st.one_of(st.floats(max_value=9.9e-7), st.floats(min_value=10_001.0), NON_FINITE),
       hi=st.one_of(st.floats(max_value=0.99), st.floats(min_value=10_001.0), NON_FINITE))
def test_ve_sigmas_out_of_range_sigmas(lo, hi):
    """Regression (fixed during this work): sigma_min = -1 gave NaNs, 0 numpy's 'Geometric sequence cannot
    include zero', and sigma_min > sigma_max was accepted."""
    raises_naming("sigma_min", S.ve_sigmas, 10, lo, 50.0)
    raises_naming("sigma_max", S.ve_sigmas, 10, 1.0, hi)


# ---------------------------------------------------------------------------------------------
# state.Param.parse
# ---------------------------------------------------------------------------------------------

ALL_PARAMS = tuple({p.key: p for v in (schedule_view, backward_view, spectral_view) for p in v.PARAMS}.values())


def param_value(p: Param):
    if p.kind == "multi":
        return st.lists(st.sampled_from(p.choices), min_size=1, max_size=p.max_count, unique=True).map(tuple)
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "int":
        return st.integers(int(p.low), int(p.high))
    return st.floats(p.low, p.high)


@FAST
@given(data=st.data(), p=st.sampled_from(ALL_PARAMS))
def test_param_parse_round_trips_every_valid_value(data, p):
    value = data.draw(param_value(p))
    parsed, notice = p.parse(p.to_url(value))
    assert notice is None, notice
    if p.kind == "float":  # the URL form keeps 6 significant digits
        assert parsed == pytest.approx(value, rel=1e-5, abs=1e-12) and p.low <= parsed <= p.high
    else:
        assert parsed == value


@FAST
@given(p=st.sampled_from(ALL_PARAMS), raw=st.lists(st.text(max_size=30), max_size=4))
def test_param_parse_never_raises_and_a_notice_names_the_key(p, raw):
    value, notice = p.parse(raw)
    if notice is None:
        parsed_again, _ = p.parse(p.to_url(value))
        assert parsed_again == pytest.approx(value) if p.kind == "float" else parsed_again == value
    else:
        assert value == p.default
        assert notice.startswith(f"URL parameter '{p.key}' ({p.label}) must be {p.range_text()}")
        assert len(notice) < 300 + len(p.label) + len(p.range_text())


@FAST
@given(p=st.sampled_from([p for p in ALL_PARAMS if p.kind in ("int", "float")]),
       x=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30)))
def test_param_parse_numbers_outside_the_range_are_noticed(p, x):
    value, notice = p.parse([repr(x) if isinstance(x, float) else str(x)])
    inside = math.isfinite(x) and p.low <= x <= p.high and (p.kind == "float" or float(x) == int(x))
    assert (notice is None) == inside
    if not inside:
        assert value == p.default and f"'{p.key}'" in notice and p.range_text() in notice


# ---------------------------------------------------------------------------------------------
# backward_init: shifted_sigmas, temporal_levels, noise_level_matrix, add_noise
# ---------------------------------------------------------------------------------------------


@FAST
@given(steps=st.integers(1, 1000), shift=st.floats(*S.SHIFT_RANGE))
def test_shifted_sigmas_valid(steps, shift):
    s = B.shifted_sigmas(steps, shift)
    assert s.shape == (steps,) and s.dtype == np.float64 and finite(s)
    assert s[0] == pytest.approx(1.0, abs=1e-9) and np.all(s > 0) and np.all(np.diff(s) < 0)


def test_shifted_sigmas_tiny_shift():
    """Regression (fixed during this work: shift is now in [0.01, 100]): shift 1e-20 was accepted and
    1 + (shift - 1) * sigma cancelled to 0, so sigmas[0] was inf."""
    raises_naming("shift", B.shifted_sigmas, 4, 1e-20)


@FAST
@given(steps=st.one_of(st.integers(max_value=0), st.integers(min_value=1001), NOT_INT),
       shift=st.one_of(st.floats(max_value=0.0099), st.floats(min_value=100.001), NON_FINITE, st.booleans()))
def test_shifted_sigmas_out_of_range(steps, shift):
    raises_naming("steps", B.shifted_sigmas, steps, 5.0)
    raises_naming("shift", B.shifted_sigmas, 4, shift)


SIGMA_LISTS = st.builds(lambda steps, shift: B.shifted_sigmas(steps, shift), st.integers(1, 12), st.floats(0.5, 20.0))
SIGMA_INIT = st.floats(1e-6, 1.0)


@FAST
@given(sigmas=SIGMA_LISTS, sigma_init=SIGMA_INIT, n_frames=st.integers(1, 40),
       reading=st.sampled_from(B.READINGS))
def test_noise_level_matrix_and_temporal_levels_valid(sigmas, sigma_init, n_frames, reading):
    levels = B.temporal_levels(sigmas, sigma_init)
    assert levels.ndim == 1 and 1 <= len(levels) <= len(sigmas) + 1 and finite(levels)
    assert levels[0] == sigma_init and np.all(np.diff(levels) < 0) and np.all(levels[1:] < sigma_init)
    m = B.noise_level_matrix(reading, n_frames, sigmas, sigma_init)
    assert m.shape == (n_frames, len(sigmas))
    np.testing.assert_array_equal(m[0], sigmas)  # the first frame always runs the whole list
    if reading == "denoising_step":
        assert finite(m) and np.all(m == sigmas)
    else:
        for row in m[1:]:
            used = row[~np.isnan(row)]
            assert finite(used) and len(used) >= 1 and np.all(np.diff(used) < 0)
            assert np.all(np.isnan(row[: len(row) - len(used)]))  # skipped slots come first


@FAST
@given(reading=st.text(max_size=15), n_frames=st.one_of(st.integers(max_value=0), st.integers(min_value=10_001),
                                                         NOT_INT),
       sigma_init=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0001), NON_FINITE, st.booleans()),
       bad_sigmas=st.sampled_from([[0.9, 0.5], [1.0, 1.0], [1.0, 0.5, 0.7], [1.0, 0.0], [], [[1.0]], [1.0, math.nan]]))
def test_noise_level_matrix_out_of_range(reading, n_frames, sigma_init, bad_sigmas):
    assume(reading not in B.READINGS)
    good = B.shifted_sigmas(4, 5.0)
    raises_naming("reading", B.noise_level_matrix, reading, 4, good)
    raises_naming("n_frames", B.noise_level_matrix, "temporal_index", n_frames, good)
    raises_naming("sigma_init", B.noise_level_matrix, "temporal_index", 4, good, sigma_init)
    raises_naming("sigma_init", B.temporal_levels, good, sigma_init)
    raises_naming("sigmas", B.noise_level_matrix, "denoising_step", 4, bad_sigmas)
    raises_naming("sigmas", B.temporal_levels, bad_sigmas, 0.5)


def test_noise_level_matrix_sigma_init_one_with_sigmas_just_below_one():
    """Regression (fixed during this work): sigmas starting just below 1 with sigma_init = 1 gave temporal
    levels one longer than the row, and numpy's 'could not broadcast input array'."""
    m = B.noise_level_matrix("temporal_index", 3, [0.9999995, 0.5], 1.0)
    assert m.shape == (3, 2) and finite(m)


@FAST
@given(shape=st.sampled_from([(3,), (2, 1, 4, 4), (5, 7)]), sigma=st.floats(0.0, 1.0), form=st.sampled_from(B.FORMS),
       seed=st.integers(0, 2**16))
def test_add_noise_valid(shape, sigma, form, seed):
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    out = B.add_noise(x0, eps, sigma, form)
    assert out.shape == x0.shape and torch.isfinite(out).all()
    if sigma == 0:
        torch.testing.assert_close(out, x0)
    if sigma == 1:
        torch.testing.assert_close(out, eps)
    if form == "vp":  # the VP form is the flow state rescaled
        flow = B.add_noise(x0, eps, sigma, "flow")
        torch.testing.assert_close(out * B.vp_to_flow_scale(sigma), flow, rtol=1e-5, atol=1e-5)


@FAST
@given(sigma=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.000001), NON_FINITE),
       form=st.text(max_size=10))
def test_add_noise_out_of_range(sigma, form):
    assume(form not in B.FORMS)
    x = torch.zeros(3)
    raises_naming("sigma", B.add_noise, x, x, sigma)
    raises_naming("form", B.add_noise, x, x, 0.5, form)


# ---------------------------------------------------------------------------------------------
# spectral: strided_conv_operator_norm, reshaped_sigma, bsn_sigma, power_iteration_trace
# ---------------------------------------------------------------------------------------------

ELEM = st.floats(-10.0, 10.0, allow_subnormal=False)


@st.composite
def conv_case(draw):
    kernel = draw(hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
                                                   st.integers(1, 3)), elements=ELEM))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    reach = (max(kernel.shape[-2:]) - 1) * dilation + 1
    n = stride * draw(st.integers(max(1, math.ceil(reach / stride)), max(1, 12 // stride)))
    assume(n >= reach)
    return kernel, n, stride, dilation


@SLOW
@given(case=conv_case(), scale=st.floats(0.1, 10.0))
def test_strided_conv_operator_norm_valid(case, scale):
    kernel, n, stride, dilation = case
    norm = SN.strided_conv_operator_norm(kernel, n, stride, dilation)
    assert isinstance(norm, float) and math.isfinite(norm) and norm >= 0
    unstrided = SN.strided_conv_operator_norm(kernel, n, 1, dilation)
    assert norm <= unstrided * (1 + 1e-9) + 1e-12  # keeping every s-th pixel cannot grow the norm
    assert unstrided <= SN.conv_norm_upper_bound(kernel) * (1 + 1e-9) + 1e-12  # dilation keeps kh*kw taps
    assert SN.strided_conv_operator_norm(scale * kernel, n, stride, dilation) == pytest.approx(scale * norm,
                                                                                                 rel=1e-9, abs=1e-9)


@FAST
@given(stride=st.one_of(st.integers(max_value=0), st.integers(min_value=9), st.booleans()),
       dilation=st.one_of(st.integers(min_value=9, max_value=20), st.floats(1.1, 1.9), st.just(True)))
def test_strided_conv_operator_norm_out_of_range(stride, dilation):
    kernel = np.ones((1, 1, 3, 3))
    raises_naming("stride", SN.strided_conv_operator_norm, kernel, 8, stride)
    raises_naming("dilation", SN.strided_conv_operator_norm, kernel, 64, 1, dilation)
    raises_naming("n", SN.strided_conv_operator_norm, kernel, 9, 2)
    raises_naming("kernel", SN.strided_conv_operator_norm, np.full((1, 1, 3, 3), math.nan), 8)


@pytest.mark.parametrize("dilation", [0, -1, False, "a", None])
def test_strided_conv_operator_norm_non_positive_dilation(dilation):
    """Regression (fixed during this work): the kernel was dilated before dilation was checked, so 0 raised
    'slice step cannot be zero' and -1 a RuntimeError."""
    raises_naming("dilation", SN.strided_conv_operator_norm, np.ones((1, 1, 3, 3)), 8, 1, dilation)


MATRIX_OR_KERNEL = st.one_of(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=ELEM),
    hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
               elements=ELEM))


@FAST
@given(kernel=MATRIX_OR_KERNEL, scale=st.floats(0.1, 10.0))
def test_reshaped_and_bsn_sigma_valid(kernel, scale):
    s0, s1 = SN.reshaped_sigma(kernel, 0), SN.reshaped_sigma(kernel, 1)
    expected0 = np.linalg.norm(kernel.reshape(kernel.shape[0], -1), 2)
    expected1 = np.linalg.norm(np.moveaxis(kernel, 1, 0).reshape(kernel.shape[1], -1), 2)
    assert s0 == pytest.approx(expected0, rel=1e-9, abs=1e-12) and s1 == pytest.approx(expected1, rel=1e-9, abs=1e-12)
    assert SN.reshaped_sigma(kernel, -kernel.ndim) == pytest.approx(s0)
    bsn = SN.bsn_sigma(kernel)
    assert math.isfinite(bsn) and min(s0, s1) - 1e-12 <= bsn <= max(s0, s1) + 1e-12
    if kernel.ndim == 2:
        assert bsn == pytest.approx(s0, rel=1e-9, abs=1e-12)  # BSN = SN for a linear layer
    assert SN.bsn_sigma(scale * kernel) == pytest.approx(scale * bsn, rel=1e-9, abs=1e-12)
    assert SN.reshaped_sigma(torch.as_tensor(kernel, dtype=torch.float32)) == pytest.approx(s0, rel=1e-4, abs=1e-5)


@FAST
@given(kernel=MATRIX_OR_KERNEL, dim=st.integers(-20, 20), bad=NON_FINITE)
def test_reshaped_and_bsn_sigma_out_of_range(kernel, dim, bad):
    assume(not -kernel.ndim <= dim < kernel.ndim)
    raises_naming("dim", SN.reshaped_sigma, kernel, dim)
    poisoned = kernel.copy()
    poisoned.flat[0] = bad
    raises_naming("kernel", SN.reshaped_sigma, poisoned)
    raises_naming("kernel", SN.bsn_sigma, poisoned)
    raises_naming("kernel", SN.reshaped_sigma, kernel.ravel())  # one axis: not a weight


@FAST
@given(W=MATRIX_OR_KERNEL, n_iter=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_power_iteration_trace_valid(W, n_iter, seed):
    cols = int(np.prod(W.shape[1:]))
    v0 = np.random.default_rng(seed).standard_normal(cols)
    trace = SN.power_iteration_trace(W, n_iter, v0)
    assert isinstance(trace, list) and len(trace) == n_iter and finite(trace)
    sigma = SN.reshaped_sigma(W)
    assert all(0 <= t <= sigma * (1 + 1e-9) + 1e-9 for t in trace)  # estimates approach sigma from below
    assert all(b >= a - 1e-9 * (1 + sigma) for a, b in zip(trace, trace[1:]))  # and never fall back
    assert SN.power_iteration(W, n_iter, v0) == trace[-1]


@FAST
@given(n_iter=st.one_of(st.integers(max_value=0), st.integers(min_value=10_001), NOT_INT), extra=st.integers(1, 5),
       bad=NON_FINITE)
def test_power_iteration_trace_out_of_range(n_iter, extra, bad):
    W = np.arange(6.0).reshape(2, 3)
    raises_naming("n_iter", SN.power_iteration_trace, W, n_iter)
    raises_naming("v0", SN.power_iteration_trace, W, 3, np.ones(3 + extra))
    raises_naming("v0", SN.power_iteration_trace, W, 3, np.array([1.0, bad, 0.0]))
    raises_naming("W", SN.power_iteration_trace, np.array([1.0, 2.0]), 3)
    raises_naming("W", SN.power_iteration_trace, np.array([[1.0, bad]]), 3)


# ---------------------------------------------------------------------------------------------
# schedule_view: dependent_params, build_schedule (and backward_view.dependent_params)
# ---------------------------------------------------------------------------------------------


def check_param_range(p: Param) -> None:
    assert p.low <= p.high, (p.key, p.low, p.high)
    assert p.low <= p.default <= p.high, (p.key, p.default, p.low, p.high)


@FAST
@given(T=st.integers(10, 2000), steps=st.integers(1, 1000))
def test_schedule_dependent_params_valid(T, steps):
    dep = schedule_view.dependent_params(T, steps)
    assert set(dep) == {"t", "steps", "step"}
    for p in dep.values():
        check_param_range(p)
    assert (dep["t"].low, dep["t"].high) == (0, T - 1)
    assert dep["steps"].high == min(T, 1000) and dep["step"].high == min(steps, T, 1000) == dep["step"].default
    for p in dep.values():  # the narrowed Param still parses its own range
        assert p.parse([str(int(p.high))]) == (int(p.high), None) and p.parse([str(int(p.high) + 1)])[1]


@pytest.mark.parametrize("T", [10, 40, 49])
def test_schedule_dependent_params_small_T(T):
    """Regression (fixed during this work): for T < 50 the 'steps' default 50 lay above the range [1, T]."""
    check_param_range(schedule_view.dependent_params(T, 50)["steps"])


@FAST
@given(n_frames=st.integers(8, 128), steps=st.integers(1, 8))
def test_backward_dependent_params_valid(n_frames, steps):
    dep = backward_view.dependent_params(n_frames, steps)
    for p in dep.values():
        check_param_range(p)
    assert dep["window_start"].high + backward_view.window_length(n_frames) == n_frames
    assert dep["train_step"].high == steps - 1


@FAST
@given(T=st.one_of(st.integers(max_value=9), st.integers(min_value=2001), NOT_INT),
       steps=st.one_of(st.integers(max_value=0), st.integers(min_value=1001), NOT_INT))
def test_schedule_dependent_params_out_of_range(T, steps):
    """Regression (fixed during this work): T = 0 gave t the range [0, -1] instead of an error."""
    raises_naming("T", schedule_view.dependent_params, T, 50)
    raises_naming("steps", schedule_view.dependent_params, 1000, steps)


PAGE_VALUES = st.fixed_dictionaries({p.key: param_value(p) for p in schedule_view.PARAMS})


@FAST
@given(name=st.sampled_from(S.SCHEDULES), v=PAGE_VALUES)
def test_build_schedule_gives_a_valid_schedule_or_a_named_error(name, v):
    try:
        s = schedule_view.build_schedule(name, v)
    except ValueError as err:  # only parameter combinations the page reports (e.g. beta_end < beta_start)
        assert str(err).split(" ")[0] in ("beta_end", "beta_max", "beta_start", "beta_min"), str(err)
        return
    T = v["T"]
    assert s.name == name and s.T == T
    assert s.betas.shape == s.alphas_cumprod.shape == (T,) and finite(s.betas, s.alphas_cumprod)
    assert np.all((s.betas > 0) & (s.betas <= 1)) and np.all(np.diff(s.alphas_cumprod) <= 0)
    assert np.all((s.alphas_cumprod >= 0) & (s.alphas_cumprod <= 1))
    assert (s.alphas_cumprod[-1] == 0) == v["ztsnr"]
    assert finite(S.vp_coefficients(s).total_variance)


@FAST
@given(name=st.text(max_size=12), v=PAGE_VALUES, T=st.one_of(st.integers(max_value=1), st.integers(min_value=10_001)))
def test_build_schedule_out_of_range(name, v, T):
    assume(name not in S.SCHEDULES)
    raises_naming("schedule", schedule_view.build_schedule, name, v)
    raises_naming("T", schedule_view.build_schedule, "cosine", {**v, "T": T})
    raises_naming("s ", schedule_view.build_schedule, "cosine", {**v, "cosine_s": -0.5})


# ---------------------------------------------------------------------------------------------
# figures: every builder returns a go.Figure whose arrays are finite for finite input;
# exports.figure_csv holds exactly the numbers of the figure
# ---------------------------------------------------------------------------------------------

VALUE = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)  # plot data is float32 by design
POSITIVE = st.floats(float(np.float32(1e-6)), 1e6, width=32, allow_subnormal=False)
NAME = st.text(min_size=1, max_size=12)


def vec(n, elements=VALUE):
    return hnp.arrays(np.float64, n, elements=elements)


BUILDERS = ("schedule_curves", "variance_split", "snr_curves", "measured_vs_theory", "scatter_2d", "image",
            "generation_panels", "step_curve", "noise_level_matrices", "frame_strips", "frames_animation",
            "per_frame_curves", "image_grid", "spectra_grid", "power_trace", "sigma_bars", "conv_norm_bars",
            "training_curves", "coverage_curve", "prediction_bars", "with_pinned", "frequency_power", "score_fields", "step_rug", "discriminator_surface")
FIGURES = settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def test_every_figure_builder_is_covered():
    public = {name for name, fn in vars(F).items() if callable(fn) and not name.startswith("_")
              and getattr(fn, "__module__", "") == F.__name__ and getattr(fn, "__annotations__", {}).get("return")
              in ("go.Figure", go.Figure)}
    assert public == set(BUILDERS)


@st.composite
def figure_case(draw, which: str):
    """(builder name, figure) for the builder `which` with random, finite arrays."""
    n = draw(st.integers(2, 30))
    t = np.arange(n, dtype=np.float64)
    k = draw(st.integers(1, 3))
    names = draw(st.lists(NAME, min_size=k, max_size=k, unique=True))
    frames = lambda m: draw(hnp.arrays(np.float64, (m, 4, 5), elements=st.floats(-1, 1, width=32)))  # noqa: E731
    if which == "schedule_curves":
        fig = F.schedule_curves(t, [(nm, draw(vec(n, POSITIVE)), draw(vec(n))) for nm in names])
    elif which == "variance_split":
        contrast = (names[0], draw(vec(n)), draw(vec(n))) if draw(st.booleans()) else None
        fig = F.variance_split(t, names[0], draw(vec(n)), draw(vec(n)), contrast)
    elif which == "snr_curves":
        elems = st.one_of(st.floats(-60, 60, width=32), st.just(-math.inf))  # -inf: zero terminal SNR
        fig = F.snr_curves(t, [(nm, draw(vec(n, elems))) for nm in names])
    elif which == "measured_vs_theory":
        points = [(nm, t[::2], draw(vec(len(t[::2]), POSITIVE))) for nm in names]
        fig = F.measured_vs_theory(t, [(nm, draw(vec(n, POSITIVE))) for nm in names], points, draw(st.booleans()))
    elif which == "scatter_2d":
        ref = draw(hnp.arrays(np.float64, (n, 2), elements=VALUE)) if draw(st.booleans()) else None
        fig = F.scatter_2d(draw(hnp.arrays(np.float64, (n, 2), elements=VALUE)), names[0], ref)
    elif which == "image":
        fig = F.image(draw(hnp.arrays(np.float64, (n, 3), elements=VALUE)), names[0])
    elif which == "generation_panels":
        density = (t, draw(hnp.arrays(np.float64, (n, n), elements=st.floats(-50, 5, width=32))))
        fig = F.generation_panels([(nm, draw(hnp.arrays(np.float64, (n, 2), elements=VALUE))) for nm in names],
                                  density if draw(st.booleans()) else None)
    elif which == "step_curve":
        fig = F.step_curve(t, [(nm, draw(vec(n))) for nm in names], "x", "y",
                           marker=draw(st.one_of(st.none(), VALUE)), log_y=draw(st.booleans()))
    elif which == "noise_level_matrices":
        fig = F.noise_level_matrices([(nm, draw(hnp.arrays(np.float64, (n, 4), elements=st.floats(0, 1))))
                                      for nm in names], max_frames=draw(st.integers(1, 40)))
    elif which == "frame_strips":
        m = draw(st.integers(1, 6))
        ids = draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m))
        fig = F.frame_strips([(nm, frames(m)) for nm in names], ids)
    elif which == "frames_animation":
        m = draw(st.integers(1, 5))
        fig = F.frames_animation([(nm, frames(m)) for nm in names])
    elif which == "per_frame_curves":
        fig = F.per_frame_curves(t, [(nm, [(f"{nm}/a", draw(vec(n))), ("true video", draw(vec(n)), F.REFERENCE)])
                                     for nm in names],
                                 horizon=draw(st.integers(1, n)))
    elif which == "image_grid":
        m = draw(st.integers(1, 5))
        labels = [f"n={i}" for i in range(m)] if draw(st.booleans()) else None
        fig = F.image_grid([(nm, frames(m)) for nm in names], col_labels=labels)
    elif which == "spectra_grid":
        fig = F.spectra_grid([(nm, draw(vec(n, POSITIVE)), draw(vec(n, POSITIVE))) for nm in names],
                             cols=draw(st.integers(1, 4)))
    elif which == "power_trace":
        fig = F.power_trace(draw(vec(n, POSITIVE)), draw(POSITIVE), names[0])
    elif which == "sigma_bars":
        fig = F.sigma_bars(names, draw(vec(k, POSITIVE)), draw(vec(k, POSITIVE)))
    elif which == "conv_norm_bars":
        fig = F.conv_norm_bars(names, [(nm, draw(vec(k, POSITIVE))) for nm in names])
    elif which == "coverage_curve":
        fig = F.coverage_curve(t, draw(hnp.arrays(np.float64, n, elements=st.integers(0, 8).map(float))), 8)
    elif which == "frequency_power":
        k = t + 1
        series = [(nm, draw(vec(n, POSITIVE)), draw(st.floats(1e-6, 1e3)),
                   draw(st.one_of(st.none(), st.floats(1, n))), F.SERIES) for nm in names]
        fig = F.frequency_power(k, series, n)
    elif which == "score_fields":
        pts = draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-3, 3)))
        fields = [(nm, draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-1, 1))), F.SERIES) for nm in names]
        fig = F.score_fields(pts[:, 0], pts[:, 1], fields, (np.linspace(-3, 3, 5), draw(hnp.arrays(
            np.float64, (5, 5), elements=st.floats(0, 10)))), names[0], 3.0)
    elif which == "discriminator_surface":
        grid = np.linspace(-3, 3, 5)
        pts = draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-3, 3)))
        fig = F.discriminator_surface(grid, draw(hnp.arrays(np.float64, (5, 5), elements=st.floats(-5, 5))), pts,
                                      pts[:2], names[0])
    elif which == "step_rug":
        elems = st.one_of(st.floats(-60, 60, width=32), st.just(-math.inf))
        fig = F.step_rug([(nm, draw(vec(n, elems)), nm) for nm in names])
    elif which == "with_pinned":
        curves = lambda: [(nm, draw(vec(n))) for nm in names]  # noqa: E731
        fig = F.with_pinned(F.snr_curves(t, curves()), F.snr_curves(t, curves()))
    elif which == "prediction_bars":
        counts = draw(st.lists(st.integers(0, 500), min_size=k, max_size=k))
        right = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=k, max_size=k)))
        fig = F.prediction_bars(names, counts, names[0], right)
    else:
        fig = F.training_curves(t, [(nm, [(f"{nm}/{j}", draw(vec(n))) for j in range(2)], draw(st.booleans()))
                                    for nm in names])
    return which, fig


def numeric_arrays(fig: go.Figure):
    """Every numeric data array of every trace (and of every animation frame)."""
    traces = list(fig.data) + [tr for fr in (fig.frames or ()) for tr in fr.data]
    for trace in traces:
        for attr in ("x", "y", "z"):
            value = getattr(trace, attr, None) if attr in trace else None
            if value is None:
                continue
            arr = np.asarray(value, dtype=object).ravel()
            nums = [v for v in arr if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
            yield trace, attr, np.asarray(nums, dtype=np.float64)


@pytest.mark.parametrize("which", BUILDERS)
@FIGURES
@given(data=st.data())
def test_figure_builders_give_finite_arrays_for_finite_input(which, data):
    which, fig = data.draw(figure_case(which))
    assert isinstance(fig, go.Figure) and len(fig.data) >= 1, which
    n_numbers = 0
    for trace, attr, nums in numeric_arrays(fig):
        if which == "score_fields" and trace.type == "scatter":
            # Arrows are tail, head, barb, head, barb, gap: the gap (NaN) is the only non-finite value.
            k = F.ARROW_POINTS
            assert np.isnan(nums[k - 1::k]).all() and finite(*(nums[i::k] for i in range(k - 1))), (which, attr)
        else:
            assert finite(nums), (which, trace.type, attr)
        n_numbers += len(nums)
    assert n_numbers > 0, which
    go.Figure(fig.to_dict())  # valid for Plotly: the builders skip validation, the validating constructor does not


def csv_columns(text: str) -> dict[int, dict[str, list[str]]]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    out: dict[int, dict[str, list[str]]] = {}
    for row in rows:
        col = out.setdefault(int(row["trace"]), {"name": [], "x": [], "y": [], "z": [], "index": []})
        for key in col:
            col[key].append(row[key])
    return out


def same(cell: str, value) -> bool:
    if isinstance(value, str):
        return cell == value
    if isinstance(value, float) and math.isnan(value):
        return cell == "nan"
    return float(cell) == float(value)


@pytest.mark.parametrize("which", BUILDERS)
@FIGURES
@given(data=st.data())
def test_figure_csv_holds_exactly_the_numbers_of_the_figure(which, data):
    which, fig = data.draw(figure_case(which))
    columns = csv_columns(figure_csv(fig))
    for i, trace in enumerate(fig.data):
        expected = {}
        for attr in ("x", "y", "z"):
            value = getattr(trace, attr, None) if attr in trace else None
            expected[attr] = [] if value is None else np.asarray(value, dtype=object).ravel().tolist()
        length = max(len(v) for v in expected.values())
        if length == 0:
            assert i not in columns
            continue
        col = columns[i]
        assert col["index"] == [str(j) for j in range(length)], which
        assert set(col["name"]) == {trace.name or f"trace {i}"}, which
        for attr, values in expected.items():
            cells = col[attr]
            assert all(same(c, v) for c, v in zip(cells, values)), (which, i, attr)
            assert all(c == "" for c in cells[len(values):]), (which, i, attr)
