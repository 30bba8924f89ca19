"""What a person feels, against Streamlit's own floor (docs: DESIGN.md, Performance).

Two real `streamlit run` servers in the same run, with the flags the tests use (devtools/live_server.py):
the floor, bench/floor_page.py (one st.slider, one st.plotly_chart of 1,000 points), and Noise Lab (app.py).
One headless Chromium drives both, measuring the floor and Noise Lab in turn, so that drift (other work on
the machine, a warming cache) falls on both alike. Prints figures and ratios; asserts nothing.

    .venv/bin/python bench/bench_interaction.py [--repeats 7] [--pages noise_schedule,spectral_norm]
        [--controls T,seed,m_D.hidden1] [--json out.json]

A full run (55 controls, 3 pages) takes about 6 s per control and repeat. --controls measures only those
widget keys, on the pages chosen, and skips the page opens. While it runs, stderr shows each row as it is
measured, with where its time went (p50: when the script run began and ended, as the page saw it).

Every figure is in ms, p50 and p95 over --repeats, timed inside the page with performance.now():

- open, first: a fresh browser context opens the page (deep link); navigation start -> the first chart
  drawn. Each page (and the floor) is opened once, unmeasured, before, so models and caches are loaded.
- open, all: navigation start -> the last chart drawn, once the script has finished and nothing has
  changed for QUIET_MS.
- press, first: a key press (ArrowRight / ArrowLeft on a slider) or a click (toggle, selectbox option,
  segmented button), as the page receives it (keydown / pointerdown) -> the first animation frame in which
  a chart shows new data (a chart element, st.plotly_chart's or a live chart's, ui/live_chart.py, with a
  `_fullData` that was not on screen the frame before). A chart that only vanishes does not count: the
  floor's st.plotly_chart is unmounted for a moment before its new figure is drawn.
- press, settled: the same press -> the last such frame before the page goes quiet (script finished,
  every chart drawn, QUIET_MS without change). A control that changes no chart (e.g. Training steps, used
  only when Train is pressed) has no first figure; its settled figure is then press -> end of the script
  run, and its row is marked "(no chart)".

Each press moves a control away from its value and the next press back (sliders oscillate between two
values, so the URL stays valid). From the third move on, both values can be in the page's st.cache_data
where it has one (samples, rollouts, norms): the first moves are the costly ones, and with few repeats show
in p95. Each control is measured on a fresh session at a URL that makes it matter (e.g. ?schedule=linear
for beta_start; ?m_D.hidden1=sn for n_iter).

Ratios: ours p50 / the floor's p50, the floor's figures taken from the floor presses (or opens)
interleaved with that row. Budgets (DESIGN.md): press first <= 1.3x, settled <= 2x; open first <= 1.2x,
all <= 2x. A row is PASS when both its ratios are within budget, MISS otherwise; ERROR when the control
could not be driven (the message says why; the run goes on).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, summarize  # noqa: E402
from devtools import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, free_port, stop_process  # noqa: E402
from devtools import wait_healthy, wait_until_settled  # noqa: E402
from devtools.browser import SETTLED_JS  # noqa: E402

FLOOR_SCRIPT = "bench/floor_page.py"
PAGES = ("noise_schedule", "backward_noise_init", "spectral_norm")  # url paths in app.py
QUIET_MS = 1500  # no chart change and no script run for this long: the page has settled
TIMEOUT_MS = 120_000  # other work may be sharing the CPU cores
VIEWPORT = {"width": 1400, "height": 1000}
BUDGETS = {"open": (1.2, 2.0), "press": (1.3, 2.0)}  # (first, settled) as multiples of the floor's p50

# ---- the controls ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One control of one page, and how the bench reaches it: the page's URL query that makes it matter
    (or appear at all), and the expander it sits in."""

    page: str
    key: str
    kind: str  # "slider", "toggle", "select" (st.selectbox) or "segment" (st.segmented_control)
    query: str = ""
    expander: str | None = None
    words: tuple[str, ...] = ()  # what the options read, for "select" and "segment"

    @property
    def name(self) -> str:
        return f"{self.page} · {self.key}" + (f" ?{self.query}" if self.query else "")


# Not driven: a multiselect has no single key press, and the explanation level changes text, no chart.
NOT_DRIVEN = {"schedule", "level"}

# Controls that appear, or change a chart, only with other controls set: the query that does it.
QUERIES = {
    ("noise_schedule", "beta_start"): "schedule=linear", ("noise_schedule", "beta_end"): "schedule=linear",
    ("noise_schedule", "sl_beta_start"): "schedule=scaled_linear",
    ("noise_schedule", "sl_beta_end"): "schedule=scaled_linear",
    ("noise_schedule", "beta_min"): "schedule=vp_sde", ("noise_schedule", "beta_max"): "schedule=vp_sde",
    ("noise_schedule", "shift"): "contrast=flow_matching",
    **{("noise_schedule", key): "schedule=karras" for key in ("sigma_min", "sigma_max", "rho")},
    **{("noise_schedule", f"knot{i}"): "schedule=custom" for i in range(1, 6)},
    # The schedule page shows one section at a time (ui.sections); the sidebar's schedule controls change the
    # default one (figures 1-3), these change only the section that holds them or their figures.
    ("noise_schedule", "t"): "section=forward",
    **{("noise_schedule", key): "section=generation" for key in ("seed", "dataset", "sampler", "steps", "eta", "step")},
    ("spectral_norm", "n_iter"): "m_D.hidden1=sn",  # power iterations matter only to a layer under SN
    ("spectral_norm", "threshold"): "m_D.hidden1=optional",  # D.hidden1's sigma (3.5) is above the threshold
}
FAMILY_PARAMETERS = "Family parameters"  # the schedule page's expander (pages/noise_schedule.py)
IN_EXPANDER = {"beta_start", "beta_end", "sl_beta_start", "sl_beta_end", "cosine_s", "beta_min", "beta_max",
               "sigma_min", "sigma_max", "rho", "knot1", "knot2", "knot3", "knot4", "knot5"}


def page_params() -> dict:
    """Each page's URL parameters (explainers/*_view.py PARAMS), by url path."""
    from explainers import backward_view, schedule_view, spectral_view

    return {"noise_schedule": schedule_view.PARAMS, "backward_noise_init": backward_view.PARAMS,
            "spectral_norm": spectral_view.PARAMS}


def layer_models() -> dict[str, str]:
    """The spectral page's layer-mode keys (m_<layer>), each with the model that shows that layer."""
    from explainers import spectral_view as V
    from explainers.state import mode_key

    return {mode_key(layer): model for model in reversed(V.MODELS) for layer in V.LAYERS[model]}


def all_controls() -> list[Control]:
    """Every slider, toggle and single choice of every page, read from the pages' PARAMS."""
    kinds = {"int": "slider", "float": "slider", "bool": "toggle", "choice": "select"}
    modes = layer_models()
    out = []
    for page, params in page_params().items():
        for p in params:
            if p.key in NOT_DRIVEN or p.kind not in kinds:
                continue
            query = QUERIES.get((page, p.key), "")
            kind = kinds[p.kind]
            if p.key in modes:  # drawn as a row of buttons
                kind = "segment"
                query = "" if modes[p.key] == "gan" else f"model={modes[p.key]}"
            expander = FAMILY_PARAMETERS if page == "noise_schedule" and p.key in IN_EXPANDER else None
            words = tuple(p.word(c) for c in p.choices) if kind in ("select", "segment") else ()
            out.append(Control(page, p.key, kind, query, expander, words))
    # T once more with every section open, the page as it was before sections: what a move costs when a
    # viewer asks for everything at once (docs/PERFORMANCE.md, "Sections").
    out.append(Control("noise_schedule", "T", "slider", "section=all"))
    return out


def select_controls(pages: list[str], keys: list[str] | None) -> list[Control]:
    return [c for c in all_controls() if c.page in pages and (not keys or c.key in keys)]


# ---- in the page: when things happen --------------------------------------------------------------------

# Installed in every page before its own scripts run. window.__bench records, on the page's clock:
#  t0     the user's action: the first keydown or pointerdown after arm() (0, navigation start, on open);
#  first  the first animation frame in which a chart shows data (_fullData) not on screen the frame before;
#  last   the last such frame;
#  runStart / runEnd  when the page learnt that Streamlit's script began running after t0, and when the
#         last run finished (None if it did not run): the server's share of the time, roughly.
WATCH_JS = """(() => {
  if (window.__bench) return;
  const b = window.__bench = {t0: 0, first: null, last: null, runStart: null, runEnd: null, seen: new Set()};
  const appState = () => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state');
  const settled = %(settled)s;
  for (const type of ['keydown', 'pointerdown'])
    addEventListener(type, () => { if (b.t0 === null) b.t0 = performance.now(); }, true);
  new MutationObserver((records) => {
    if (b.t0 === null) return;
    const now = performance.now();
    // A short run can begin and end between two callbacks: its record's old value still says 'running'.
    if (appState() === 'running' || records.some(r => r.oldValue === 'running')) b.runStart ??= now;
    if (appState() !== 'running' && b.runStart !== null) b.runEnd = now;
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  const frame = () => {
    const drawn = new Set();
    for (const c of document.querySelectorAll('.nl-chart, .js-plotly-plot')) if (c._fullData) drawn.add(c._fullData);
    if (b.t0 !== null && [...drawn].some(d => !b.seen.has(d))) {
      b.last = performance.now();
      b.first ??= b.last;
    }
    b.seen = drawn;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  b.arm = () => Object.assign(b, {t0: null, first: null, last: null, runStart: null, runEnd: null});
  // Done: the action happened, the script ran (or a chart changed) and finished, every chart is drawn,
  // and nothing has changed for `quiet` ms. An open (needChart) is not done before its first chart.
  b.done = (quiet, needChart) => {
    if (b.t0 === null || appState() !== 'notRunning' || !settled()) return false;
    if (needChart ? b.first === null : b.runStart === null && b.first === null) return false;
    return performance.now() - Math.max(b.t0, b.last ?? 0, b.runEnd ?? 0) >= quiet;
  };
  b.state = () => ({t0: b.t0, first: b.first, last: b.last, runStart: b.runStart, runEnd: b.runEnd,
                    now: performance.now(), script: appState(), settled: settled()});
  const since = (t) => t === null ? null : t - b.t0;
  b.result = () => ({first: since(b.first), settled: since(b.last ?? b.runEnd), chart: b.first !== null,
                     run_start: since(b.runStart), run_end: since(b.runEnd)});
})()""" % {"settled": SETTLED_JS}


def wait_done(page, need_chart: bool = False) -> dict:
    """Wait until the page is done with the action recorded since arm(); its {first, settled, chart}."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => window.__bench.done({QUIET_MS}, {json.dumps(need_chart)})",
                               polling=100, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        state = page.evaluate("() => window.__bench.state()")
        raise TimeoutError(f"{page.url} not done after {TIMEOUT_MS / 1000:.0f} s: {state}") from None
    return page.evaluate("() => window.__bench.result()")


# ---- servers and browser ------------------------------------------------------------------------------------


@contextmanager
def floor_server():
    """`streamlit run bench/floor_page.py` with the flags devtools.Server gives app.py; yields its URL."""
    port = free_port()
    url, log = f"http://127.0.0.1:{port}", ARTIFACTS / f"floor-{port}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", FLOOR_SCRIPT, "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, proc, log, time.perf_counter())
        yield url
    finally:
        stop_process(proc)


@contextmanager
def app_server():
    """Noise Lab as the tests start it (devtools.Server); yields its URL."""
    srv = Server()
    try:
        yield srv.url
    finally:
        srv.stop()


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_tab(browser, url: str):
    """A fresh browser context with the watcher installed, and its page at `url` once settled."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_JS)
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        wait_done(page, need_chart=True)
    except Exception:
        context.close()
        raise
    return page


# ---- figures, by row ---------------------------------------------------------------------------------------


SAMPLES = ("floor_first", "floor_settled", "first", "settled", "run_start", "run_end")


@dataclass
class Row:
    """One line of the table: the floor's samples and ours, in ms (first is None where no chart changed)."""

    name: str
    kind: str  # "open" or "press"
    floor_first: list = field(default_factory=list)
    floor_settled: list = field(default_factory=list)
    first: list = field(default_factory=list)
    settled: list = field(default_factory=list)
    run_start: list = field(default_factory=list)  # ours: the script run began (where the time goes)
    run_end: list = field(default_factory=list)  # ours: the last script run finished
    charted: bool = True  # every press changed a chart
    error: str = ""

    def add(self, floor: dict, ours: dict) -> None:
        self.floor_first.append(floor["first"])
        self.floor_settled.append(floor["settled"])
        self.first.append(ours["first"])
        self.settled.append(ours["settled"])
        self.run_start.append(ours["run_start"])
        self.run_end.append(ours["run_end"])
        self.charted &= ours["chart"]

    def summary(self) -> dict:
        """p50 / p95 of each figure, ratios to the floor, and the mark."""
        s = {k: _stats(getattr(self, k)) for k in SAMPLES}
        first_budget, settled_budget = BUDGETS[self.kind]
        r_first = _ratio(s["first"], s["floor_first"])
        r_settled = _ratio(s["settled"], s["floor_settled"])
        ok = [r <= b for r, b in ((r_first, first_budget), (r_settled, settled_budget)) if r is not None]
        mark = "ERROR" if self.error else ("PASS" if ok and all(ok) else "MISS" if ok else "-")
        return {**s, "ratio_first": r_first, "ratio_settled": r_settled, "mark": mark}


def _stats(ms: list) -> dict | None:
    values = [v for v in ms if v is not None]
    if not values:
        return None
    s = summarize([v / 1000 for v in values])
    return {"p50": s["p50_ms"], "p95": s["p95_ms"], "n": s["n"]}


def _ratio(ours: dict | None, floor: dict | None) -> float | None:
    return ours["p50"] / floor["p50"] if ours and floor else None


# ---- opening pages ------------------------------------------------------------------------------------------


def open_once(browser, url: str) -> dict:
    """Navigation start -> first chart and -> last chart, in a fresh browser context."""
    page = open_tab(browser, url)
    result = page.evaluate("() => window.__bench.result()")
    page.context.close()
    return result


def bench_opens(browser, floor_url: str, app_url: str, pages: list[str], repeats: int) -> list[Row]:
    """The floor, then each page, in turn; the first round only warms up (imports, models, st.cache_*)."""
    rows = [Row(f"open /{p}", "open") for p in pages]
    for round_no in range(repeats + 1):
        for page, row in zip(pages, rows):
            if row.error:
                continue
            try:
                floor, ours = open_once(browser, floor_url), open_once(browser, f"{app_url}/{page}")
            except Exception as err:  # noqa: BLE001 - one page's failure should not end a long run
                row.error = error_text(err)
                continue
            if round_no:
                row.add(floor, ours)
    for row in rows:
        progress(row)
    return rows


# ---- pressing controls --------------------------------------------------------------------------------------

# A move gets its control ready (focus, open a menu), calls arm (which resets the page's watcher, so that
# the next key or pointer press starts its clock), then presses the key or clicks.
Move = Callable[[Callable[[], None]], None]


def css_key(key: str) -> str:
    """Streamlit's container class for a keyed widget: st-key-<key>, with '.' and the like as '-'."""
    return ".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def slider_moves(page, box) -> tuple[Move, Move]:
    """ArrowRight then ArrowLeft (the other way round for a slider at its maximum)."""
    handle = box.locator("input[type=range]")
    value, high = handle.evaluate("e => [Number(e.value), Number(e.max)]")
    keys = ("ArrowRight", "ArrowLeft") if value < high else ("ArrowLeft", "ArrowRight")

    def press(key: str) -> Move:
        def move(arm):
            handle.focus()
            arm()
            page.keyboard.press(key)
        return move

    return press(keys[0]), press(keys[1])


def toggle_moves(page, box) -> tuple[Move, Move]:
    def click(arm):
        arm()
        box.locator("label").first.click()

    return click, click


def select_moves(page, box, words: tuple[str, ...]) -> tuple[Move, Move]:
    """Open the selectbox (not timed), then click the next option; back: the option it had."""
    combo = box.get_by_role("combobox")
    home = combo.input_value()
    away = words[(words.index(home) + 1) % len(words)]

    def choose(word: str) -> Move:
        def move(arm):
            option = open_menu(page, combo, word)
            arm()
            option.click()
        return move

    return choose(away), choose(home)


def open_menu(page, combo, word: str, tries: int = 5):
    """A selectbox's option, once its menu is open. A click on the box, or ArrowDown alone after another
    selectbox was used, did not always open the menu: Escape first, then ArrowDown, and again if need be."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    option = page.get_by_role("option", name=word, exact=True)
    for _ in range(tries):
        combo.press("Escape")
        combo.press("ArrowDown")
        try:
            option.wait_for(timeout=3000)
            return option
        except PlaywrightTimeout:
            page.wait_for_timeout(500)
    raise TimeoutError(f"the menu of {combo.get_attribute('aria-label')!r} did not open")


def segment_moves(page, box, words: tuple[str, ...]) -> tuple[Move, Move]:
    """Click the next button of a segmented control; back: the button that was selected."""
    home = box.locator("[role=radio][aria-checked=true]").inner_text().strip()
    away = words[(words.index(home) + 1) % len(words)]

    def click(word: str) -> Move:
        def move(arm):
            arm()
            box.get_by_role("radio", name=word, exact=True).click()
        return move

    return click(away), click(home)


def moves_for(page, control: Control) -> tuple[Move, Move]:
    """The two moves (away, back) of a control on the page, after opening its expander if it has one."""
    box = page.locator(css_key(control.key))
    if control.expander and not box.is_visible():
        page.get_by_text(control.expander, exact=True).click()
        wait_until_settled(page, TIMEOUT_MS)
    if not box.is_visible():  # the page has settled: it is not coming
        raise LookupError(f"{control.key} is not on {page.url}; if another control must be set first, "
                          "add the query that sets it to QUERIES")
    if control.kind == "slider":
        return slider_moves(page, box)
    if control.kind == "toggle":
        return toggle_moves(page, box)
    if control.kind == "select":
        return select_moves(page, box, control.words)
    return segment_moves(page, box, control.words)


def measure(page, move: Move) -> dict:
    """One move on an idle page: {first, settled, chart} in ms from the press."""
    page.bring_to_front()
    wait_until_settled(page, TIMEOUT_MS)
    move(lambda: page.evaluate("() => window.__bench.arm()"))
    return wait_done(page)


class Floor:
    """The floor's tab, kept open: each measurement presses its slider, right and left in turn."""

    def __init__(self, browser, url: str):
        self.page = open_tab(browser, url)
        self.moves = slider_moves(self.page, self.page.locator("[data-testid=stSlider]"))
        self.count = 0

    def measure(self) -> dict:
        result = measure(self.page, self.moves[self.count % 2])
        self.count += 1
        return result


def bench_control(floor: Floor, page, control: Control, repeats: int) -> Row:
    """Floor press, our press, in turn, `repeats` times; an odd number of moves is undone (unmeasured)."""
    row = Row(control.name, "press")
    try:
        moves = moves_for(page, control)
        for i in range(repeats):
            row.add(floor.measure(), measure(page, moves[i % 2]))
        if repeats % 2:
            measure(page, moves[1])
    except Exception as err:  # noqa: BLE001 - one control's failure should not end a long run
        row.error = error_text(err)
    return row


def error_text(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"


def bench_presses(browser, floor_url: str, app_url: str, controls: list[Control], repeats: int) -> list[Row]:
    """Each page at each query in a fresh session; its controls one after the other."""
    floor = Floor(browser, floor_url)
    rows = []
    groups: dict[tuple[str, str], list[Control]] = {}
    for c in controls:
        groups.setdefault((c.page, c.query), []).append(c)
    for (page_name, query), group in groups.items():
        url = f"{app_url}/{page_name}" + (f"?{query}" if query else "")
        page = None
        for control in group:
            try:
                page = page or open_tab(browser, url)
            except Exception as err:  # noqa: BLE001
                row = Row(control.name, "press", error=error_text(err))
            else:
                row = bench_control(floor, page, control, repeats)
            rows.append(row)
            progress(row)
            if row.error and page:  # the page may be anywhere now: the next control starts it again
                page.context.close()
                page = None
        if page:
            page.context.close()
    floor.page.context.close()
    return rows


# ---- report ------------------------------------------------------------------------------------------------


def _ms(s: dict | None, key: str = "p50") -> str:
    return "-" if s is None else f"{s[key]:.0f}"


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def table(rows: list[Row]) -> str:
    lines = ["| control | floor p50 first / settled | ours first p50 / p95 | ours settled p50 / p95 "
             "| first / floor | settled / floor | mark |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        s = row.summary()
        name = row.name + ("" if row.charted else " (no chart)")
        if row.error:
            lines.append(f"| {name} | | | | | | ERROR: {row.error} |")
            continue
        lines.append(f"| {name} | {_ms(s['floor_first'])} / {_ms(s['floor_settled'])} "
                     f"| {_ms(s['first'])} / {_ms(s['first'], 'p95')} "
                     f"| {_ms(s['settled'])} / {_ms(s['settled'], 'p95')} "
                     f"| {_x(s['ratio_first'])} | {_x(s['ratio_settled'])} | {s['mark']} |")
    return "\n".join(lines)


def progress(row: Row) -> None:
    s = row.summary()
    text = row.error or (f"p50 ms: script ran {_ms(s['run_start'])}-{_ms(s['run_end'])}, first chart {_ms(s['first'])},"
                         f" settled {_ms(s['settled'])} (floor {_ms(s['floor_first'])}/{_ms(s['floor_settled'])}),"
                         f" {s['mark']}")
    print(f"  {row.name}: {text}", file=sys.stderr, flush=True)


def write_json(path: str, rows: list[Row], args, info: str) -> None:
    out = {"machine": info, "repeats": args.repeats, "quiet_ms": QUIET_MS, "budgets": BUDGETS,
           "rows": [{"name": r.name, "kind": r.kind, "charted": r.charted, "error": r.error, **r.summary(),
                     "samples_ms": {k: getattr(r, k) for k in SAMPLES}}
                    for r in rows]}
    Path(path).write_text(json.dumps(out, indent=2))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="measurements per row (each beside one of the floor)")
    ap.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated subset of {', '.join(PAGES)}")
    ap.add_argument("--controls", default="", help="comma-separated widget keys (e.g. T,seed,m_D.hidden1); "
                    "default every control. With it, page opens are not measured.")
    ap.add_argument("--json", metavar="PATH", help="also write every sample and summary as JSON")
    args = ap.parse_args(argv)
    args.pages = [p for p in args.pages.split(",") if p]
    unknown = set(args.pages) - set(PAGES)
    if unknown:
        ap.error(f"unknown pages {sorted(unknown)}; choose from {PAGES}")
    args.controls = [k for k in args.controls.split(",") if k] or None
    unknown = set(args.controls or ()) - {c.key for c in all_controls() if c.page in args.pages}
    if unknown:
        ap.error(f"no such controls on {', '.join(args.pages)}: {sorted(unknown)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    controls = select_controls(args.pages, args.controls)
    info = machine_info()
    print(info, flush=True)
    print(f"{len(controls)} controls on {', '.join(args.pages)}; {args.repeats} repeats; quiet {QUIET_MS} ms",
          file=sys.stderr, flush=True)
    with floor_server() as floor_url, app_server() as app_url, chromium() as browser:
        rows = [] if args.controls else bench_opens(browser, floor_url, app_url, args.pages, args.repeats)
        rows += bench_presses(browser, floor_url, app_url, controls, args.repeats)
    print(table(rows))
    if args.json:
        write_json(args.json, rows, args, info)


if __name__ == "__main__":
    main()
