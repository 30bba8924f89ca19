"""Debian's Chromium driven by Playwright: its flags, and waits for a page to finish what it is doing."""

from __future__ import annotations

import os
import time

CHROMIUM = os.environ.get("NOISE_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def script_state(page) -> str | None:
    return page.evaluate("() => document.querySelector('[data-testid=stApp]')"
                         "?.getAttribute('data-test-script-state')")


# The page's first chart, drawn or not: a live chart's element (ui/live_chart.py), or in the st.plotly_chart
# fallback the first plot. Not simply the first '.js-plotly-plot', which is the first chart *drawn*: live charts
# are drawn one at a time, and on a fresh server's first deep link figure 2 can be drawn before figure 1.
FIRST_CHART = "document.querySelector('.nl-chart, .js-plotly-plot')"
# Points in the first chart's first trace, or undefined: before plotly.js has drawn the chart (and, in
# the st.plotly_chart fallback, while Streamlit remounts it with new data) every step may be missing.
FIRST_CHART_X_LEN = f"() => {FIRST_CHART}?._fullData?.[0]?.x?.length"


def wait_for_app(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script and stays finished for 0.5 s
    (a page may rerun itself once, e.g. on the first deep link of a fresh server)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    deadline = time.time() + timeout_ms / 1000
    calm = 0
    while time.time() < deadline:
        calm = calm + 1 if script_state(page) == "notRunning" else 0
        if calm >= 5:
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the app kept running")


# True once the page has nothing left in progress that could still change it or fetch something: every chart
# drawn (Plotly adds .js-plotly-plot to a live chart's element when it draws it), no Plotly animation
# playing, every image loaded or failed (so any onerror has fired), every style sheet and font loaded.
SETTLED_JS = """() => {
  const charts = [...document.querySelectorAll('.nl-chart, .js-plotly-plot')];
  const drawn = charts.every(c => c.classList.contains('js-plotly-plot') && c._fullLayout);
  const still = charts.every(c => !c._transitionData
    || (!c._transitionData._animationRaf && !(c._transitionData._frameQueue || []).length));
  const images = [...document.images].every(i => i.complete);
  const sheets = [...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet);
  return drawn && still && images && sheets && document.fonts.status === 'loaded';
}"""


def wait_until_settled(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run is over (wait_for_app) and the page has drawn, loaded and played everything
    it was given (SETTLED_JS): after this, what the page did not do, it will not do."""
    wait_for_app(page, timeout_ms)
    page.wait_for_function(SETTLED_JS, timeout=timeout_ms)


# Every Plotly figure's traces, with typed arrays made plain and NaN/inf made strings (exactly comparable).
FIGURE_DATA_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => (p._fullData || []).map(t => {
  const num = x => (typeof x === 'number' && !Number.isFinite(x)) ? String(x) : x;
  const conv = v => v == null ? null : ArrayBuffer.isView(v) ? Array.from(v, num)
                    : Array.isArray(v) ? v.map(conv) : num(v);
  return {name: t.name ?? null, type: t.type, x: conv(t.x), y: conv(t.y), z: conv(t.z), text: conv(t.text)};
}))"""


def figure_data(page, n_figures: int) -> list:
    """The traces of every figure drawn in the browser, once at least `n_figures` figures have data."""
    page.wait_for_function(
        f"() => {{ const p = [...document.querySelectorAll('.js-plotly-plot')]; "
        f"return p.length >= {n_figures} && p.every(x => x._fullData && x._fullData.length); }}", timeout=60_000)
    data = page.evaluate(FIGURE_DATA_JS)
    assert len(data) >= n_figures and all(data)
    return data


def pick_option(page, label: str, text: str) -> None:
    """Choose the option of the st.selectbox labelled `label` whose text contains `text`, by keyboard: open the
    list, move to the option, take it with Enter. (A click on an option scrolls the page, which closes the list
    before the click lands.)"""
    from playwright.sync_api import TimeoutError

    box = page.get_by_role("combobox", name=label)
    box.click()
    focused = page.locator("[role=option][data-focused=true]")
    for _ in range(5):  # the first press or two may only open the list
        box.press("ArrowDown")
        try:
            focused.wait_for(timeout=1000)
            break
        except TimeoutError:
            continue
    options = page.locator("[role=option]").all_text_contents()
    target = next((i for i, o in enumerate(options) if text in o), None)
    if target is None:
        raise LookupError(f"no option containing {text!r} in {label!r}: {options}")
    now = options.index(focused.text_content())
    for _ in range(abs(target - now)):
        box.press("ArrowDown" if target > now else "ArrowUp")
    page.wait_for_function("(text) => document.querySelector('[role=option][data-focused=true]')?.textContent"
                           ".includes(text)", arg=text)
    box.press("Enter")
