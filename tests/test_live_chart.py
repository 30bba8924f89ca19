"""ui/live_chart.py: plotly.js served from the installed package, the fallback to st.plotly_chart, and
what a chart sends to the browser. (That the browser updates charts in place is checked in
tests/test_browser_schedule.py.)"""

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version
from streamlit import config
from streamlit.testing.v1 import AppTest

from devtools import chart_specs
from ui import live_chart


@pytest.fixture
def static_dir(tmp_path, monkeypatch):
    """A fresh static/ folder and a fresh lookup of the plotly.js URL; config options put back after."""
    saved = {k: config.get_option(k) for k in ("server.enableStaticServing", "server.baseUrlPath")}
    monkeypatch.setattr(live_chart, "STATIC_DIR", tmp_path / "static")
    live_chart.plotly_js_url.cache_clear()
    yield tmp_path / "static"
    for k, v in saved.items():
        config.set_option(k, v)
    live_chart.plotly_js_url.cache_clear()


def test_plotly_js_is_the_installed_packages_copy_served_under_the_base_path(static_dir):
    config.set_option("server.enableStaticServing", True)
    config.set_option("server.baseUrlPath", "/class-3b/")
    name = f"plotly-{get_plotlyjs_version()}.min.js"
    assert live_chart.plotly_js_url() == f"/class-3b/app/static/{name}"
    assert (static_dir / name).read_text() == get_plotlyjs()
    assert [p.name for p in static_dir.iterdir()] == [name]  # nothing half-written left behind


def test_no_static_serving_or_an_unwritable_folder_means_no_url(static_dir, monkeypatch):
    config.set_option("server.enableStaticServing", False)
    assert live_chart.plotly_js_url() is None
    live_chart.plotly_js_url.cache_clear()
    config.set_option("server.enableStaticServing", True)
    static_dir.write_text("a file where the folder should be")  # mkdir and the write both fail
    assert live_chart.plotly_js_url() is None


def chart_script():
    import numpy as np
    import plotly.graph_objects as go

    from ui import live_chart

    fig = go.Figure(go.Scatter(x=np.arange(5.0), y=np.arange(5.0) ** 2, name="squares"))
    live_chart.show(fig, key="squares", config={"displaylogo": False})


@pytest.mark.parametrize("served", [True, False])
def test_a_chart_sends_its_figure_either_way(static_dir, served):
    config.set_option("server.enableStaticServing", served)
    at = AppTest.from_function(chart_script).run()
    assert not at.exception
    assert len(at.get("bidi_component")) == served and len(at.get("plotly_chart")) == (not served)
    (spec,) = chart_specs(at)
    assert spec["data"][0]["name"] == "squares"
    if served:
        data = live_chart.payload_of(at.get("bidi_component")[0].proto)
        assert data["src"].endswith(f"/app/static/plotly-{get_plotlyjs_version()}.min.js")
        assert data["config"] == {"displaylogo": False}


def test_spec_of_ignores_other_elements():
    assert live_chart.spec_of(go.Figure()) is None
    assert live_chart.spec_of(np.zeros(2)) is None


def presenter_chart_script():
    import plotly.graph_objects as go

    from ui import live_chart

    live_chart.show(go.Figure(layout=dict(font=dict(size=20))), key="plain", config={})
    live_chart.show(go.Figure(layout=dict(font=dict(size=20))), key="presented", config={}, own_fonts=True)


def test_fallback_keeps_the_presenters_font_sizes(static_dir):
    # Streamlit's chart theme sets its own small fonts; presenter view's enlarged ones must survive it.
    config.set_option("server.enableStaticServing", False)
    at = AppTest.from_function(presenter_chart_script).run()
    assert [el.proto.theme for el in at.get("plotly_chart")] == ["streamlit", ""]
