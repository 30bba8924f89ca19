"""One session's actions never change another session's view or the shared models.

(a) Two real browser sessions (two Playwright contexts) on one server: A moves controls and trains a
    GAN live; B, opened before and reloaded after, shows exactly the same figure data and no run history.
(b) In-process (AppTest): the models held by the pages' `st.cache_resource` caches are byte-identical
    before and after pages normalize layers, train a GAN and sample, and equal freshly loaded ones.
"""

from __future__ import annotations

import hashlib

import pytest
import torch
from streamlit.runtime.caching.cache_resource_api import _resource_caches
from torch import nn

from devtools import figure_data, wait_for_app
from devtools import run_page as run  # an AppTest of the page, no exception

N_FIGURES = {"noise_schedule": 11, "spectral_norm": 5}


def open_view(context, url: str, n_figures: int):
    pg = context.new_page()
    pg.goto(url)
    wait_for_app(pg)
    return pg, figure_data(pg, n_figures)


# ---------------------------------------------------------------------------------------------
# (a) two browser sessions
# ---------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_one_sessions_actions_do_not_change_another_sessions_view(server, chromium):
    ctx_a = chromium.new_context(viewport={"width": 1400, "height": 1000})
    ctx_b = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        # B first: the default views of both pages.
        b_schedule, schedule_before = open_view(ctx_b, f"{server.url}/noise_schedule?section=all", N_FIGURES["noise_schedule"])
        b_spectral, spectral_before = open_view(ctx_b, f"{server.url}/spectral_norm", N_FIGURES["spectral_norm"])

        # A: move the schedule page's T slider with the keyboard.
        a_schedule, a_schedule_before = open_view(ctx_a, f"{server.url}/noise_schedule?section=all", N_FIGURES["noise_schedule"])
        assert a_schedule_before == schedule_before  # same link, same view
        slider = a_schedule.get_by_role("slider", name="Diffusion steps T")
        slider.focus()
        for _ in range(3):
            a_schedule.keyboard.press("ArrowLeft")
        wait_for_app(a_schedule)
        a_schedule.wait_for_function("() => location.search.includes('T=970')")
        assert figure_data(a_schedule, N_FIGURES["noise_schedule"]) != schedule_before

        # A: switch a discriminator layer to SN and train live for 100 steps.
        a_spectral, _ = open_view(ctx_a, f"{server.url}/spectral_norm?train_steps=100", N_FIGURES["spectral_norm"])
        a_spectral.locator(".st-key-m_D-hidden1").get_by_role("radio", name="SN", exact=True).click()
        wait_for_app(a_spectral)
        a_spectral.wait_for_function("() => location.search.includes('m_D.hidden1=sn')")
        assert figure_data(a_spectral, N_FIGURES["spectral_norm"]) != spectral_before
        a_spectral.get_by_role("button", name="Train", exact=True).click()
        a_spectral.get_by_text("Run history (this session)").wait_for(timeout=120_000)
        wait_for_app(a_spectral)
        assert a_spectral.get_by_text("Last run:").is_visible()

        # B: still the same figures, before and after a reload; and no run history of A's.
        assert figure_data(b_spectral, N_FIGURES["spectral_norm"]) == spectral_before
        for pg, before, n in ((b_schedule, schedule_before, N_FIGURES["noise_schedule"]),
                              (b_spectral, spectral_before, N_FIGURES["spectral_norm"])):
            pg.reload()
            wait_for_app(pg)
            assert figure_data(pg, n) == before, pg.url
            assert "T=" not in pg.url and "m_D" not in pg.url
        assert b_spectral.get_by_text("Run history (this session)").count() == 0
        assert b_spectral.get_by_text("Last run:").count() == 0
        assert b_spectral.locator('[data-testid="stDataFrame"]').count() == 0
    finally:
        ctx_a.close()
        ctx_b.close()


# ---------------------------------------------------------------------------------------------
# (b) the shared cached models, in-process
# ---------------------------------------------------------------------------------------------

def digest(model: nn.Module) -> str:
    """Every tensor's bytes, dtype and shape, plus what else a careless caller could change in place:
    requires_grad, training mode, parametrizations and hooks."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict(keep_vars=True).items()):
        data = t.detach().cpu().contiguous()
        h.update(f"{name}|{data.dtype}|{tuple(data.shape)}|{t.requires_grad}|{t.grad is None}".encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    for name, m in sorted(model.named_modules()):
        hooks = (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
        h.update(f"{name}|{type(m).__name__}|{m.training}|{hooks}|{hasattr(m, 'parametrizations')}".encode())
    return h.hexdigest()


def cached_models() -> dict[str, nn.Module]:
    """The nn.Modules held right now by every st.cache_resource cache of this process, by cache and key."""
    out = {}
    for session, caches in list(_resource_caches._function_caches.items()):
        for key, cache in list(caches.items()):
            for value_key, result in list(cache._mem_cache.items()):
                if isinstance(result.value, nn.Module):
                    out[f"{cache.display_name}/{value_key}"] = result.value
    return out


def fresh_digests() -> dict[str, str]:
    """Digests of models loaded now from the shipped files (and the seed-0 GAN the spectral page starts from)."""
    from explainers.data2d import DATASETS
    from explainers.frame_model import load_frame_model
    from explainers.models import load_denoiser2d
    from explainers.spectral_view import base_network

    out = {f"denoiser2d/{d}": digest(load_denoiser2d(d)) for d in DATASETS}
    out["frame_model"] = digest(load_frame_model())
    out["GanPair/0"] = digest(base_network("gan", 0))
    return out


def kind_of(model: nn.Module) -> str:
    from explainers.frame_model import FrameDenoiser
    from explainers.models import Denoiser2D

    return {Denoiser2D: "denoiser2d", FrameDenoiser: "frame_model"}.get(type(model), type(model).__name__)


def test_cached_shared_models_are_byte_identical_after_any_sessions_actions():
    SN_ALL = {f"m_{layer}": mode for layer, mode in zip(
        ("D.hidden1", "D.hidden2", "D.hidden3", "D.out", "G.hidden1", "G.hidden2", "G.out"),
        ("sn", "bsn", "optional", "sn", "sn", "bsn", "optional"))}
    # Fill the caches: each page's shared models, as a first visitor would.
    run("noise_schedule", {"dataset": "ring8"})
    run("noise_schedule", {"dataset": "moons", "steps": "10"})
    run("backward_noise_init", {"n_frames": "16"})
    for model in ("gan", "denoiser2d", "frame_model"):
        run("spectral_norm", {"model": model})
    models = cached_models()
    kinds = {kind_of(m) for m in models.values()}
    assert {"denoiser2d", "frame_model", "GanPair"} <= kinds, list(models)
    before = {k: digest(m) for k, m in models.items()}
    fresh = fresh_digests()
    # The cached ones are exactly the shipped weights (caches of other test files may hold GANs of other seeds).
    for key, m in models.items():
        if kind_of(m) in ("denoiser2d", "frame_model"):
            assert before[key] in {v for k, v in fresh.items() if k.startswith(kind_of(m))}, key
    assert fresh["GanPair/0"] in before.values()

    # Sessions that normalize every layer (all modes, many power iterations), train, and sample.
    at = run("spectral_norm", {**SN_ALL, "n_iter": "20", "threshold": "0.5", "train_steps": "100"})
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception and len(at.dataframe[0].value) == 1
    at.segmented_control(key="m_D.hidden1").set_value("bsn").run()
    for model, layers in (("denoiser2d", ("in_x", "in_noise", "hidden1", "hidden2", "out")),
                          ("frame_model", ("conv_in", "conv_down", "conv_out"))):
        run("spectral_norm", {"model": model, "n_iter": "20", **{f"m_{l}": "sn" for l in layers},
                              "trace_layer": layers[-1]})
    run("spectral_norm", {"model": "frame_model", **{f"m_{l}": "bsn" for l in ("conv_in", "conv_down")}})
    run("noise_schedule", {"sampler": "ddpm", "eta": "1", "steps": "20", "schedule": ["linear", "cosine", "vp_sde"]})
    run("noise_schedule", {"dataset": "moons", "sampler": "ddim", "eta": "0.5", "seed": "7", "ztsnr": "true"})
    at = run("backward_noise_init", {"n_frames": "16", "form": "vp", "sigma_init": "0.9", "train_step": "3"})
    at.selectbox(key="reading").set_value("temporal_index").run()
    assert not at.exception

    after_models = cached_models()
    for key, m in models.items():
        assert after_models.get(key) is m, f"cache entry {key} was replaced"
        assert digest(m) == before[key], f"shared model {key} changed"
    assert fresh_digests() == fresh  # and the files on disk still load to the same weights
