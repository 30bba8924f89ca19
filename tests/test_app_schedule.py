"""AppTest of the noise-schedule page: every control changes the figure data it should, and a
malformed URL falls back to defaults with a notice instead of an exception."""

import pytest
from streamlit.testing.v1 import AppTest

from devtools import chart_by_title as fig_by_title
from devtools import chart_specs, decoded

PAGE = "pages/noise_schedule.py"


def run_page(query: dict | None = None) -> AppTest:
    """The page with every section open (?section=all) unless `query` names one."""
    at = AppTest.from_file("../app.py", default_timeout=120)
    for key, value in {"section": "all", **(query or {})}.items():
        at.query_params[key] = value
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t.get("name") == name)


@pytest.fixture(scope="module")
def default_page():
    return run_page()


def test_default_view_renders_every_figure(default_page):
    at = default_page
    assert len(chart_specs(at)) == 11  # figure 5: scatter, image, frequencies, score field; 6: rug; 7: exact
    assert at.title[0].value.endswith("VP noise schedules")
    assert not at.warning  # a clean URL gives no notices
    beta_fig = fig_by_title(at, "β_t")
    assert n_points(trace(beta_fig, "cosine")["x"]) == 1000
    assert any("Cost of the last computation" in c.value for c in at.caption)
    assert any(e.label.startswith("“A VP schedule") for e in at.expander)


def test_T_slider_changes_schedule_length():
    at = run_page()
    at.slider(key="T").set_value(200).run()
    assert not at.exception
    fig = fig_by_title(at, "ᾱ_t")
    assert n_points(trace(fig, "cosine")["x"]) == 200


def n_points(arr) -> int:
    if isinstance(arr, dict):  # Plotly sends float32 arrays as typed-array dicts
        import base64

        return len(base64.b64decode(arr["bdata"])) // 4
    return len(arr)


def test_overlay_and_zero_terminal_snr_and_contrast():
    at = run_page({"schedule": ["linear", "cosine"], "ztsnr": "true", "contrast": "variance_exploding"})
    snr = fig_by_title(at, "log-SNR")
    names = [t["name"] for t in snr["data"]]
    assert "linear: log-SNR = −∞ (drawn at -20)" in names
    assert "variance exploding (not VP)" in names
    split = fig_by_title(at, "total variance")
    contrast_total = decoded(trace(split, "variance exploding (not VP)")["y"])
    vp_total = decoded(trace(split, "linear (VP)")["y"])
    assert abs(vp_total - 1).max() < 1e-5 and contrast_total.max() > 100


def test_t_slider_moves_the_forward_process():
    at = run_page({"dataset": "moons"})
    before = decoded(fig_by_title(at, "2D points at t = 499")["data"][1]["x"])
    at.slider(key="t").set_value(100).run()
    after = decoded(fig_by_title(at, "2D points at t = 100")["data"][1]["x"])
    assert before.std() > 0 and abs(before - after).mean() > 0.05


@pytest.mark.parametrize("key,value", [("sampler", "ddpm"), ("dataset", "checkerboard")])
def test_sampling_controls_change_generated_samples(key, value):
    at = run_page({"steps": "20"})
    before = decoded(sample_traces(fig_by_title(at, "step 20/20"))[0]["x"])
    at.selectbox(key=key).set_value(value).run()
    assert not at.exception
    after = decoded(sample_traces(fig_by_title(at, "step 20/20"))[0]["x"])
    assert abs(before - after).mean() > 1e-3


def sample_traces(fig: dict) -> list[dict]:
    """Figure 6's generated points, one trace per schedule (the true-data line is a contour trace)."""
    return [t for t in fig["data"] if t["type"] == "scattergl"]


def test_figure_6_table_leads_with_the_gap_and_shows_the_true_data_row():
    at = run_page({"steps": "20"})
    table = next(m.value for m in at.markdown if m.value.startswith("| samples |"))
    assert table.splitlines()[0].startswith("| samples | log-density gap ↓ | mean log-density |")
    assert "| true data (2,000 fresh samples) |" in table
    caption = " ".join(c.value for c in at.caption)
    assert "the data's own value, −0.31".replace("−", "-") in caption
    assert "A higher mean log-density is not better" in caption
    assert any("Under-dispersion" in m.value and "under-dispersed" in m.value for m in at.markdown)
    fig = fig_by_title(at, "step 20/20")
    assert [t["type"] for t in fig["data"]] == ["scattergl", "contour"]  # the line drawn over the points


def test_schedule_choice_changes_generation():
    at = run_page({"schedule": ["linear", "cosine"], "steps": "10"})
    fig = fig_by_title(at, "step 10/10")
    linear, cosine = sample_traces(fig)
    linear_pts, cosine_pts = decoded(linear["x"]), decoded(cosine["x"])
    assert abs(linear_pts - cosine_pts).mean() > 1e-2


def test_generation_depends_only_on_what_changes_the_samples():
    """t, the reverse step shown, the level and the non-VP contrast never re-sample figure 6."""
    from explainers import schedule_view as V
    from explainers.state import read_url

    base = dict(read_url(V.PARAMS, {}).values)
    key = V.generation_values(base)
    for name, value in (("t", 3), ("step", 7), ("level", "Hard"), ("contrast", "flow_matching"), ("shift", 3.0)):
        assert V.generation_values({**base, name: value}) == key, name
    for name, value in (("T", 500), ("eta", 0.5), ("seed", 3), ("steps", 20), ("ztsnr", True), ("cosine_s", 0.02)):
        assert V.generation_values({**base, name: value}) != key, name


def test_level_hard_shows_equations():
    at = run_page({"level": "Hard"})
    assert len(at.latex) >= 4


def test_malformed_url_shows_notices_and_falls_back():
    at = run_page({"T": "1e9", "eta": "nan", "schedule": "zigzag", "sampler": "<b>x</b>", "t": "-3", "zz": "1"})
    text = "\n".join(w.value for w in at.warning)
    for key in ("'T'", "'eta'", "'schedule'", "'sampler'", "'t'"):
        assert key in text
    assert "Unknown URL parameter `zz`" in text
    assert at.slider(key="T").value == 1000
    assert at.multiselect(key="schedule").value == ["cosine"]


def test_invalid_cross_parameter_combination_is_reported_not_raised():
    at = run_page({"schedule": ["linear", "cosine"], "beta_start": "0.009", "beta_end": "0.002"})
    errors = "\n".join(e.value for e in at.error)
    assert "linear" in errors and "beta_end must be >= beta_start" in errors
    assert len(chart_specs(at)) == 11  # the cosine schedule is still shown


# ---- sections: one open at a time ---------------------------------------------------------------

def chart_keys(at) -> list[str]:
    """The names of the live charts an AppTest run drew, in page order (ui.figure's `_chart_<key>`)."""
    ids = [el.proto.id.split("-", 2)[-1] for el in at.get("bidi_component")]  # "$$ID-<hash>-<key>"
    return [i for i in ids if i.startswith("_chart_")]


SECTION_CHARTS = {
    "schedule": ["schedule_curves", "variance_split", "snr"],
    "measured": ["measured_variance"],
    "forward": ["forward_points", "forward_image", "frequency_power", "score_field"],
    "generation": ["generation", "step_rug", "exact_generation"],
}


@pytest.mark.parametrize("section", [*SECTION_CHARTS, None])
def test_a_section_draws_its_figures_and_no_other(section):
    at = run_page({"section": section} if section else {"section": "schedule"})
    expected = SECTION_CHARTS[section or "schedule"]
    assert len(chart_specs(at)) == len(expected)
    assert [k.removeprefix("_chart_") for k in chart_keys(at)] == expected
    assert not at.warning


def test_all_sections_draw_every_figure_in_order():
    at = run_page({"section": "all"})
    assert [k.removeprefix("_chart_") for k in chart_keys(at)] == [k for keys in SECTION_CHARTS.values() for k in keys]


def test_the_default_section_is_the_schedule_and_stays_out_of_the_url():
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.switch_page(PAGE)
    at.run()
    assert [k.removeprefix("_chart_") for k in chart_keys(at)] == SECTION_CHARTS["schedule"]
    assert "section" not in at.query_params


def test_a_bad_section_names_the_parameter_and_its_choices_and_opens_the_first():
    at = run_page({"section": "figure9"})
    warning = " ".join(w.value for w in at.warning)
    assert "'section'" in warning and "figure9" in warning
    assert "schedule, measured, forward, generation, own_data, all" in warning
    assert [k.removeprefix("_chart_") for k in chart_keys(at)] == SECTION_CHARTS["schedule"]


@pytest.mark.parametrize("step_no", [1, 4, 6])
def test_a_lesson_step_opens_its_section(step_no):
    from explainers.lessons import SCHEDULE

    at = AppTest.from_file("../app.py", default_timeout=120)
    at.query_params["lesson"] = str(step_no)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    section = SCHEDULE[step_no - 1].section
    assert [k.removeprefix("_chart_") for k in chart_keys(at)] == SECTION_CHARTS[section]
