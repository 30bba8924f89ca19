"""Show the code (explainers.snippets): every snippet runs on its own and gives what the page shows.

Schedules: the snippet's diffusers alphas_cumprod against build_schedule's float64 array, for every family
with zero terminal SNR off and on, over the parameters' ranges. diffusers computes in float32, so the
tolerance is float32's: relative RTOL (about 2,000 steps x 2^-23, each step's 1 - beta and product rounded)
and, with zero terminal SNR, an absolute A * T * 2^-23, where A = sqrt(abar_0) / (sqrt(abar_0) - sqrt(abar_T-1))
of the schedule before the rescale: diffusers divides by that difference in float32, so its round-off grows
by A (A is about 1.01 for the page's defaults and reaches 1e5 for a few steps of tiny betas).

Spectral: the snippet's sigma against the 'after' values the page computes (base_network, normalized,
spectra, as pages/spectral_norm.py calls them), to SIGMA_RTOL: float32 SVDs of the same weights.
"""

from __future__ import annotations

import ast
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from explainers import schedule_view as SV
from explainers import schedules as S
from explainers import snippets as N
from explainers import spectral as SN
from explainers import spectral_view as V
from explainers.state import ScheduleView, SpectralView, build_view, mode_key, read_url

EPS32 = 2.0**-23  # float32's machine epsilon
RTOL = 3e-4
SIGMA_RTOL = 1e-5
ALLOWED_IMPORTS = {"numpy", "torch", "diffusers", "scipy"}  # scipy: the custom knots, which diffusers lacks
FAMILIES = S.SCHEDULES + S.SIGMA_SCHEDULES + S.KNOT_SCHEDULES

SCHEDULE_DEFAULT = build_view(ScheduleView, read_url(SV.PARAMS, {}).values)


def run(snippet: N.Snippet):
    """Execute the snippet in a fresh namespace, as a person would paste it, and return its variable."""
    namespace = {"__name__": "__snippet__"}
    with torch.random.fork_rng(devices=[]):  # the snippet seeds torch; the other tests keep their random state
        exec(compile(snippet.code, "<snippet>", "exec"), namespace)
    return namespace[snippet.variable]


def check_shape(snippet: N.Snippet) -> None:
    """Short, imports only numpy, torch and diffusers (and the app's network builder), compiles."""
    lines = snippet.code.splitlines()
    assert len(lines) <= N.MAX_LINES == 15, snippet.code
    tree = ast.parse(snippet.code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= ALLOWED_IMPORTS, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            if node.module == "explainers.spectral_view":
                assert [a.name for a in node.names] == ["base_network"], ast.unparse(node)
            else:
                assert node.module.split(".")[0] in ALLOWED_IMPORTS, ast.unparse(node)
    assert "streamlit" not in snippet.code


# ---------------------------------------------------------------------------------------------
# Noise schedules.
# ---------------------------------------------------------------------------------------------


def schedule_view(**changes) -> ScheduleView:
    return dataclasses.replace(SCHEDULE_DEFAULT, **changes)


def assert_matches_page(view: ScheduleView, name: str) -> N.Snippet:
    snippet = N.schedule_snippet(view, name)
    check_shape(snippet)
    page = SV.build_schedule(name, view).alphas_cumprod
    got = np.asarray(run(snippet), dtype=np.float64)
    assert got.shape == page.shape
    atol = 0.0
    if view.zero_terminal_snr:
        raw = SV.build_schedule(name, dataclasses.replace(view, zero_terminal_snr=False)).alphas_cumprod
        amplification = np.sqrt(raw[0]) / (np.sqrt(raw[0]) - np.sqrt(raw[-1]))
        atol = amplification * view.T * EPS32
        assert got[-1] == page[-1] == 0.0  # zero terminal SNR: exactly, in both
    # Below about 1e-30 float32 runs out of range (only with betas beyond the sliders'); there 1e-30 absolute.
    np.testing.assert_allclose(got, page, rtol=RTOL, atol=max(atol, 1e-30))
    return snippet


# The sliders' ranges: beta_start up to 0.01, beta_end up to 0.05. Far beyond (T = 2000 steps of beta 0.05)
# ᾱ falls below float32's smallest number and diffusers' own rescale divides 0 by 0; the page, in float64, does not.
betas = st.tuples(st.floats(1e-6, 0.01), st.floats(1e-6, 0.05))


@pytest.mark.parametrize("zero_terminal_snr", [False, True])
@pytest.mark.parametrize("name", FAMILIES)
@settings(max_examples=30, deadline=None)
@given(T=st.integers(2, 2000), pair=betas, s=st.one_of(st.just(0.008), st.floats(0.0, 0.5)),
       beta_min=st.floats(1e-3, 1.0), beta_max=st.floats(1.0, 100.0))
@example(T=1000, pair=(1e-4, 0.02), s=0.008, beta_min=0.1, beta_max=20.0)
def test_schedule_snippet_reproduces_the_page(name, zero_terminal_snr, T, pair, s, beta_min, beta_max):
    beta_start, beta_end = sorted(pair)
    view = schedule_view(T=T, zero_terminal_snr=zero_terminal_snr, beta_start=beta_start, beta_end=beta_end,
                         scaled_linear_beta_start=beta_start, scaled_linear_beta_end=beta_end, s=s,
                         beta_min=beta_min, beta_max=beta_max)
    try:
        SV.build_schedule(name, view)
    except ValueError as err:  # the page cannot build it either: no snippet, the page's message
        event("parameters the page refuses")
        with pytest.raises(ValueError) as snippet_error:
            N.schedule_snippet(view, name)
        assert str(snippet_error.value) == str(err)
        return
    assert_matches_page(view, name)


@pytest.mark.parametrize("name, zero_terminal_snr, expected", [
    ("linear", False, [0.99989998, 0.52408534, 0.07858723, 3.3505505e-3, 4.0358304e-5]),
    ("scaled_linear", False, [0.99914998, 0.67543209, 0.27766943, 0.05662345, 4.6600951e-3]),
    ("cosine", False, [0.99995869, 0.84701222, 0.49384347, 0.14427210, 2.428735e-9]),
    ("linear", True, [0.99989998, 0.52153337, 0.07602873, 2.6895225e-3, 0.0]),
])
def test_default_snippets_give_the_reference_table(name, zero_terminal_snr, expected):
    # REFERENCE.md's abar at t = 0, 249, 499, 749, 999 was computed with diffusers 0.42.1: the same float32 numbers.
    abar = run(N.schedule_snippet(schedule_view(zero_terminal_snr=zero_terminal_snr), name))
    np.testing.assert_allclose(abar[[0, 249, 499, 749, 999]], expected, rtol=2e-7)


def test_each_family_uses_diffusers_own_schedule_where_it_has_one():
    code = {name: N.schedule_snippet(SCHEDULE_DEFAULT, name).code for name in FAMILIES}
    assert 'beta_schedule="linear"' in code["linear"]
    assert 'beta_schedule="scaled_linear"' in code["scaled_linear"]
    assert 'beta_schedule="sigmoid"' in code["sigmoid"]
    assert 'beta_schedule="squaredcos_cap_v2"' in code["cosine"]
    # the VP SDE's T-step discretisation is the linear schedule with ends beta_min / T and beta_max / T
    assert 'beta_schedule="linear"' in code["vp_sde"] and "beta_start=beta_min / T" in code["vp_sde"]
    assert "EDMEulerScheduler" in code["karras"]
    assert all(N.schedule_snippet(SCHEDULE_DEFAULT, n).library == "diffusers" for n in S.SCHEDULES)


def test_cosine_with_another_offset_passes_its_own_betas_because_diffusers_fixes_s():
    view = schedule_view(s=0.02)
    snippet = assert_matches_page(view, "cosine")
    assert "trained_betas=betas" in snippet.code and 'beta_schedule="squaredcos_cap_v2"' not in snippet.code
    assert "s = 0.008" in snippet.note and snippet.library == "diffusers + numpy"
    # diffusers' named schedule (the default view's snippet, T = 1000 too) would be a different array.
    named = run(N.schedule_snippet(SCHEDULE_DEFAULT, "cosine"))
    page = SV.build_schedule("cosine", view).alphas_cumprod
    assert np.max(np.abs(named - page) / page) > 1e-2


def test_values_are_written_exactly_from_the_view():
    start, end = 1 / 81_000, 0.031415926535897934  # 1 / 81000 has no short decimal form
    code = N.schedule_snippet(schedule_view(T=777, beta_start=start, beta_end=end), "linear").code
    assert f"T, beta_start, beta_end = 777, {start!r}, {end!r}" in code and float(repr(start)) == start
    assert "rescale_betas_zero_snr=False" in code
    assert "rescale_betas_zero_snr=True" in N.schedule_snippet(schedule_view(zero_terminal_snr=True), "linear").code


def test_one_snippet_per_selected_schedule_and_invalid_views_raise_the_pages_message():
    view = schedule_view(schedules=("sigmoid", "vp_sde"))
    assert [s.code for s in N.schedule_snippets(view)] == [N.schedule_snippet(view, n).code for n in ("sigmoid", "vp_sde")]
    assert N.schedule_snippet(view).code == N.schedule_snippet(view, "sigmoid").code
    bad = schedule_view(T=1000, beta_start=0.5, beta_end=0.6)
    with pytest.raises(ValueError) as page_error:
        SV.build_schedule("linear", bad)
    with pytest.raises(ValueError) as snippet_error:
        N.schedule_snippet(bad, "linear")
    assert str(snippet_error.value) == str(page_error.value)
    with pytest.raises(ValueError, match="schedule must be one of"):
        N.schedule_snippet(SCHEDULE_DEFAULT, "exp")


# ---------------------------------------------------------------------------------------------
# Spectral normalization, per layer.
# ---------------------------------------------------------------------------------------------


def spectral_view(modes: dict[str, str], seed: int = 0, n_iter: int = 1, threshold: float = 1.0) -> SpectralView:
    query = {mode_key(layer): [mode] for layer, mode in modes.items()}
    query.update(seed=[str(seed)], n_iter=[str(n_iter)], threshold=[repr(threshold)])
    state = read_url(V.PARAMS, query)
    assert not state.notices, state.notices
    return build_view(SpectralView, state.values)


def page_sigmas(view: SpectralView, model: str) -> dict[str, float]:
    """The largest singular value after each layer's mode, exactly as pages/spectral_norm.py computes it."""
    base = V.base_network(model, view.seed if model == "gan" else 0)
    modes = V.modes_of(model, view)
    norm = V.normalized(base, modes, view.n_power_iterations, view.threshold, view.seed)
    return {s.layer: float(s.after[0]) for s in V.spectra(base, norm, modes)}


def assert_sigmas_match(view: SpectralView, model: str) -> N.Snippet:
    snippet = N.spectral_snippet(view, model)
    check_shape(snippet)
    got, page = run(snippet), page_sigmas(view, model)
    changed = [layer for layer in V.LAYERS[model] if view.modes[layer] != "off"] or list(V.LAYERS[model])
    assert list(got) == changed  # the layers the snippet changes, in the page's order
    np.testing.assert_allclose([got[k] for k in changed], [page[k] for k in changed], rtol=SIGMA_RTOL)
    return snippet


@pytest.mark.parametrize("model", V.MODELS)
@pytest.mark.parametrize("mode", SN.MODES)
def test_every_layer_in_one_mode_gives_the_pages_sigmas(model, mode):
    snippet = assert_sigmas_match(spectral_view({layer: mode for layer in V.LAYERS[model]}), model)
    builtin = mode == "sn" or (mode == "bsn" and model != "frame_model")
    assert ("spectral_norm(layers[name], n_power_iterations=1)" in snippet.code) == builtin
    if mode == "optional" or (mode == "bsn" and model == "frame_model"):
        assert "torch has no built-in" in snippet.note and "def sigma_hat" in snippet.code


@pytest.mark.parametrize("model", V.MODELS)
def test_seed_iterations_and_threshold_are_the_pages(model):
    layers = V.LAYERS[model]
    modes = {layers[0]: "optional", layers[1]: "sn", layers[2]: "bsn", layers[-1]: "sn"}
    for seed, n_iter, threshold in ((7, 4, 0.5), (1234, 20, 2.0)):
        snippet = assert_sigmas_match(spectral_view(modes, seed, n_iter, threshold), model)
        assert f"torch.manual_seed({seed})" in snippet.code and f"/ {threshold!r})" in snippet.code


@settings(max_examples=20, deadline=None)
@given(model=st.sampled_from(V.MODELS), data=st.data(), seed=st.integers(0, 9999), n_iter=st.integers(1, 20),
       threshold=st.sampled_from([0.1, 0.5, 1.0, 1.5, 10.0]))
def test_any_mix_of_modes_gives_the_pages_sigmas(model, data, seed, n_iter, threshold):
    modes = {layer: data.draw(st.sampled_from(SN.MODES), label=layer) for layer in V.LAYERS[model]}
    assert_sigmas_match(spectral_view(modes, seed, n_iter, threshold), model)


def test_the_gan_gets_n_power_iterations_more_at_attach_and_the_snippet_says_so():
    # The GAN is built in training mode: torch's check forward when attaching iterates n_power_iterations more.
    view = spectral_view({"D.hidden1": "sn"}, n_iter=5)
    assert page_sigmas(view, "gan")["D.hidden1"] != page_sigmas(spectral_view({"D.hidden1": "sn"}), "gan")["D.hidden1"]
    assert "n_power_iterations=5" in N.spectral_snippet(view, "gan").code
    clipped = N.spectral_snippet(spectral_view({"D.hidden1": "optional"}, n_iter=5), "gan")
    assert "range(15 + 5)" in clipped.code
    assert "range(15)" in N.spectral_snippet(spectral_view({"in_x": "optional"}, n_iter=5), "denoiser2d").code


def test_the_page_divides_by_the_estimate_not_the_exact_sigma():
    # What the notes say: SN's 'after' is not 1; several percent off where 15 iterations fall short (hidden2, with
    # the random start it gets after the layers before it), and the snippet shows that number, not 1.
    view = spectral_view({layer: "sn" for layer in V.LAYERS["denoiser2d"]})
    after = page_sigmas(view, "denoiser2d")["hidden2"]
    assert after > 1.02
    assert run(N.spectral_snippet(view, "denoiser2d"))["hidden2"] == pytest.approx(after, rel=SIGMA_RTOL)


def test_bidirectional_sn_of_a_conv_uses_both_reshapes():
    snippet = N.spectral_snippet(spectral_view({"conv_in": "bsn"}), "frame_model")
    assert "W.transpose(0, 1).flatten(1)" in snippet.code and "Lin et al. 2021" in snippet.note
    # For a linear layer the two reshapes are W and W^T: plain SN, torch's built-in.
    assert "spectral_norm(layers[name]" in N.spectral_snippet(spectral_view({"D.hidden2": "bsn"}), "gan").code


def test_all_off_gives_the_raw_sigmas_and_unknown_models_are_refused():
    for model in V.MODELS:
        assert_sigmas_match(spectral_view({}), model)
    with pytest.raises(ValueError, match="model must be one of"):
        N.spectral_snippet(spectral_view({}), "unet")


def test_snippet_is_a_frozen_value():
    snippet = N.schedule_snippet(SCHEDULE_DEFAULT, "cosine")
    with pytest.raises(dataclasses.FrozenInstanceError):
        snippet.code = ""
    assert snippet.variable == "alphas_cumprod" and snippet.library and snippet.note
