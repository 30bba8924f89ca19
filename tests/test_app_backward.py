"""AppTest of the Eq. 1 page: each reading runs, side by side differs, controls change frames,
bad URL values are noticed."""

import numpy as np
from streamlit.testing.v1 import AppTest

from devtools import chart_by_title as figure
from devtools import decoded, run_page_file

PAGE = "pages/backward_noise_init.py"


def run_page(query: dict | None = None) -> AppTest:
    return run_page_file("backward_noise_init", query)


def strip(at: AppTest, row_title: str) -> np.ndarray:
    fig = figure(at, "true video")
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    return decoded(fig["data"][titles.index(row_title)]["z"])


def test_side_by_side_runs_both_readings_and_they_differ():
    at = run_page({"n_frames": "16"})
    mats = figure(at, "t = frame index")
    step_matrix = decoded(mats["data"][0]["z"]).reshape(16, 4)
    index_matrix = decoded(mats["data"][1]["z"]).reshape(16, 4)
    np.testing.assert_allclose(step_matrix[3], [1.0, 0.9375, 0.8333333, 0.625], rtol=1e-5)
    # sigma_init = 0.5 is below every level of the list: frame 3 enters at 0.5 and takes one step.
    assert np.isnan(index_matrix[3, :3]).all() and index_matrix[3, -1] == np.float32(0.5)
    a, b = strip(at, "t = denoising step"), strip(at, "t = frame index")
    assert np.abs(a - b).mean() > 0.01
    assert any("Which reading is right?" in m.value for m in at.markdown)
    assert len(at.latex) >= 2


def test_single_reading_and_switching_changes_frames():
    at = run_page({"compare": "false", "n_frames": "16"})
    first = strip(at, "t = denoising step")
    at.selectbox(key="reading").set_value("temporal_index").run()
    second = strip(at, "t = frame index")
    assert first.shape == second.shape and np.abs(first - second).mean() > 0.01


def test_sigma_init_near_zero_freezes_motion():
    at = run_page({"compare": "false", "reading": "temporal_index", "n_frames": "16", "sigma_init": "0.05"})
    fig = figure(at, "ball speed (px per frame)")
    motion = {t["name"]: decoded(t["y"]) for t in fig["data"] if t.get("xaxis") == "x2"}
    assert np.nanmean(motion["t = frame index"][4:]) < 0.5 * np.nanmean(motion["true video"][4:])


def test_gif_download_and_training_window():
    at = run_page({"n_frames": "16"})
    assert any(b.proto.label.startswith("Download the frames as GIF") for b in at.get("download_button"))
    fig = figure(at, "re-noised to σ")
    assert len(fig["data"]) == 5


def test_bad_url_values_are_noticed():
    at = run_page({"reading": "both", "sigma_init": "2", "n_frames": "1e9"})
    text = "\n".join(w.value for w in at.warning)
    for key in ("'reading'", "'sigma_init'", "'n_frames'"):
        assert key in text
    assert "denoising_step, temporal_index" in text


def test_eq1_shown_as_printed_then_as_run_and_why_they_agree():
    at = run_page({"n_frames": "8", "compare": "false"})
    latex = [e.value for e in at.latex]
    assert r"\hat\epsilon_\theta(x_{t-1}" in latex[0]  # as printed: the noise prediction network
    assert any(r"\hat v_\theta(x,\ \sigma)" in x for x in latex)  # the flow form the app runs
    assert any(r"= x_0" in x for x in latex) and any(r"\hat\epsilon = x + (1-\sigma)" in x for x in latex)
    text = "\n".join(m.value for m in at.markdown)
    assert "noise prediction network" in text and "Why they agree" in text
    assert "the paper's code" not in text and "Algorithm 1 and the appendix of Self-Forcing++" in text


def test_frame_index_reading_says_constant_sigma_init_is_the_apps_construction():
    at = run_page({"compare": "false", "reading": "temporal_index", "n_frames": "8"})
    text = "\n".join(m.value for m in at.markdown)
    assert "this app's own construction" in text and "σ_t changes with the frame index t" in text
    # The choices read as words; the URL keeps the identifiers.
    control = at.selectbox(key="init_schedule")
    assert control.value == "constant" and "constant σ_init" in control.options
    assert at.selectbox(key="reading").options == ["t = denoising step", "t = frame index"]


def test_literal_variant_indexes_sigma_by_frame():
    at = run_page({"compare": "false", "reading": "temporal_index", "n_frames": "8", "init_schedule": "frame_indexed"})
    assert at.selectbox(key="init_schedule").value == "frame_indexed"
    m = decoded(figure(at, "t = frame index")["data"][0]["z"]).reshape(8, 4)
    sigmas = np.array([1.0, 0.9375, 5 / 6, 0.625], dtype=np.float32)
    for n, row in enumerate(m):  # a staircase: frame n runs the list from slot min(n, 3) on
        k = min(n, 3)
        assert np.isnan(row[:k]).all() and np.allclose(row[k:], sigmas[k:], atol=1e-6)
    text = "\n".join(m.value for m in at.markdown)
    assert "σ_t is read literally" in text and "σ_init is not used" in text
    assert "σ indexed by frame" in at.selectbox(key="init_schedule").options
    # The constant construction gives other frames from the same seed.
    at.selectbox(key="init_schedule").set_value("constant").run()
    m2 = decoded(figure(at, "t = frame index")["data"][0]["z"]).reshape(8, 4)
    assert np.isnan(m2[3, :3]).all() and m2[3, 3] == np.float32(0.5)


def test_matrix_caption_says_which_rows_are_shown_and_charts_are_readable():
    at = run_page({"n_frames": "32"})
    captions = "\n".join(c.value for c in at.caption)
    assert "The first 16 of the 32 frames; every later row repeats frame 15's." in captions
    mats = figure(at, "t = frame index")
    assert mats["layout"]["yaxis"]["dtick"] == 2 and mats["layout"]["yaxis"]["tickformat"] == "d"
    curves = figure(at, "ball speed (px per frame)")
    assert all(curves["layout"][f"xaxis{s}"]["tickformat"] == "d" for s in ("", "2", "3"))
    assert any(t.get("showlegend") for t in curves["data"])  # more than one trace: a legend
    titles = [a["text"] for a in curves["layout"]["annotations"]]
    assert "mean brightness (0–255)" in titles
    assert "0 black to 255 white" in "\n".join(c.value for c in at.caption)
    bright = [decoded(t["y"]) for t in curves["data"] if t.get("xaxis") == "x3"]
    assert all(((b >= 0) & (b <= 255)).all() for b in bright) and max(b.mean() for b in bright) > 1


def test_bad_init_schedule_is_noticed():
    at = run_page({"init_schedule": "ramp"})
    assert any("'init_schedule'" in w.value and "constant, frame_indexed" in w.value for w in at.warning)
