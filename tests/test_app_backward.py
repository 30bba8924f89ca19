"""AppTest of the Eq. 1 page: each reading runs, side by side differs, controls change frames,
bad URL values are noticed."""

import numpy as np
from streamlit.testing.v1 import AppTest

from conftest import chart_by_title as figure
from conftest import run_page_file
from test_app_schedule import decoded

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
