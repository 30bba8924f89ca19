"""AppTest of the spectral-normalization page: toggles change the spectra and bounds; training runs,
is deterministic in its figures, and never touches the shared models."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from devtools import chart_by_title, decoded, run_page_file

PAGE = "pages/spectral_norm.py"


def run_page(query: dict | None = None) -> AppTest:
    return run_page_file("spectral_norm", query)


def figure(at: AppTest, title_part: str) -> dict:
    """A figure by a subplot title or a trace's name (the spectra grid names its layers in the traces)."""
    return chart_by_title(at, title_part, trace_names=True)


def after_sigmas(at: AppTest) -> np.ndarray:
    fig = figure(at, "σ after normalization")
    return decoded(next(t for t in fig["data"] if t["name"] == "σ after normalization")["y"])


def test_toggling_a_layer_changes_its_spectrum_and_the_bound():
    at = run_page()
    before = after_sigmas(at)
    assert abs(before[0] - 1.0) > 0.5  # D.hidden1 raw sigma is far from 1
    at.segmented_control(key="m_D.hidden1").set_value("sn").run()
    after = after_sigmas(at)
    assert after[0] == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(after[1:], before[1:], rtol=1e-6)  # the other layers are untouched
    metrics = {m.label: float(m.value) for m in at.metric}
    assert metrics["Lipschitz bound, with these modes"] < metrics["Lipschitz bound, raw"]


def test_optional_mode_only_scales_layers_above_threshold():
    at = run_page({"m_D.hidden1": "optional", "m_D.out": "optional", "threshold": "1.0"})
    sig = after_sigmas(at)
    assert sig[0] == pytest.approx(1.0, abs=0.05)  # 3.5 > 1: normalized
    raw = decoded(next(t for t in figure(at, "raw σ")["data"] if t["name"] == "raw σ")["y"])
    assert sig[3] == pytest.approx(raw[3], rel=1e-5)  # 0.6 < 1: left alone


def test_conv_section_shows_both_operator_norms_between_reshaped_sigma_and_the_bound():
    at = run_page({"model": "frame_model"})
    fig = figure(at, "operator norm, circular padding")
    series = {t["name"]: decoded(t["y"]) for t in fig["data"]}
    reshaped = series["reshaped σ (what SN divides by)"]
    circular = series["operator norm, circular padding (exact, 2D FFT)"]
    zero_padded = series["operator norm of the real layer, zero padding (power iteration)"]
    bound = series["upper bound √(kh·kw)·σ"]
    for operator in (circular, zero_padded):
        assert np.all(reshaped <= operator * (1 + 1e-4)) and np.all(operator <= bound * (1 + 1e-4))
    assert np.any(np.abs(circular - reshaped) > 0.05 * reshaped)  # not the same number
    assert np.max(np.abs(circular - zero_padded) / zero_padded) > 0.05  # the padding matters (conv_inner2)
    caption = next(c.value for c in at.caption if c.value.startswith("The frame model's conv layers"))
    assert f"{zero_padded[3]:.3g}" in caption and "(conv_inner2)" in caption


def test_power_iteration_trace_approaches_exact_sigma_from_below():
    at = run_page({"trace_layer": "D.hidden2"})
    fig = figure(at, "power-iteration estimate")
    trace = decoded(fig["data"][0]["y"])
    exact = decoded(fig["data"][1]["y"])[0]
    assert np.all(trace <= exact + 1e-4) and trace[-1] >= trace[0]


def test_short_training_run_fills_history_and_leaves_shared_model_untouched():
    at = run_page({"m_D.hidden1": "sn", "m_D.hidden2": "sn", "m_D.hidden3": "sn", "m_D.out": "sn",
                   "train_steps": "100"})
    train = next(b for b in at.button if b.label == "Train")
    train.click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert len(table) == 1 and table["steps"][0] == 100
    assert table["max D Lipschitz bound"][0] < 1.5
    first = decoded(figure(at, "D loss")["data"][0]["y"])
    next(b for b in at.button if b.label == "Train").click().run()  # same seed and settings: same curves
    second = decoded(figure(at, "D loss")["data"][0]["y"])
    np.testing.assert_array_equal(first, second)
    assert len(at.dataframe[0].value) == 2


def test_bad_mode_in_url_is_noticed():
    at = run_page({"m_D.hidden1": "maximal", "n_iter": "0"})
    text = "\n".join(w.value for w in at.warning)
    assert "'m_D.hidden1'" in text and "off, sn, bsn, optional" in text
    assert "'n_iter'" in text and "[1, 20]" in text


DENOISER = {"model": "denoiser2d", "train_steps": "200", "lr": "0.001"}


def scatter_points(at: AppTest, title_part: str) -> np.ndarray:
    fig = figure(at, title_part)
    trace = next(t for t in fig["data"] if title_part in (t.get("name") or ""))
    return np.stack([decoded(trace["x"]), decoded(trace["y"])], axis=1)


def test_denoiser_samples_change_with_the_toggles_and_a_fine_tune_wins_the_modes_back():
    at = run_page(DENOISER)
    raw = scatter_points(at, "shipped denoiser")
    same = scatter_points(at, "with these modes")
    np.testing.assert_array_equal(raw, same)  # all off: the same network, the same noise
    at.segmented_control(key="m_hidden1").set_value("sn").run()
    at.segmented_control(key="m_hidden2").set_value("sn").run()
    assert not at.exception, [e.value for e in at.exception]
    np.testing.assert_array_equal(scatter_points(at, "shipped denoiser"), raw)
    normalized = scatter_points(at, "with these modes")
    assert np.abs(normalized - raw).mean() > 0.1  # SN changed the samples before any training
    raw_caption, normalized_caption = [c.value for c in at.caption if "Mode coverage" in c.value]
    assert "Mode coverage 1.00" in raw_caption and "Mode coverage 0.12" in normalized_caption  # 1 of 8 modes

    assert not [b for b in at.button if b.label == "Train"]
    next(b for b in at.button if b.label == "Fine-tune").click().run()
    assert not at.exception, [e.value for e in at.exception]
    row = at.dataframe[0].value.iloc[0]
    assert row["modes"] == "hidden1=SN, hidden2=SN" and row["steps"] == 200 and row["ended"] == "completed"
    assert row["coverage before"] <= 0.25 and row["mode coverage"] >= 0.75
    assert row["energy distance"] > 0 and row["Lipschitz bound"] > 1
    assert figure(at, "v-prediction loss") and figure(at, "layer σ")


def test_after_a_fine_tune_a_scrubber_replays_its_snapshots():
    from devtools import chart_specs, run_page_file

    at = run_page_file("spectral_norm", {"model": "denoiser2d", "m_hidden1": "sn", "train_steps": "200"})
    at.button(key="train").click().run()
    (scrubber,) = at.select_slider
    assert scrubber.options == ["0", "100", "200"] and scrubber.value == 200
    scrubber.set_value(0).run()
    titles = [s["layout"].get("title", {}).get("text", "") for s in chart_specs(at)]
    assert "denoiser samples, step 0" in titles
