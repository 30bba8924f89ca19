"""bench/bench_interaction.py without a browser: its floor page runs and draws 1,000 points that follow the
slider, and its list of controls drives every slider of every page (a new slider is measured, not missed)."""

from streamlit.testing.v1 import AppTest

from bench.bench_interaction import FLOOR_SCRIPT, NOT_DRIVEN, PAGES, all_controls, page_params
from devtools import ROOT, chart_specs, decoded


def floor_points(at):
    (figure,) = chart_specs(at)
    (trace,) = figure["data"]
    return decoded(trace["y"])


def test_the_floor_page_is_one_slider_and_one_chart_of_1000_points():
    at = AppTest.from_file(str(ROOT / FLOOR_SCRIPT), default_timeout=60).run()
    assert not at.exception and len(at.slider) == 1
    before = floor_points(at)
    assert len(before) == 1000
    at.slider(key="shift").set_value(60).run()
    assert not at.exception and (floor_points(at) != before).any()


def test_every_slider_toggle_and_choice_of_every_page_is_driven():
    assert set(page_params()) == set(PAGES) and all((ROOT / "pages" / f"{p}.py").exists() for p in PAGES)
    driven = {(c.page, c.key): c.kind for c in all_controls()}
    for page, params in page_params().items():
        for p in params:
            if p.kind in ("int", "float"):
                assert driven.get((page, p.key)) == "slider", (page, p.key)
            elif p.kind in ("bool", "choice") and p.key not in NOT_DRIVEN:
                assert (page, p.key) in driven, (page, p.key)
