"""Classroom features in a real browser: offline, presenter view, exports, accessibility."""

import csv
import json
import io
import zipfile
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from devtools import ARTIFACTS, pick_option, wait_for_app, wait_until_settled

pytestmark = pytest.mark.browser


def test_nothing_is_fetched_from_outside_the_server(server, page):
    hosts = []
    page.on("request", lambda r: hosts.append(urlsplit(r.url)))
    for path in ("/", "/noise_schedule?lesson=2", "/backward_noise_init?n_frames=8", "/spectral_norm?level=Hard"):
        page.goto(server.url + path)
        wait_until_settled(page)  # KaTeX, fonts, icons, charts: all in, so all requested
        if "lesson" in path:
            page.get_by_text("Show the answer").first.click()
            page.locator('[data-testid="stExpander"]').filter(has_text="Show the answer").first \
                .locator('[data-testid="stExpanderDetails"]').wait_for(state="visible")
            wait_until_settled(page)  # the answer laid out, and the fonts it asked for loaded
    outside = {u.netloc for u in hosts if u.scheme in ("http", "https", "ws", "wss")
               and u.hostname not in ("127.0.0.1", "localhost")}
    assert len(hosts) > 20 and outside == set()


def test_presenter_view_enlarges_and_hides_controls(server, page):
    page.goto(f"{server.url}/backward_noise_init?lesson=2&present=true&hide=sidebar,form")
    wait_for_app(page)
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "21px"
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert page.get_by_text("Lesson · step 2 of 5").is_visible()
    heights = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p._fullLayout.height)")
    assert min(heights) > 300
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "presenter_lesson.png"))


def test_csv_export_holds_the_figure_data_and_pack_opens(server, page):
    page.goto(f"{server.url}/noise_schedule?schedule=linear&T=200&section=all")
    wait_for_app(page)
    find_beta = ("() => [...document.querySelectorAll('.js-plotly-plot')].find(p => p._fullLayout && "
                 "p._fullLayout.annotations.length && p._fullLayout.annotations[0].text.startsWith('β_t'))")
    page.wait_for_function(find_beta)
    plotted = page.evaluate(f"() => Array.from(({find_beta})()._fullData[0].y)")
    page.get_by_text("Share this view and export its figures").click()
    pick_option(page, "Export one figure", "β_t")  # the page's one export menu: a figure, then a format
    with page.expect_download() as info:
        page.get_by_role("button", name="Data (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(open(info.value.path()).read())))
    betas = [float(r["y"]) for r in rows if r["trace"] == "0"]
    np.testing.assert_allclose(betas, plotted, rtol=1e-6)
    assert len(betas) == 200

    link = page.locator("code").filter(has_text="/noise_schedule?").first.inner_text()
    assert "schedule=linear" in link and "T=200" in link
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download the figure pack").click()
    with zipfile.ZipFile(info.value.path()) as zf:
        names = zf.namelist()
        assert sum(n.endswith(".csv") for n in names) >= 6
        captions = zf.read("captions.txt").decode()
        assert "T=200" in captions
        pngs = [n for n in names if n.endswith(".png")]
        if pngs:
            assert sum(n.endswith(".svg") for n in names) == len(pngs)
            assert Image.open(io.BytesIO(zf.read(pngs[0]))).size[0] > 500
        else:  # the renderer could not run (e.g. a starved machine): the pack must say why
            assert "(no images:" in captions


def test_accessibility_names_captions_keyboard_and_reduced_motion(server, page):
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{server.url}/backward_noise_init?n_frames=8")
    wait_for_app(page)
    tree = page.locator("body").aria_snapshot()
    for name in ("Frames to generate", "sigma_init (frame-index reading)", "Reading of t in Eq. 1"):
        assert name in tree
    page.wait_for_selector(".js-plotly-plot")
    charts = page.locator(".js-plotly-plot").count()
    captions = page.locator('[data-testid="stCaptionContainer"]').count()
    assert charts >= 5 and captions >= charts
    # Keyboard: focus the frames slider and move it without a mouse.
    slider = page.get_by_role("slider", name="Frames to generate")
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_for_app(page)
    assert "n_frames=16" in page.url
    # Nothing plays by itself: once the 16-frame animation is drawn and no Plotly animation is in flight
    # (wait_until_settled), it is on its first frame.
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(p => p._fullLayout?.sliders?.[0]?.steps?.length === 16)")
    wait_until_settled(page)
    active = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".map(p => p._fullLayout.sliders && p._fullLayout.sliders.length ? p._fullLayout.sliders[0].active : null)"
                           ".filter(v => v !== null)")
    assert active == [0]


def rgba(text: str) -> tuple[list[float], float]:
    parts = [float(v) for v in text[text.index("(") + 1: text.index(")")].split(",")]
    return [v / 255 for v in parts[:3]], parts[3] if len(parts) > 3 else 1.0


def over(top: str, below: str) -> str:
    """Composite a possibly translucent colour over an opaque one, as the browser paints it."""
    (c, a), (b, _) = rgba(top), rgba(below)
    mixed = [a * x + (1 - a) * y for x, y in zip(c, b)]
    return "rgb(" + ",".join(str(round(255 * v)) for v in mixed) + ")"


def luminance(rgb: str) -> float:
    values = rgba(rgb)[0]
    lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_in_light_and_dark_themes(server, chromium, scheme):
    # No theme is forced in config, so the app follows the viewer's colour-scheme preference.
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
    pg = context.new_page()
    pg.goto(f"{server.url}/noise_schedule?lesson=1")
    wait_for_app(pg)
    bg, pairs = pg.evaluate("""() => {
        const app = getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor;
        // The colour behind an element: the first ancestor with an opaque background.
        const behind = e => {
            // A slider's value label sits above the thumb, outside it on screen though inside it in the DOM.
            if (e.closest('[data-testid="stSliderThumbValue"]')) return app;
            for (; e; e = e.parentElement) {
                const c = getComputedStyle(e).backgroundColor;
                if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
            }
            return app;
        };
        const sel = '[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"], h1, h3, '
                  + 'button p, label p, [data-testid="stSliderThumbValue"] p';
        return [app, [...document.querySelectorAll(sel)]
                       // WCAG exempts disabled controls from the contrast rule.
                       .filter(e => e.offsetParent && e.textContent.trim() && !e.closest('button:disabled'))
                       .slice(0, 80).map(e => [getComputedStyle(e).color, behind(e), e.textContent.slice(0, 30)])];
    }""")
    context.close()
    assert (luminance(bg) < 0.1) == (scheme == "dark")
    ratios = []
    for fg, back, text in pairs:
        back = over(back, bg)
        hi, lo = sorted([luminance(over(fg, back)), luminance(back)], reverse=True)
        ratios.append(((hi + 0.05) / (lo + 0.05), text))
    worst = min(ratios)
    assert len(ratios) >= 20 and worst[0] >= 4.5, worst  # WCAG AA for body text


# The Lipschitz chart's bars (every bar trace of the first chart that has any), as plain lists: what
# a student sees of each layer's σ, whatever the traces are called.
SIGMA_BAR_DATA = """() => {
    // Section 3's chart by its name (ui.figure key "sigma_bars"), not the first bar chart: charts are drawn
    // one per frame, so right after a change another bar chart (the conv norms) may be drawn first.
    const p = document.querySelector('.st-key-_chart_sigma_bars .js-plotly-plot');
    if (p && !(p._fullData && p._fullData.some(t => t.type === 'bar'))) return null;
    return p ? p._fullData.filter(t => t.type === 'bar').map(t => [Array.from(t.x), Array.from(t.y)]) : null;
}"""


def sigma_bars(page):
    page.wait_for_function(f"() => ({SIGMA_BAR_DATA})() !== null", timeout=120_000)
    return page.evaluate(SIGMA_BAR_DATA)


def test_a_change_inside_a_lesson_is_in_the_link_and_reopens_exactly(server, chromium, page):
    from explainers.spectral_view import MODE_LABELS

    def option(control, mode):  # by position: the options are the modes in MODE_LABELS' order, however worded
        return control.get_by_role("radio").nth(list(MODE_LABELS).index(mode))

    page.goto(f"{server.url}/spectral_norm?lesson=6")
    wait_for_app(page)
    step_bars = sigma_bars(page)
    control = page.locator(".st-key-m_D-hidden1")
    assert option(control, "sn").get_attribute("aria-checked") == "true"
    # Back to off: the page default, which Streamlit's URL binding alone leaves out of the URL.
    option(control, "off").click()
    wait_for_app(page)
    page.wait_for_function("() => location.search.includes('m_D.hidden1=off')", timeout=30_000)
    page.wait_for_function(f"() => JSON.stringify(({SIGMA_BAR_DATA})()) !== {json.dumps(json.dumps(step_bars))}",
                           timeout=60_000)  # redrawn with the new mode
    seen = sigma_bars(page)
    assert seen != step_bars  # D.hidden1 keeps its raw σ now
    assert "lesson=6" in page.url and "m_D.hidden1=off" in page.url
    page.get_by_text("Share this view and export its figures").click()
    link = page.locator("code").filter(has_text="/spectral_norm?").first.inner_text().strip()
    assert "lesson=6" in link and "m_D.hidden1=off" in link

    # The link, opened by a student in a fresh browser, shows exactly that view.
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    student = context.new_page()
    student.goto(link.replace("http://localhost", "http://127.0.0.1"))
    wait_for_app(student)
    control = student.locator(".st-key-m_D-hidden1")
    assert option(control, "off").get_attribute("aria-checked") == "true"
    assert student.get_by_text("Lesson · step 6 of").is_visible()
    assert sigma_bars(student) == seen
    context.close()


def test_lesson_changes_reach_the_url_in_apptest():
    """The same, without a browser: the URL Streamlit holds for the session carries the change."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../pages/spectral_norm.py", default_timeout=180)
    at.query_params["lesson"] = "6"
    at.run()
    assert at.segmented_control(key="m_D.hidden1").value == "sn" and "m_D.hidden1" not in at.query_params
    at.segmented_control(key="m_D.hidden1").set_value("off").run()
    at.segmented_control(key="m_D.hidden2").set_value("bsn").run()
    url = dict(at.query_params)
    assert url.get("m_D.hidden1") in ("off", ["off"]) and url.get("m_D.hidden2") in ("bsn", ["bsn"]), url
    assert any("m_D.hidden1=off" in c.value for c in at.code)  # the share link
    # Next still moves on: step 7's own values replace the changes.
    at.button(key="_lesson_next_spectral_norm").click().run()
    assert at.segmented_control(key="m_in_x").value == "sn"


def test_a_change_in_a_fragment_inside_a_lesson_is_in_the_link(server, chromium, page):
    """The schedule page's sampling controls rerun only their fragment: the link must follow them too."""
    from explainers.lessons import LESSONS
    from explainers.schedule_view import PARAM

    default = PARAM["steps"].default
    k, step = next((k, s) for k, s in enumerate(LESSONS["noise_schedule"], 1) if s.params["steps"] != default)
    page.goto(f"{server.url}/noise_schedule?lesson={k}")
    wait_for_app(page)
    slider = page.locator(".st-key-steps input[type=range]")
    assert slider.input_value() == str(step.params["steps"])
    slider.focus()
    moves = default - step.params["steps"]
    for _ in range(abs(moves)):  # back to the page default, which the URL binding alone leaves out
        page.keyboard.press("ArrowRight" if moves > 0 else "ArrowLeft")
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('steps') === '{default}'", timeout=60_000)
    assert f"lesson={k}" in page.url

    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    student = context.new_page()
    student.goto(page.url)
    wait_for_app(student)
    assert student.locator(".st-key-steps input[type=range]").input_value() == str(default)
    context.close()
