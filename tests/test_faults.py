"""Faults a classroom deployment meets: a server restart mid-lesson, a live training stopped half way,
no CUDA (or a GPU out of memory), and a missing or corrupt checkpoint. None may crash a page."""

from __future__ import annotations

import re
import shutil

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from devtools import Server, chart_specs, figure_data, free_port, wait_for_app
from devtools import run_page as run  # an AppTest of the page, no exception
from explainers.device import pick_device
from explainers.paths import SHIPPED

# ---------------------------------------------------------------------------------------------
# (a) server restart mid-lesson: the view lives in the URL
# ---------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_server_restart_mid_lesson_brings_back_the_same_step_and_figures(page):
    port = free_port()
    first = Server(port=port)
    try:
        page.goto(f"{first.url}/noise_schedule?lesson=3")
        wait_for_app(page)
        assert page.get_by_text("Lesson · step 3 of 6").is_visible()
        page.get_by_role("button", name="Next").click()
        page.wait_for_function("() => location.search.includes('lesson=4')")
        wait_for_app(page)
        page.get_by_text("Lesson · step 4 of 6").wait_for()
        url = page.url
        before = figure_data(page, 1)  # step 4 opens section 4: the measured variance
    finally:
        first.stop()

    second = Server(port=port)  # a new process on the same address: nothing of the old session survives
    try:
        assert second.url == first.url and second.proc.pid != first.proc.pid
        page.reload()
        wait_for_app(page)
        assert page.url == url
        assert page.get_by_text("Lesson · step 4 of 6").is_visible()
        assert figure_data(page, 1) == before
    finally:
        second.stop()


# ---------------------------------------------------------------------------------------------
# (b) a live training stopped half way
# ---------------------------------------------------------------------------------------------


def grid_rows(page) -> list[dict]:
    """The rows of the page's st.dataframe, read from the grid's accessible table (drawn after the canvas)."""
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stDataFrame] th').length > 0 && "
                           "document.querySelectorAll('[data-testid=stDataFrame] [role=gridcell]').length > 0",
                           timeout=60_000)
    headers = page.evaluate("() => [...document.querySelectorAll('[data-testid=stDataFrame] th')]"
                            ".map(e => e.textContent)")
    cells = page.evaluate("() => [...document.querySelectorAll('[data-testid=stDataFrame] [role=gridcell]')]"
                          ".map(e => e.textContent)")
    assert headers and len(cells) % len(headers) == 0, (headers, cells)
    return [dict(zip(headers, cells[i:i + len(headers)])) for i in range(0, len(cells), len(headers))]


@pytest.mark.browser
def test_stopping_a_live_training_keeps_what_was_trained(server, page):
    page.goto(f"{server.url}/spectral_norm?train_steps=3000")
    wait_for_app(page)
    page.get_by_role("button", name="Train", exact=True).click()
    stop = page.get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=30_000)
    page.wait_for_timeout(2000)
    page.get_by_text(re.compile(r"step \d+/3000: D loss")).wait_for(timeout=60_000)  # some steps are done
    stop.click()
    notice = page.get_by_text("Training stopped at step")
    try:
        notice.wait_for(timeout=120_000)
    except Exception as err:  # say what the page shows instead (e.g. the run hit its 30 s time budget first)
        last = page.get_by_text("Last run:")
        shown = last.locator("..").inner_text() if last.count() else page.locator("body").inner_text()[:1500]
        raise AssertionError(f"no 'Training stopped at step' after Stop; the page shows: {shown}") from err
    wait_for_app(page)
    stopped_at = int(re.search(r"Training stopped at step (\d+)", notice.inner_text()).group(1))
    assert 0 < stopped_at < 3000
    assert page.get_by_text("Run history (this session)").is_visible()
    rows = grid_rows(page)
    assert len(rows) == 1, rows
    assert int(rows[0]["steps"]) == stopped_at < 3000 and rows[0]["ended"] == "stopped by you"
    assert "(stopped by you)" in page.get_by_text("Last run:").locator("..").inner_text()


# ---------------------------------------------------------------------------------------------
# (c) CUDA absent, GPU out of memory
# ---------------------------------------------------------------------------------------------

CUDA_NOTE = "CUDA was asked for but is not available here, so everything runs on the CPU."


def test_pick_device_without_cuda_falls_back_to_cpu_with_a_notice(monkeypatch):
    if not torch.cuda.is_available():  # this machine, as it is
        device, note = pick_device("cuda")
        assert device.type == "cpu" and note == CUDA_NOTE
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # and anywhere, CUDA hidden
    assert pick_device("cuda") == (torch.device("cpu"), CUDA_NOTE)
    assert pick_device("CUDA") == (torch.device("cpu"), CUDA_NOTE)
    assert pick_device("auto") == (torch.device("cpu"), None)
    assert pick_device("cpu") == (torch.device("cpu"), None)
    device, note = pick_device("tpu")
    assert device.type == "cpu" and "NOISE_LAB_DEVICE" in note and "'tpu'" in note
    monkeypatch.setenv("NOISE_LAB_DEVICE", "cuda")
    assert pick_device() == (torch.device("cpu"), CUDA_NOTE)


@pytest.mark.browser
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_server_asked_for_cuda_shows_the_cpu_fallback_in_the_sidebar(page):
    srv = Server(env={"NOISE_LAB_DEVICE": "cuda"})
    try:
        for path in ("/backward_noise_init?n_frames=8", "/"):
            page.goto(srv.url + path)
            wait_for_app(page)
            sidebar = page.locator('[data-testid="stSidebar"]')
            assert sidebar.get_by_text(CUDA_NOTE).is_visible(), path
            assert "Device: CPU" in sidebar.inner_text()
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        srv.stop()


def oom_app(error: str, device: str):
    import streamlit as st
    import torch

    import ui

    calls = []

    def compute(d):
        calls.append(d)
        if d == "cuda":
            if error == "oom":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            if error == "oom_message":
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 MiB (GPU 0; 1 GiB total)")
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        if error == "cpu_oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (but on the cpu path)")
        return 42

    result = ui.on_device(compute, device)
    st.write(f"result={result}; calls={','.join(calls)}")


@pytest.mark.parametrize("error", ["oom", "oom_message"])
def test_gpu_out_of_memory_retries_on_cpu_with_a_warning(error):
    at = AppTest.from_function(oom_app, args=(error, "cuda"), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The GPU ran out of memory for this view, so it was computed on the CPU instead."]
    assert any(m.value == "result=42; calls=cuda,cpu" for m in at.markdown)


def test_other_gpu_errors_and_cpu_errors_are_not_retried():
    at = AppTest.from_function(oom_app, args=("illegal", "cuda"), default_timeout=30).run()
    assert at.exception and "illegal memory access" in at.exception[0].value and not at.warning
    at = AppTest.from_function(oom_app, args=("cpu_oom", "cpu"), default_timeout=30).run()
    assert at.exception and not at.warning  # on the CPU already: nothing to fall back to


# ---------------------------------------------------------------------------------------------
# (d) missing or corrupt checkpoints
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def clean_caches():
    """Pages cache their models (st.cache_resource) and results (st.cache_data): start and end empty."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()



FRAME_CMD = "python -m explainers.train video"
RING8_CMD = "python -m explainers.train toy2d --dataset ring8"
# (page, query, checkpoint file the page needs, rebuild command)
CASES = [
    ("noise_schedule", {"section": "all"}, "denoiser2d_ring8.pt", RING8_CMD),
    ("backward_noise_init", {"n_frames": "8"}, "frame_model.pt", FRAME_CMD),
    ("spectral_norm", {}, "frame_model.pt", FRAME_CMD),  # the conv section uses the frame model
    ("spectral_norm", {"model": "frame_model"}, "frame_model.pt", FRAME_CMD),
    ("spectral_norm", {"model": "denoiser2d"}, "denoiser2d_ring8.pt", RING8_CMD),
]


def checkpoint_dir(tmp_path, state: str, broken: str):
    """A checkpoint folder with every shipped file but `broken`, which is missing, garbage or truncated."""
    for f in SHIPPED.glob("*.pt"):
        if f.name != broken:
            shutil.copy(f, tmp_path / f.name)
    if state == "garbage":
        (tmp_path / broken).write_bytes(b"this is not a torch checkpoint \x00\xff" * 100)
    elif state == "truncated":
        data = (SHIPPED / broken).read_bytes()
        (tmp_path / broken).write_bytes(data[: len(data) // 2])
    elif state == "empty_file":
        (tmp_path / broken).write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("state", ["missing", "garbage", "truncated", "empty_file"])
@pytest.mark.parametrize("page,query,needed,command", CASES, ids=[f"{c[0]}-{c[1].get('model', '')}" for c in CASES])
def test_bad_checkpoint_shows_an_error_naming_the_file_and_the_rebuild_command(
        tmp_path, monkeypatch, clean_caches, page, query, needed, command, state):
    folder = checkpoint_dir(tmp_path, state, needed)
    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(folder))
    at = run(page, query)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(str(folder / needed) in e and command in e for e in errors), errors
    if state != "missing":
        assert any(re.search("corrupt|could not be loaded", e) for e in errors), errors


@pytest.mark.parametrize("page,query", [("noise_schedule", {"section": "all"}), ("backward_noise_init", {"n_frames": "8"}),
                                        ("spectral_norm", {"model": "denoiser2d"})])
def test_empty_checkpoint_folder_fails_gracefully_on_every_page(tmp_path, monkeypatch, clean_caches, page, query):
    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(tmp_path))
    at = run(page, query)
    assert not at.exception, [e.value for e in at.exception]
    errors = "\n".join(e.value for e in at.error)
    assert str(tmp_path) in errors and "python -m explainers.train" in errors
    assert at.title  # the page itself still shows


def test_a_repaired_checkpoint_folder_works_again_after_the_caches_are_cleared(tmp_path, monkeypatch, clean_caches):
    """Errors are not cached: once the file is back, the page works again, without a restart."""
    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(tmp_path))
    assert run("backward_noise_init", {"n_frames": "8"}).error
    shutil.copy(SHIPPED / "frame_model.pt", tmp_path / "frame_model.pt")
    at = run("backward_noise_init", {"n_frames": "8"})
    assert not at.exception and not at.error and len(chart_specs(at)) == 5
