"""One test per qualitative claim the spectral-normalization page makes (explainers/prose/spectral.py CLAIMS).

Mathematical statements are checked on random cases with hypothesis, against the dense matrix of the
operator where one is involved, so a claim that became false would fail here.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from explainers import spectral as S
from explainers.device import configure_threads

configure_threads()

CHEAP = settings(max_examples=40, deadline=None)


def dense_zero_padded_conv(kernel: torch.Tensor, n: int, stride: int, padding: int, dilation: int) -> torch.Tensor:
    """The convolution as the layer runs it (zero padding), as a matrix: conv2d of every basis image."""
    in_c = kernel.shape[1]
    basis = torch.eye(in_c * n * n, dtype=torch.float64).reshape(-1, in_c, n, n)
    columns = F.conv2d(basis, kernel.double(), stride=stride, padding=padding, dilation=dilation)
    return columns.reshape(len(basis), -1).T


def random_kernel(seed: int, out_c: int, in_c: int, kh: int, kw: int) -> torch.Tensor:
    return torch.randn(out_c, in_c, kh, kw, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def with_spectrum(singular, out_features: int, in_features: int, seed: int) -> torch.Tensor:
    """A float64 matrix with exactly these singular values (random singular vectors)."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(out_features, out_features, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(in_features, in_features, generator=g, dtype=torch.float64))
    D = torch.zeros(out_features, in_features, dtype=torch.float64)
    D[range(len(singular)), range(len(singular))] = torch.tensor(singular, dtype=torch.float64)
    return U @ D @ V.T


conv_settings = dict(seed=st.integers(0, 10_000), out_c=st.integers(1, 3), in_c=st.integers(1, 3),
                     kh=st.sampled_from([1, 2, 3]), kw=st.sampled_from([1, 3]), stride=st.integers(1, 3),
                     padding=st.integers(0, 2), dilation=st.integers(1, 2), extra=st.integers(0, 3))


def fitting_size(kh, kw, stride, padding, dilation, extra) -> tuple[int, int]:
    """An input size that holds one whole receptive field away from the padding, and that output's index."""
    reach = dilation * (max(kh, kw) - 1) + 1
    i = math.ceil(padding / stride)  # the first output whose receptive field starts inside the input
    return i * stride - padding + reach + extra, i


# --- convolutions: the reshaped σ bounds the operator norm from below, √(kh·kw)·σ from above ---------------


@CHEAP
@given(**conv_settings)
def test_conv_operator_norm_is_never_below_reshaped_sigma(seed, out_c, in_c, kh, kw, stride, padding, dilation, extra):
    kernel = random_kernel(seed, out_c, in_c, kh, kw)
    sigma = S.reshaped_sigma(kernel)
    n, i = fitting_size(kh, kw, stride, padding, dilation, extra)
    # The page's one-line argument: v1 in one receptive field, zeros elsewhere -> that output has norm σ.
    v1 = torch.linalg.svd(S.reshape_to_matrix(kernel, 0)).Vh[0].reshape(in_c, kh, kw)
    x = torch.zeros(1, in_c, n, n, dtype=torch.float64)
    top = i * stride - padding
    x[0, :, top:top + dilation * (kh - 1) + 1:dilation, top:top + dilation * (kw - 1) + 1:dilation] = v1
    y = F.conv2d(x, kernel, stride=stride, padding=padding, dilation=dilation)
    assert float(torch.linalg.vector_norm(y[0, :, i, i])) == pytest.approx(sigma, rel=1e-9)
    dense = float(torch.linalg.matrix_norm(dense_zero_padded_conv(kernel, n, stride, padding, dilation), ord=2))
    assert dense >= sigma * (1 - 1e-9)
    # And with circular padding, as section 4's exact formula computes it.
    if n % stride == 0 and n >= dilation * (max(kh, kw) - 1) + 1:
        assert S.strided_conv_operator_norm(kernel, n, stride, dilation) >= sigma * (1 - 1e-9)


@CHEAP
@given(**conv_settings)
def test_conv_operator_norm_is_at_most_sqrt_kernel_area_times_reshaped_sigma(seed, out_c, in_c, kh, kw, stride,
                                                                              padding, dilation, extra):
    kernel = random_kernel(seed, out_c, in_c, kh, kw)
    n, _ = fitting_size(kh, kw, stride, padding, dilation, extra)
    dense = float(torch.linalg.matrix_norm(dense_zero_padded_conv(kernel, n, stride, padding, dilation), ord=2))
    assert dense <= math.sqrt(kh * kw) * S.reshaped_sigma(kernel) * (1 + 1e-9)
    assert S.conv_norm_upper_bound(kernel) == pytest.approx(math.sqrt(kh * kw) * S.reshaped_sigma(kernel))


def test_all_ones_kernel_has_reshaped_sigma_3_and_operator_norm_9():
    ones = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    assert S.reshaped_sigma(ones) == pytest.approx(3.0)
    assert S.conv_operator_norm(ones, 16) == pytest.approx(9.0)


@CHEAP
@given(**conv_settings)
def test_zero_padded_norm_matches_the_dense_matrix(seed, out_c, in_c, kh, kw, stride, padding, dilation, extra):
    kernel = random_kernel(seed, out_c, in_c, kh, kw)
    n, _ = fitting_size(kh, kw, stride, padding, dilation, extra)
    dense = float(torch.linalg.matrix_norm(dense_zero_padded_conv(kernel, n, stride, padding, dilation), ord=2))
    estimate = S.zero_padded_conv_operator_norm(kernel, n, stride, padding, dilation, n_iter=3000)
    assert estimate <= dense * (1 + 1e-9)  # ||A x|| for a unit x: a lower bound
    assert estimate == pytest.approx(dense, rel=1e-3)


def test_zero_padded_norm_of_the_frame_model_differs_from_the_circular_one():
    """Section 4: the model pads with zeros; the circular formula is off by several percent on conv_inner2
    (3.105 circular against 2.878 zero-padded), and every layer lies above its reshaped σ."""
    from explainers import spectral_view as V

    rows = {r.layer: r for r in V.conv_norms(V.base_network("frame_model", 0))}
    inner2 = rows["conv_inner2"]
    assert inner2.operator == pytest.approx(3.105, abs=0.002) and inner2.zero_padded == pytest.approx(2.878, abs=0.002)
    assert (inner2.operator - inner2.zero_padded) / inner2.zero_padded > 0.05
    for r in rows.values():
        assert r.zero_padded >= r.reshaped and r.operator >= r.reshaped, r.layer
        assert r.zero_padded <= r.bound and r.operator <= r.bound * (1 + 1e-6), r.layer
    caption = V.conv_caption(list(rows.values()))
    assert "7.9% (conv_inner2)" in caption and "conv_inner2 1.59, 3.11, 2.88" in caption  # formatted from the rows


def test_scaling_raw_zero_padded_norms_equals_computing_them_on_the_normalized_layers():
    from explainers import spectral_view as V

    base = V.base_network("frame_model", 0)
    net = V.normalized(base, {"conv_in": "sn", "conv_inner2": "bsn", "conv_out": "optional"}, 1, 0.5, 0)
    direct = V.conv_norms(net)
    scaled = V.conv_norms(net, base=base, base_zero_padded=V.zero_padded_norms(base))
    assert [r.zero_padded for r in scaled] == pytest.approx([r.zero_padded for r in direct], rel=1e-6)


# --- power iteration --------------------------------------------------------------------------------------------


@CHEAP
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 8), cols=st.integers(1, 8), n_iter=st.integers(1, 30))
def test_power_iteration_estimate_never_exceeds_sigma(seed, rows, cols, n_iter):
    W = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    sigma = S.reshaped_sigma(W)
    assert max(S.power_iteration_trace(W, n_iter)) <= sigma * (1 + 1e-12)


# --- what each mode does to a layer ----------------------------------------------------------------------------


def one_layer(weight: torch.Tensor) -> nn.Sequential:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
    return nn.Sequential(layer)


@CHEAP
@given(seed=st.integers(0, 10_000), sigma=st.floats(0.05, 0.95), shape=st.tuples(st.integers(2, 6), st.integers(2, 6)))
def test_sn_raises_a_layer_with_sigma_below_1(seed, sigma, shape):
    weight = with_spectrum([sigma, sigma / 3], *shape, seed)
    after = S.layer_sigmas(S.apply_layer_modes(one_layer(weight), {"0": "sn"}, seed=seed).eval())["0"]
    # power iteration approaches σ from below, so W / σ̂ has σ >= 1; a clear gap lets it converge.
    assert after == pytest.approx(1.0, rel=1e-6) and after > sigma


def test_sn_raises_the_gan_discriminators_output_layer():
    """Lesson step 3 and the misconceptions: D.out starts below 1 for every seed, and SN brings it to 1."""
    from explainers import spectral_view as V

    for seed in range(5):
        base = V.base_network("gan", seed)
        raw = S.layer_sigmas(base)["D.out"]
        after = S.layer_sigmas(V.normalized(base, {"D.out": "sn"}, 1, 1.0, seed))["D.out"]
        assert raw < 0.8 and after == pytest.approx(1.0, rel=1e-5)


@CHEAP
@given(seed=st.integers(0, 10_000), sigma=st.floats(0.1, 5.0), threshold=st.floats(0.1, 5.0),
       shape=st.tuples(st.integers(2, 6), st.integers(2, 6)))
def test_clip_mode_leaves_sigma_below_threshold_alone_and_brings_the_rest_to_it(seed, sigma, threshold, shape):
    weight = with_spectrum([sigma, sigma / 3], *shape, seed)
    model = S.apply_layer_modes(one_layer(weight), {"0": "optional"}, threshold=threshold, seed=seed).eval()
    if sigma < threshold * (1 - 1e-9):
        assert torch.equal(S.effective_weight(model[0]), weight)  # untouched, bit for bit
    elif sigma > threshold * (1 + 1e-9):
        assert S.layer_sigmas(model)["0"] == pytest.approx(threshold, rel=1e-6)
    else:  # σ = λ up to rounding: either branch leaves the weight as it is
        assert torch.allclose(S.effective_weight(model[0]), weight, rtol=1e-8, atol=0)


@CHEAP
@given(seed=st.integers(0, 10_000), singular=st.lists(st.floats(0.1, 5.0), min_size=2, max_size=4))
def test_sn_divides_the_whole_spectrum_by_sigma_and_leaves_other_layers_alone(seed, singular):
    top, *rest = sorted(singular, reverse=True)
    singular = [top, *(min(s, top / 2) for s in rest)]  # a gap, so 15 warm-up iterations pin σ
    first = with_spectrum(singular, 5, 4, seed)
    net = nn.Sequential(one_layer(first)[0], nn.ReLU(), one_layer(with_spectrum([2.0, 1.0], 3, 5, seed + 1))[0])
    model = S.apply_layer_modes(net, {"0": "sn"}, seed=seed).eval()
    after = S.singular_values(S.effective_weight(model[0]))
    assert after == pytest.approx(np.sort(np.asarray(S.singular_values(first)))[::-1] / max(singular), rel=1e-6)
    assert torch.equal(model[2].weight, net[2].weight)


def test_bsn_equals_sn_on_a_linear_layer():
    weight = with_spectrum([3.0, 1.0], 4, 3, 0)
    sn = S.apply_layer_modes(one_layer(weight), {"0": "sn"}, seed=1)
    bsn = S.apply_layer_modes(one_layer(weight), {"0": "bsn"}, seed=1)
    assert S.bsn_sigma(weight) == pytest.approx(S.reshaped_sigma(weight))
    assert torch.equal(S.effective_weight(sn[0]), S.effective_weight(bsn[0]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), modes=st.lists(st.sampled_from(S.MODES), min_size=3, max_size=3),
       n_iter=st.integers(1, 5))
def test_eval_mode_never_changes_the_model(seed, modes, n_iter):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(4, 2))
    model = S.apply_layer_modes(net, dict(zip(("0", "2", "4"), modes)), n_power_iterations=n_iter, seed=seed).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0](torch.randn(5, 3))
        model[2](torch.randn(1, 1, 4, 4))
        model[4](torch.randn(5, 4))
        S.layer_sigmas(model)
    assert before.keys() == model.state_dict().keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --- networks --------------------------------------------------------------------------------------------------


@CHEAP
@given(seed=st.integers(0, 10_000), widths=st.lists(st.integers(1, 6), min_size=2, max_size=4))
def test_product_of_sigmas_bounds_a_chain_with_1_lipschitz_activations(seed, widths):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip([2, *widths], [*widths, 1]):
        layers += [nn.Linear(a, b).double(), nn.LeakyReLU(0.2)]
    net = nn.Sequential(*layers[:-1])
    bound = S.lipschitz_bound(net)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(500, 2, generator=g, dtype=torch.float64), torch.randn(500, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        ratios = (net(x) - net(y)).norm(dim=1) / (x - y).norm(dim=1)
    assert float(ratios.max()) <= bound * (1 + 1e-9)


def test_sn_on_a_trained_layer_changes_the_function_at_once():
    from explainers import spectral_view as V

    base = V.base_network("denoiser2d", 0)
    x, log_snr = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(64)
    normalized = V.normalized(base, {"hidden1": "sn"}, 1, 1.0, 0)
    with torch.no_grad():
        gap = (base(x, log_snr) - normalized(x, log_snr)).abs().max()
    assert float(gap) > 0.1


# --- lesson step 6: training with and without SN on the discriminator -------------------------------------------


def test_lesson_train_with_and_without_shows_the_difference():
    """What the step's answer says, run exactly as the page runs it with the step's settings (seed 0)."""
    from explainers import spectral_view as V
    from explainers.lessons import LESSONS
    from explainers.spectral_training import train_gan
    from explainers.state import read_url

    step = next(s for s in LESSONS["spectral_norm"] if s.title == "Train with and without")
    values = {**dict(read_url(V.PARAMS, {}).values), **step.params}
    runs = {}
    for name, mode in (("sn", "sn"), ("off", "off")):
        v = {**values, **{V.mode_key(layer): mode for layer in ("D.hidden1", "D.hidden2", "D.hidden3", "D.out")}}
        runs[name] = train_gan(V.gan_config(v), 0, values["train_steps"])
    sn, off = runs["sn"], runs["off"]
    # "With SN the bound stays between 1 and about 1.3; without SN it climbs past 100."
    assert 1 - 1e-3 <= min(sn.d_lipschitz_bound) and max(sn.d_lipschitz_bound) <= 1.35
    assert max(off.d_lipschitz_bound) > 100
    # "At 3,000 steps ... all 8 modes (1.00) and the run without covers 6 (0.75); after 1,000 both 0.00."
    answer = step.answer
    assert "3,000" in answer and values["train_steps"] == 3000
    assert sn.coverage[-1] == 1.0 and off.coverage[-1] == 0.75 and "(0.75)" in answer and "(mode coverage 1.00)" in answer
    at_1000 = sn.sample_steps.index(1000)
    assert sn.coverage[at_1000] == 0.0 and off.coverage[at_1000] == 0.0 and "(both 0.00)" in answer
    assert re.search(r"covers 6 \(0\.75\)", answer)
