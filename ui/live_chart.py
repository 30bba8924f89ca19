"""Plotly charts that the browser updates in place instead of drawing anew.

`st.plotly_chart` names each chart by a hash of its figure, so when a slider changes the data the
browser throws the old chart away and builds a new one: `Plotly.newPlot`, and for point clouds a new
WebGL context. On this project's 2-core machine, in Chromium's software rendering, that costs
60 ms for figure 1 of the schedule page and about 150 ms for each point cloud, against 22 ms and
15-18 ms for `Plotly.react` on the chart already on screen (bench/bench_schedule_page.py prints
both). A T move redraws seven charts, so a key press waited for about half a second of drawing.

This module shows a figure through a small Streamlit custom component (components v2, no iframe)
whose identity is a fixed key: the same chart element stays on the page from run to run and hands
each new figure to `Plotly.react`. The look follows the app's theme (font, text colour, light or
dark), read from the page around the chart, as Streamlit's own Plotly theme does.

plotly.js itself is the copy that ships with the installed `plotly` package, so the browser always
runs the version the Python figures were written for. It is written once per process into
`static/` next to app.py, which Streamlit serves at `/app/static/` (`server.enableStaticServing`).
Where that is not possible (static serving off, or a read-only checkout), charts fall back to
`st.plotly_chart`.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import streamlit as st

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"  # served by Streamlit next to app.py

_JS = """
function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  // One <script> per page, however many charts ask at once.
  window.__noiseLabPlotly ||= new Promise((resolve, reject) => {
    const tag = document.createElement("script");
    tag.src = src;
    tag.onload = () => resolve(window.Plotly);
    tag.onerror = () => { window.__noiseLabPlotly = undefined; reject(new Error("could not load " + src)); };
    document.head.appendChild(tag);
  });
  return window.__noiseLabPlotly;
}

// Streamlit's look for the chart: the page's font and text colour, faint grid lines, no background.
function themed(layout, el) {
  const style = getComputedStyle(el);
  const ink = style.color;
  const faint = (alpha) => ink.replace(/^rgba?\\(([^,]+),([^,]+),([^,)]+).*$/, `rgba($1,$2,$3,${alpha})`);
  const axis = {automargin: true, title: {standoff: 8}, gridcolor: faint(0.12), linecolor: faint(0.25),
                zerolinecolor: faint(0.25), tickcolor: faint(0.25)};
  const template = {layout: {
    font: {family: style.fontFamily, color: ink},
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: axis, yaxis: axis, coloraxis: {colorbar: {outlinewidth: 0}},
    annotationdefaults: {font: {color: faint(0.7)}},
    legend: {font: {color: ink}},
  }};
  // A legend laid out under the plot (the figures' default) goes to the bottom of the chart, below the x-axis
  // title, whatever the plot's height: placed in plot coordinates it ran into the title on short plots.
  const legend = layout.legend || {};
  const below = legend.orientation === "h" && (legend.y ?? 1) < 0;
  return {...layout, template, autosize: true, width: undefined,
          legend: below ? {...legend, yref: "container", y: 0, yanchor: "bottom"} : layout.legend};
}

// Charts are drawn one at a time, with a frame painted between two of them: after a slider move the
// first chart appears as soon as it is drawn instead of after every chart on the page. The cheapest waiting
// chart goes first (chart.__cost, below), so the page answers with what it can draw at once while subplot
// grids and WebGL point clouds follow; drawing starts a task after the first chart asks, once the other
// charts of the same render have asked too. A chart that gets a newer figure while it waits keeps its
// place and draws the newest (chart.__draw).
const queue = [];
let draining = false;
const nextFrame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
async function drain() {
  while (queue.length) {
    let next = 0;
    queue.forEach((chart, i) => { if (chart.__cost < queue[next].__cost) next = i; });
    await queue.splice(next, 1)[0].__draw();
    await nextFrame();
  }
  draining = false;
}
function enqueue(chart) {
  if (!queue.includes(chart)) queue.push(chart);
  if (!draining) {
    draining = true;
    setTimeout(drain, 0);
  }
}

// What a chart costs Plotly.react, roughly: each trace, each extra subplot axis, and a WebGL scene, which
// is rebuilt on every draw (docs/PERFORMANCE.md, "Draw order").
function costOf(spec) {
  const axes = Object.keys(spec.layout).filter((k) => /^[xy]axis\d+$/.test(k)).length;
  return spec.data.reduce((sum, t) => sum + (t.type === "scattergl" ? 6 : 1), 0) + axes;
}

// Streamlit calls this on every render of the page, which happens many times per script run. The figure comes
// as bytes (see show() in Python): the same array object while the element is unchanged, so most calls return
// at once; a new array with the same figure (a rerun that did not change this chart) returns after one decode.
const decoder = new TextDecoder();
export default function ({ parentElement, data }) {
  const chart = parentElement.querySelector(".nl-chart");
  if (chart.__data === data) return;
  chart.__data = data;
  const text = decoder.decode(data);
  if (chart.__text === text) return;
  chart.__text = text;
  const { spec, config: given, src } = JSON.parse(text);
  chart.style.height = (spec.layout.height || 340) + "px";
  chart.__cost = costOf(spec);
  const config = {...given, responsive: true};
  chart.__draw = () => loadPlotly(src)
    .then((Plotly) => {
      // Figures can arrive faster than they are drawn; draw only the newest.
      if (chart.__text !== text) return;
      const layout = themed(spec.layout, chart);
      return Plotly.react(chart, {data: spec.data, layout, config, frames: spec.frames});
    })
    .catch((err) => { chart.textContent = "This chart could not be drawn: " + err.message; });
  enqueue(chart);
}

// The app follows the viewer's light or dark preference; when it changes, every chart takes the new colours
// (after Streamlit has restyled the page, which it does on the same event).
if (!window.__noiseLabThemeWatch) {
  window.__noiseLabThemeWatch = true;
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => setTimeout(() => {
    document.querySelectorAll(".nl-chart").forEach((chart) => chart.__draw && enqueue(chart));
  }, 250));
}
"""

_CSS = ".nl-chart { width: 100%; }"


# The first element of every page asks for plotly.js, so the browser fetches and parses it while the rest of
# the page's elements arrive, not only once the first chart mounts (about a second later on a fresh open).
_PRELOAD_JS = _JS.split("// Streamlit's look for the chart")[0] + """
export default function ({ data }) { loadPlotly(data).catch(() => {}); }
"""


@functools.cache
def _preloader():
    return st.components.v2.component("noise_lab_plotly_preload", html="<span></span>", js=_PRELOAD_JS,
                                      isolate_styles=False)


def preload() -> None:
    """Start loading plotly.js now (see _PRELOAD_JS); nothing when charts fall back to st.plotly_chart."""
    src = plotly_js_url()
    if src is not None:
        _preloader()(key="_plotly_preload", data=src)


@functools.cache
def _component():
    return st.components.v2.component(COMPONENT_NAME, html='<div class="nl-chart"></div>', css=_CSS, js=_JS,
                                      isolate_styles=False)


def write_plotly_js() -> str | None:
    """Write the installed plotly.js into static/ unless it is there; its file name, or None if it cannot be
    written. The Dockerfile calls this at build time, since the image's app folder is read-only to the app."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    name = f"plotly-{get_plotlyjs_version()}.min.js"
    target = STATIC_DIR / name
    if not target.exists():
        try:
            STATIC_DIR.mkdir(exist_ok=True)
            # Written aside and renamed, so a second server starting at the same time never serves half a file.
            with tempfile.NamedTemporaryFile("w", dir=STATIC_DIR, suffix=".part", delete=False) as tmp:
                tmp.write(get_plotlyjs())
            os.replace(tmp.name, target)
        except OSError:
            return None
    return name


@functools.cache
def plotly_js_url() -> str | None:
    """The URL of plotly.js for the browser (written into static/ on first use); None when it cannot be served."""
    from streamlit import config

    if not config.get_option("server.enableStaticServing"):
        return None
    name = write_plotly_js()
    if name is None:
        return None
    base = config.get_option("server.baseUrlPath").strip("/")
    return f"/{base}/app/static/{name}" if base else f"/app/static/{name}"


COMPONENT_NAME = "noise_lab_chart"


def payload_of(element_proto) -> dict:
    """What a live chart element sent: {"config", "src", "spec"}."""
    return json.loads(element_proto.bytes)


def spec_of(element_proto) -> dict | None:
    """The Plotly figure (as a JSON dict) that a chart element sent to the browser: a live chart's
    component proto or, in the fallback, Streamlit's own plotly_chart proto. None for anything else.
    For tests and benchmarks that read what a page drew."""
    if getattr(element_proto, "component_name", None) == COMPONENT_NAME:
        return payload_of(element_proto)["spec"]
    if hasattr(element_proto, "spec") and type(element_proto).__name__ == "PlotlyChart":
        return json.loads(element_proto.spec)
    return None


def show(fig, key: str, config: dict, own_fonts: bool = False) -> None:
    """Draw `fig` as the chart named `key`: updated in place when the same key is drawn again.
    `own_fonts` keeps the figure's font sizes (presenter view); live charts always do, and in the fallback
    Streamlit's chart theme would set its own small ones."""
    import plotly.io as pio

    src = plotly_js_url()
    if src is None:
        st.plotly_chart(fig, width="stretch", key=key, config=config, theme=None if own_fonts else "streamlit")
        return
    # The browser replaces the figure's Python-side template (plotly's default look) with the app's theme.
    spec = pio.to_json(fig, validate=False, engine="orjson")
    # One JSON document, sent as bytes: a dict here would be JSON-encoded twice more by Streamlit (for the
    # element and for its identity), with the figure's JSON escaped inside a string each time, and parsed
    # twice in the browser. Bytes are sent as they are and identified by one hash: less work on both ends
    # and a smaller message (docs/PERFORMANCE.md).
    head = json.dumps({"config": config, "src": src})
    _component()(key=key, data=f'{head[:-1]}, "spec": {spec}}}'.encode())
