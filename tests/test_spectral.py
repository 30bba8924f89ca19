"""Spectral normalization (REFERENCE.md section 3): sigma estimates, conv operator norms, per-layer
modes, and the GAN training that records them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from explainers import spectral as S
from explainers.device import configure_threads
from explainers.gan import RING8_STD, make_gan, mode_coverage, ring8_centers, ring8_sample
from explainers.spectral_training import GanConfig, main, train_gan

configure_threads()  # one torch thread, as the app runs: small ops on 2 shared cores crawl with more

W_REF = [[3.0, 0.0], [4.0, 5.0]]
SIGMA_REF = math.sqrt(45)  # 6.7082039


def with_spectrum(singular, out_features, in_features, seed=0):
    """A weight matrix with the given singular values (random singular vectors)."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(out_features, out_features, generator=g))
    V, _ = torch.linalg.qr(torch.randn(in_features, in_features, generator=g))
    D = torch.zeros(out_features, in_features)
    D[range(len(singular)), range(len(singular))] = torch.tensor(singular, dtype=torch.float32)
    return U @ D @ V.T


def dense_circular_conv(kernel: torch.Tensor, n: int) -> torch.Tensor:
    """The convolution as a matrix: conv2d with circular padding applied to every basis image."""
    c_out, c_in, kh, kw = kernel.shape
    basis = torch.eye(c_in * n * n, dtype=torch.float64).reshape(-1, c_in, n, n)
    padded = F.pad(basis, (kw // 2, kw // 2, kh // 2, kh // 2), mode="circular")
    columns = F.conv2d(padded, kernel.double())  # (c_in*n*n, c_out, n, n)
    return columns.reshape(c_in * n * n, c_out * n * n).T


# --- power iteration ------------------------------------------------------------------------


def test_power_iteration_matches_reference_values():
    assert S.power_iteration_trace(W_REF, 3, [1.0, 0.0]) == pytest.approx([6.4031242, 6.7041185, 6.7081534], abs=1e-7)
    assert S.power_iteration(W_REF, 2, np.array([1.0, 0.0])) == pytest.approx(6.7041185, abs=1e-7)
    assert S.power_iteration(torch.tensor(W_REF), 60, [1.0, 0.0]) == pytest.approx(SIGMA_REF, rel=1e-6)  # float32 in, float32 math
    assert S.power_iteration(np.array(W_REF), 60, [1.0, 0.0]) == pytest.approx(SIGMA_REF, abs=1e-9)
    assert S.reshaped_sigma(W_REF) == pytest.approx(SIGMA_REF, abs=1e-7)


def test_power_iteration_follows_torch_spectral_norm_update_order():
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W_REF))
    torch.nn.utils.parametrizations.spectral_norm(layer, n_power_iterations=1)
    state = layer.parametrizations.weight[0]
    with torch.no_grad():
        state._v.copy_(torch.tensor([1.0, 0.0]))
    layer.train()
    # Each training-mode access runs one iteration; torch's sigma is W[1,0] / W_SN[1,0].
    torch_estimates = [4.0 / float(layer.weight[1, 0].detach()) for _ in range(3)]
    assert torch_estimates == pytest.approx(S.power_iteration_trace(W_REF, 3, [1.0, 0.0]), rel=1e-6)


def test_power_iteration_climbs_towards_sigma_from_below():
    W = torch.randn(20, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    trace = S.power_iteration_trace(W, 20)
    sigma = S.reshaped_sigma(W)
    assert all(a <= b + 1e-12 for a, b in zip(trace, trace[1:]))
    assert max(trace) <= sigma + 1e-12
    assert trace[-1] > 0.9 * sigma


# --- reshaped sigma, BSN, conv operator norm ------------------------------------------------


def test_all_ones_kernel_reshaped_sigma_3_but_operator_norm_9():
    ones = np.ones((1, 1, 3, 3))
    assert S.reshaped_sigma(ones) == pytest.approx(3.0, abs=1e-12)
    assert S.bsn_sigma(ones) == pytest.approx(3.0, abs=1e-12)
    for n in (3, 8, 32):
        assert S.conv_operator_norm(ones, n) == pytest.approx(9.0, abs=1e-9)
    assert S.conv_operator_norm(torch.ones(1, 1, 3, 3), 8) == pytest.approx(9.0, rel=1e-6)


@pytest.mark.parametrize("shape,n", [((1, 1, 3, 3), 5), ((2, 3, 3, 3), 4), ((3, 2, 3, 3), 6),
                                     ((2, 2, 1, 1), 4), ((2, 3, 1, 3), 5), ((2, 2, 5, 5), 5)])
def test_conv_operator_norm_equals_dense_matrix_norm(shape, n):
    kernel = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape) + n), dtype=torch.float64)
    dense = dense_circular_conv(kernel, n)
    assert S.conv_operator_norm(kernel, n) == pytest.approx(float(torch.linalg.svdvals(dense)[0]), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(c_out=st.integers(1, 4), c_in=st.integers(1, 4), kh=st.sampled_from([1, 3, 5]), kw=st.sampled_from([1, 3]),
       n=st.integers(5, 9), seed=st.integers(0, 10_000))
def test_conv_norm_at_most_sqrt_kernel_area_times_reshaped_sigma(c_out, c_in, kh, kw, n, seed):
    kernel = np.random.default_rng(seed).standard_normal((c_out, c_in, kh, kw))
    conv = S.conv_operator_norm(kernel, n)
    assert conv <= math.sqrt(kh * kw) * S.reshaped_sigma(kernel) * (1 + 1e-9)
    assert S.conv_norm_upper_bound(kernel) == pytest.approx(math.sqrt(kh * kw) * S.reshaped_sigma(kernel))
    # The zero frequency alone (sum of the taps) is a lower bound.
    assert conv >= np.linalg.norm(kernel.sum(axis=(2, 3)), 2) * (1 - 1e-9)


def test_reshaped_and_bsn_sigma_against_svdvals():
    kernel = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    by_out = torch.linalg.svdvals(kernel.reshape(6, -1))
    by_in = torch.linalg.svdvals(kernel.transpose(0, 1).reshape(4, -1))
    assert S.reshaped_sigma(kernel, dim=0) == pytest.approx(float(by_out[0]), rel=1e-12)
    assert S.reshaped_sigma(kernel, dim=1) == pytest.approx(float(by_in[0]), rel=1e-12)
    assert S.bsn_sigma(kernel) == pytest.approx(float(by_out[0] + by_in[0]) / 2, rel=1e-12)
    assert np.allclose(S.singular_values(kernel), by_out.numpy())
    assert S.reshaped_sigma(kernel, 0) != pytest.approx(S.reshaped_sigma(kernel, 1))


def test_bsn_equals_sn_for_linear_layers():
    W = np.random.default_rng(3).standard_normal((7, 5))
    assert S.bsn_sigma(W) == pytest.approx(S.reshaped_sigma(W), rel=1e-12)
    model = nn.Sequential(nn.Linear(5, 7))
    sn = S.apply_layer_modes(model, {"0": "sn"}, seed=4)
    bsn = S.apply_layer_modes(model, {"0": "bsn"}, seed=4)
    assert torch.equal(S.effective_weight(sn[0]), S.effective_weight(bsn[0]))


# --- per-layer modes --------------------------------------------------------------------------


def small_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2))
    with torch.no_grad():
        net[0].weight.copy_(with_spectrum([5.0, 2.0, 1.0], 4, 3))
        net[2].weight.copy_(with_spectrum([1.5, 0.5], 2, 4))
    return net


def test_modes_set_each_layers_sigma():
    net = small_net()
    assert S.layer_sigmas(net) == pytest.approx({"0": 5.0, "2": 1.5}, rel=1e-5)
    assert S.lipschitz_bound(net) == pytest.approx(7.5, rel=1e-5)
    sn = S.apply_layer_modes(net, {"0": "sn", "2": "sn"})
    assert S.layer_sigmas(sn) == pytest.approx({"0": 1.0, "2": 1.0}, rel=1e-5)
    # optional, threshold 2: the layer with sigma 5 is pulled down to 2, the one with 1.5 is left alone.
    opt = S.apply_layer_modes(net, {"0": "optional", "2": "optional"}, threshold=2.0)
    assert S.layer_sigmas(opt) == pytest.approx({"0": 2.0, "2": 1.5}, rel=1e-5)
    assert torch.equal(S.effective_weight(opt[2]), net[2].weight.detach())
    mixed = S.apply_layer_modes(net, {"0": "sn"})
    assert S.layer_sigmas(mixed) == pytest.approx({"0": 1.0, "2": 1.5}, rel=1e-5)
    back = S.apply_layer_modes(mixed, {"0": "off"})
    assert torch.equal(back[0].weight, net[0].weight)


def test_bsn_on_conv_divides_by_mean_of_both_reshapes():
    conv = nn.Conv2d(3, 5, 3)
    model = S.apply_layer_modes(nn.Sequential(conv), {"0": "bsn"}, n_power_iterations=50)
    model.train()
    model(torch.zeros(1, 3, 4, 4))  # one training-mode forward: 50 more power iterations
    expected = conv.weight.detach() / S.bsn_sigma(conv.weight)
    assert torch.allclose(S.effective_weight(model[0]), expected, rtol=1e-4, atol=1e-6)


def test_apply_layer_modes_never_touches_the_input_model():
    G, D = make_gan(0)
    before = {k: v.numpy().tobytes() for k, v in D.state_dict().items()}
    copy_ = S.apply_layer_modes(D, {"hidden1": "sn", "hidden2": "bsn", "hidden3": "optional"}, n_power_iterations=3)
    opt = torch.optim.Adam(copy_.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        copy_(torch.randn(16, 2)).mean().backward()
        opt.step()
    assert copy_ is not D
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in D.modules())
    assert {k: v.numpy().tobytes() for k, v in D.state_dict().items()} == before


def test_layer_sigmas_do_not_advance_the_power_iteration():
    model = S.apply_layer_modes(small_net(), {"0": "sn", "2": "optional"})
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    S.layer_sigmas(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())


def test_lipschitz_bound_bounds_the_discriminator():
    _, D = make_gan(1)
    bound = S.lipschitz_bound(D)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2000, 2, generator=g), torch.randn(2000, 2, generator=g)
    with torch.no_grad():
        ratios = (D(x) - D(y)).abs() / (x - y).norm(dim=1)
    assert float(ratios.max()) <= bound


def test_conv_layers_count_sqrt_kernel_area_in_the_bound():
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 1, 1))
    sigmas = S.layer_sigmas(net)
    assert sigmas["0"] == pytest.approx(S.reshaped_sigma(net[0].weight), rel=1e-6)
    assert S.lipschitz_bound(net) == pytest.approx(3 * sigmas["0"] * sigmas["2"], rel=1e-9)


# --- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("call,parameter", [
    (lambda: S.power_iteration(W_REF, 0, [1, 0]), "n_iter"),
    (lambda: S.power_iteration(W_REF, 2.5, [1, 0]), "n_iter"),
    (lambda: S.power_iteration(W_REF, 3, [1, 0, 0]), "v0"),
    (lambda: S.power_iteration([1.0, 2.0], 3, [1]), "W"),
    (lambda: S.reshaped_sigma([[1.0, float("nan")]]), "kernel"),
    (lambda: S.reshaped_sigma(np.ones((2, 2)), dim=2), "dim"),
    (lambda: S.conv_operator_norm(np.ones((1, 1, 3, 3)), 2), "n"),
    (lambda: S.conv_operator_norm(np.ones((3, 3)), 8), "kernel"),
    (lambda: S.apply_layer_modes(small_net(), {"0": "spectral"}), "modes"),
    (lambda: S.apply_layer_modes(small_net(), {"1": "sn"}), "modes"),
    (lambda: S.apply_layer_modes(small_net(), {"0": "sn"}, n_power_iterations=0), "n_power_iterations"),
    (lambda: S.apply_layer_modes(small_net(), {"0": "sn"}, threshold=0.0), "threshold"),
    (lambda: S.apply_layer_modes(small_net(), {"0": "sn"}, threshold=float("inf")), "threshold"),
    (lambda: train_gan(GanConfig(), 0, 0), "n_steps"),
    (lambda: train_gan(GanConfig(), 0, 5, device="tpu"), "device"),
    (lambda: train_gan(GanConfig(d_modes="spectral"), 0, 5), "d_modes"),
    (lambda: train_gan(GanConfig(g_modes={"out": "xx"}), 0, 5), "modes"),
    (lambda: train_gan(GanConfig(n_power_iterations=1000), 0, 5), "n_power_iterations"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=parameter):
        call()


# --- the ring of 8 Gaussians and mode coverage ---------------------------------------------


def test_ring8_samples_and_mode_coverage():
    x = ring8_sample(20_000, torch.Generator().manual_seed(0))
    radius = x.norm(dim=1)
    assert float(radius.mean()) == pytest.approx(2.0, abs=0.01)
    scores = mode_coverage(x)
    assert scores["coverage"] == 1.0
    assert scores["mode_shares"] == pytest.approx(np.full(8, 1 / 8 * (1 - math.exp(-4.5))), abs=0.01)
    # Within 3 std in 2D: P(chi2_2 < 9) = 1 - exp(-4.5) = 0.9889.
    assert scores["quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    collapsed = ring8_centers()[[0]] + RING8_STD * np.random.default_rng(0).standard_normal((1000, 2))
    assert mode_coverage(collapsed)["coverage"] == 1 / 8
    # The GAN page's coverage is data2d's definition with a quarter of the fair share as the threshold.
    from explainers import data2d

    hits = np.linalg.norm(x.double().numpy()[:, None] - ring8_centers()[None], axis=-1) < 3 * RING8_STD
    modes = np.where(hits.any(1), hits.argmax(1), -1)
    assert scores["coverage"] == data2d.mode_coverage(modes, len(x), min_share=0.25)


# --- training ---------------------------------------------------------------------------------

SHORT = dict(batch_size=64, sample_every=50, n_eval_samples=200)


def test_sn_on_every_discriminator_layer_keeps_its_lipschitz_bound_near_1():
    # Power iteration never overestimates sigma, so an SN layer's true sigma is >= 1; how far above
    # depends on how well the persistent estimate tracks a moving W (the tolerance below).
    sn = train_gan(GanConfig(d_modes="sn", n_power_iterations=10, **SHORT), seed=0, n_steps=150)
    assert max(sn.d_lipschitz_bound) <= 1.1
    assert min(min(v) for v in sn.d_sigmas.values()) >= 1 - 1e-5
    off = train_gan(GanConfig(d_modes="off", **SHORT), seed=0, n_steps=150)
    assert max(off.d_lipschitz_bound) > 4.0  # unconstrained, it grows (5.7 to 7.8 over seeds 0-5)


def test_training_is_deterministic_and_records_every_step():
    config = GanConfig(d_modes={"hidden1": "sn", "out": "optional"}, g_modes="bsn", **SHORT)
    seen = []
    a = train_gan(config, seed=5, n_steps=60, callback=lambda step, record: seen.append(step))
    b = train_gan(config, seed=5, n_steps=60)
    c = train_gan(config, seed=6, n_steps=60)
    assert seen == a.step == list(range(1, 61))
    assert a.d_loss == b.d_loss and a.g_loss == b.g_loss and a.d_sigmas == b.d_sigmas
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples))
    assert a.d_loss != c.d_loss
    assert a.sample_steps == [50, 60] and a.samples[0].shape == (200, 2) and a.samples[0].dtype == np.float32
    assert set(a.d_sigmas) == {"hidden1", "hidden2", "hidden3", "out"}
    assert all(len(v) == 60 for v in a.d_sigmas.values())


def test_training_stops_on_request_and_leaves_given_models_alone():
    G, D = make_gan(0)
    before = [p.detach().clone() for p in [*G.parameters(), *D.parameters()]]
    calls = []
    h = train_gan(GanConfig(**SHORT), 0, 100, should_stop=lambda: len(calls) >= 7,
                  callback=lambda step, record: calls.append(record), models=(G, D))
    assert h.stopped == "should_stop" and len(h.step) == 7
    assert h.sample_steps == [7]  # a final snapshot of where it got to
    assert all(torch.equal(a, b) for a, b in zip(before, [*G.parameters(), *D.parameters()]))
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in D.modules())
    timed = train_gan(GanConfig(**SHORT), 0, 100_000, time_budget_s=0.2)
    assert timed.stopped == "time_budget" and 0 < len(timed.step) < 100_000


def test_cli_prints_a_summary(capsys):
    assert main(["--steps", "20", "--d-modes", "sn"]) == 0
    out = capsys.readouterr().out
    assert "20 steps (completed)" in out and "D Lipschitz bound" in out and "mode coverage" in out


def test_the_discriminators_gradient_never_exceeds_its_lipschitz_bound_and_sn_flattens_it():
    """What the live view shows as numbers: max ‖∇ₓ D‖ over the plane ≤ the bound (product of σ's), at every
    snapshot, with and without SN; and SN on every D layer keeps the surface far flatter than no SN."""
    from explainers.spectral_training import SURFACE_GRID

    runs = {mode: train_gan(GanConfig(d_modes=mode, **SHORT), seed=0, n_steps=300) for mode in ("sn", "off")}
    for h in runs.values():
        assert h.surface[0].shape == (SURFACE_GRID, SURFACE_GRID) and h.surface[0].dtype == np.float32
        bounds = [h.d_lipschitz_bound[h.step.index(s)] for s in h.sample_steps]
        assert all(g <= b * (1 + 1e-4) for g, b in zip(h.d_grad_max, bounds)), (h.d_grad_max, bounds)
        assert all(m <= g for m, g in zip(h.d_grad_mean, h.d_grad_max))
    assert runs["sn"].d_grad_mean[-1] < runs["off"].d_grad_mean[-1] / 2


def test_a_runs_current_view_does_not_change_its_training():
    from explainers.spectral_training import GanRun

    a, b = GanRun(GanConfig(**SHORT), 0, 40), GanRun(GanConfig(**SHORT), 0, 40)
    for i in range(40):
        a.step()
        b.step()
        if i % 7 == 0:
            now = b.current()  # a live view looks at b between steps
            assert now["step"] == i + 1 and now["samples"].shape == (200, 2)
    assert a.history.d_loss == b.history.d_loss and a.history.d_sigmas == b.history.d_sigmas
