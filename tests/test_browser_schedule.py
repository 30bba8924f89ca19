"""Browser test on a freshly started server: deep link, keyboard slider move, chart data change."""

import pytest

from devtools import ARTIFACTS, FIRST_CHART, FIRST_CHART_X_LEN, wait_for_app

pytestmark = pytest.mark.browser


def first_trace_len(page) -> int:
    page.wait_for_function(f"() => ({FIRST_CHART_X_LEN})() !== undefined")
    return page.evaluate(FIRST_CHART_X_LEN)


def test_deep_link_then_keyboard_slider_changes_chart(server, page):
    # First request on this fresh server is the deep link itself (the legacy-pages pitfall).
    page.goto(f"{server.url}/noise_schedule?schedule=linear&schedule=cosine&T=500&ztsnr=true&section=all")
    wait_for_app(page)
    assert page.get_by_role("heading", name="VP noise schedules").is_visible()
    # The app's own sidebar (device readout) is there, so app.py's navigation ran, not legacy mode.
    assert page.get_by_text("Device:").first.is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert first_trace_len(page) == 500
    legend = page.evaluate(f"() => {FIRST_CHART}._fullData.map(t => t.name)")
    assert "linear" in legend and "cosine" in legend

    # Tag every chart on the page, to tell afterwards whether the slider move rebuilt them or updated them
    # (once all eleven are drawn: they are drawn one at a time).
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 11", timeout=30_000)
    n_charts = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map((p, i) => p.__tag = i).length")
    assert n_charts == 11

    slider = page.get_by_role("slider", name="Diffusion steps T")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({FIRST_CHART_X_LEN})() === 510", timeout=30_000)
    wait_for_app(page)
    assert "T=510" in page.url
    # The same chart elements, updated in place (ui/live_chart.py), and the charts drew the new T.
    assert page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p.__tag)") == list(range(11))
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[1]._fullData[0].x.length === 510",
                           timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "noise_schedule.png"), full_page=True)


def test_bad_url_value_shows_notice_not_exception(server, page):
    page.goto(f"{server.url}/noise_schedule?T=abc&eta=<script>x</script>&bogus=1")
    wait_for_app(page)
    # wait_for, not is_visible: on a loaded machine the notices may land just after the app settles
    page.get_by_text("URL parameter 'T' (Diffusion steps T) must be a number in [10, 2000]").wait_for(timeout=30_000)
    page.get_by_text("Unknown URL parameter bogus was ignored.").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("script:text('x')").count() == 0
    assert first_trace_len(page) == 1000


def test_charts_follow_the_viewers_light_or_dark_preference(server, page):
    """Charts take the page's text colour, and take the new one when the viewer switches light/dark."""
    page.emulate_media(color_scheme="light")
    page.goto(f"{server.url}/noise_schedule?T=200")
    wait_for_app(page)
    first_trace_len(page)
    ink = f"() => {FIRST_CHART}._fullLayout.font.color"
    text = "() => getComputedStyle(document.querySelector('.nl-chart')).color"
    light = page.evaluate(ink)
    assert light == page.evaluate(text)
    page.emulate_media(color_scheme="dark")
    page.wait_for_function(f"() => ({ink})() !== {light!r} && ({ink})() === ({text})()", timeout=30_000)
    # Dark text colours are light: the sum of the RGB channels flips from low to high.
    channels = lambda c: sum(int(v) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3])  # noqa: E731
    assert channels(light) < 300 < channels(page.evaluate(ink))


def test_server_turns_nagle_off_on_its_websockets(server, page):
    """ui/nodelay.py ran in the real server and found the socket it listens on (Streamlit leaves Nagle on)."""
    page.goto(f"{server.url}/noise_schedule?T=100")
    wait_for_app(page)
    assert f"TCP_NODELAY set on the server's sockets (port {server.port})" in server.log.read_text()


def chart_titles(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                         ".map(p => (p.layout && p.layout.title && p.layout.title.text) || '')")


def open_tab(page, label: str, n_charts: int) -> None:
    page.get_by_role("tab", name=label).click()
    wait_for_app(page)
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length === {n_charts}", timeout=30_000)


def test_one_section_at_a_time_in_the_url_and_its_controls_keep_their_values(server, page):
    page.goto(f"{server.url}/noise_schedule?T=500&t=120")
    wait_for_app(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 3", timeout=30_000)
    assert "section=" not in page.url  # the default section: figures 1-3
    assert page.get_by_role("tab", name="1–3 · Schedule and SNR").get_attribute("aria-selected") == "true"

    open_tab(page, "5 · At step t", 4)
    assert "section=forward" in page.url
    assert any("t = 120" in title for title in chart_titles(page))
    slider = page.get_by_role("slider", name="Time step t")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('t=121')", timeout=30_000)
    wait_for_app(page)

    open_tab(page, "1–3 · Schedule and SNR", 3)
    assert "section=" not in page.url
    open_tab(page, "5 · At step t", 4)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(p => (p.layout?.title?.text || '').includes('t = 121'))", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
