"""Reusable Streamlit pieces shared by the pages: URL-bound widgets, notices, cost readout.

Only this package and the page scripts import streamlit; `explainers/` stays pure.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from typing import Iterable

import streamlit as st
from streamlit.errors import StreamlitAPIException

from explainers.state import Param, quote_value, read_url

@st.cache_resource
def _device_choice() -> tuple[str, str, str | None]:
    """Chosen once per server process: torch threads first, then the device."""
    from explainers import device as dev

    dev.configure_threads()
    device, note = dev.pick_device()
    return str(device), dev.describe(device), note


def device_info(show_note: bool = False) -> tuple[str, str]:
    """(device name for torch, human description); the sidebar shows the fallback notice, if any."""
    device, text, note = _device_choice()
    if note and show_note:
        st.sidebar.warning(note, icon=":material/memory:")
    return device, text


def on_device(compute, device: str):
    """Run compute(device); if the GPU runs out of memory, say so and run it again on the CPU."""
    from explainers.device import is_out_of_memory

    try:
        return compute(device)
    except RuntimeError as err:
        if device == "cpu" or not is_out_of_memory(err):
            raise
        st.warning("The GPU ran out of memory for this view, so it was computed on the CPU instead.",
                   icon=":material/memory:")
        return compute("cpu")


@st.cache_resource
def free_closed_sessions():
    """Start, once per server process, the thread that frees closed sessions on time (ui/reaper.py)."""
    from ui import reaper

    return reaper.start()


@st.cache_resource
def disable_nagle():
    """Once per server process: no Nagle delay on the browsers' WebSockets (ui/nodelay.py).
    NOISE_LAB_KEEP_NAGLE=1 leaves Streamlit's sockets as they are: bench/bench_schedule_page.py's "before"."""
    from ui import nodelay

    return [] if os.environ.get("NOISE_LAB_KEEP_NAGLE") else nodelay.disable_nagle()


@st.cache_resource
def _training_slots():
    """One set of training slots per server process, shared by every session."""
    from explainers.device import Slots, training_slots_wanted

    n, note = training_slots_wanted()
    return Slots(n), note


@contextmanager
def training_slot():
    """Hold one of the server's training slots for the block; while none is free, say so and wait.

    Waiting polls in short steps and writes to the page between them, so the Stop button (or
    leaving the page) still interrupts a waiting session, which then never takes a slot.
    """
    slots, note = _training_slots()
    if note:
        st.warning(note, icon=":material/settings:")
    waiting = st.empty()
    started = time.perf_counter()
    place = slots.join()
    try:
        while not place.take(timeout=0.25):
            waiting.info(f"Waiting for a free training slot: this server trains at most {slots.n} run(s) at once, "
                         f"so that everyone else's page stays quick. You are number {place.position} of "
                         f"{slots.waiting} in line; {time.perf_counter() - started:.0f} s so far.",
                         icon=":material/hourglass_top:")
    finally:
        place.leave()
    waiting.empty()
    try:
        yield
    finally:
        slots.release()


def page_start(page: str, params, title: str, summary: str) -> tuple[str, str, list[str]]:
    """What every explainer page does first: classroom flags and lesson step (before any widget, so a
    step can set the controls), its title and one sentence, the lesson panel, and the URL notices.
    Returns (device, device description, notices to show)."""
    fix_first_run_mode()
    start_figures(page)
    room_notices = classroom(page, params)
    device, device_text = device_info()
    st.title(title)
    st.markdown(summary)
    lesson_panel(page)
    return device, device_text, url_notices(page, params) + room_notices


def level_selector(default: str = "Moderate") -> str:
    """Easy / Moderate / Hard, bound to the URL as ?level=."""
    return st.segmented_control("Explanation level", ("Easy", "Moderate", "Hard"), default=default, key="level",
                                bind="query-params", help=LEVEL_HELP, wrap=True) or default


def explanation(level: str, prose) -> None:
    """The page's explanation at the chosen level; Hard shows the equations (st.latex) and their notes."""
    with st.container(border=True):
        if level == "Hard":
            for eq in getattr(prose, "LATEX", ()):
                st.latex(eq)
            st.markdown(prose.HARD_TEXT)
        else:
            st.markdown(prose.EXPLANATION[level])


def misconceptions(prose) -> None:
    st.subheader("Common misconceptions")
    for claim, truth in prose.MISCONCEPTIONS:
        with st.expander(claim):
            st.markdown(truth)


LEVEL_HELP = "Easy: an analogy. Moderate: the intuition. Hard: the equations."


def fix_first_run_mode() -> None:
    """Streamlit decides at server start whether `pages/` is a legacy multipage folder. On a fresh
    server the first deep link can run a page file on its own, without app.py's navigation.
    Switching the flag off and rerunning sends the session through app.py's st.navigation,
    which resolves the same URL path to the same page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def widget(p: Param, where=st, check_url: bool = False, buttons: bool = False, **overrides):
    """Draw the control for `p`, bound to the URL under its key (Streamlit's own URL binding).
    A choice with labels shows words and keeps its identifier in the URL (_worded_choice); `buttons`
    draws such a choice as a row of buttons instead of a drop-down."""
    kw = dict(key=p.key, bind="query-params", help=p.help or None)
    kw.update(overrides)
    if check_url and p.key in st.query_params:
        # A value inside the control's usual range but outside its current, narrowed one (t >= T, say):
        # Streamlit drops it, so say so here, next to the control.
        _, notice = p.parse(st.query_params.get_all(p.key))
        if notice:
            where.warning(notice, icon=":material/warning:")
    current = st.session_state.get(p.key)
    if p.kind in ("int", "float") and isinstance(current, (int, float)) and not p.low <= current <= p.high:
        # e.g. a lesson step set t = 499 but the link narrowed T to 100: fall back instead of failing.
        st.session_state[p.key] = min(max(current, p.low), p.high)
    if p.labels and p.kind in ("choice", "multi"):
        return _worded_choice(p, where, buttons, kw)
    if p.kind == "multi":
        return tuple(where.multiselect(p.label, p.choices, default=list(p.default),
                                       max_selections=p.max_count, **kw))
    if p.kind == "choice":
        return where.selectbox(p.label, p.choices, index=p.choices.index(p.default), **kw)
    if p.kind == "bool":
        return where.toggle(p.label, value=p.default, **kw)
    if p.kind in ("int", "float") and p.low == p.high:
        # A range that another control narrowed to one value: say so instead of a slider that can't move.
        where.caption(f"{p.label}: {p.format(p.low)} (the only value possible with the current settings)")
        return int(p.low) if p.kind == "int" else float(p.low)
    if p.kind == "int":
        return where.slider(p.label, int(p.low), int(p.high), int(p.default), int(p.step or 1), **kw)
    kw.setdefault("format", "%g")
    return where.slider(p.label, float(p.low), float(p.high), float(p.default), float(p.step), **kw)


def _worded_choice(p: Param, where, buttons: bool, kw: dict):
    """A choice that shows words ("variance exploding") while the URL keeps the identifier.

    Streamlit's URL binding writes a control's displayed text into the URL and drops a URL value that is
    not one of those texts, so a worded control would rewrite every shared link. This control is not
    bound: it starts from the URL's value (read as read_url reads it) and writes its value back itself,
    leaving out a value equal to the one the page would start from anyway: the default, or the open
    lesson step's value.
    """
    kw = {k: v for k, v in kw.items() if k != "bind"}
    if p.key not in st.session_state:  # first run of this control in this session: the URL decides
        value = p.parse(st.query_params.get_all(p.key))[0] if p.key in st.query_params else p.default
        st.session_state[p.key] = list(value) if p.kind == "multi" else value
    if p.kind == "multi":
        value = tuple(where.multiselect(p.label, p.choices, format_func=p.word, max_selections=p.max_count, **kw))
    elif buttons:
        value = where.segmented_control(p.label, p.choices, format_func=p.word, wrap=True, **kw) or p.default
    else:
        value = where.selectbox(p.label, p.choices, format_func=p.word, **kw)
    page = st.session_state.get("_current_page")
    step_no = st.session_state.get(f"_lesson_step_{page}", 0) if page else 0
    reference = p.default
    if step_no:
        from explainers.lessons import LESSONS

        reference = LESSONS[page][step_no - 1].params.get(p.key, p.default)
    wanted = p.to_url(value) if p.to_url(value) != p.to_url(reference) else []
    if st.query_params.get_all(p.key) != wanted:
        if wanted:
            st.query_params[p.key] = wanted if p.kind == "multi" else wanted[0]
        else:
            del st.query_params[p.key]
    return value


def url_notices(page: str, params: Iterable[Param], extra_keys: Iterable[str] = (),
                only_params: bool = False) -> list[str]:
    """Check the URL against the page's parameters once per session visit and keep the notices,
    because Streamlit drops invalid bound values from the URL after the first run.
    only_params: check just these parameters (no unknown-key report), e.g. the shared seed."""
    params = list(params)
    query = {k: st.query_params.get_all(k) for k in st.query_params
             if not only_params or k in {p.key for p in params}}
    state = read_url(params, query, allowed_extra=(*CLASSROOM_KEYS, *extra_keys))
    fresh = state.notices
    _canonical_url(params, query, state.values)
    key = f"_url_notices_{page}"
    if fresh:
        st.session_state[key] = list(dict.fromkeys([*st.session_state.get(key, []), *fresh]))
    return st.session_state.get(key, [])


def _canonical_url(params: list[Param], query: dict, values: dict) -> None:
    """Make each control show the value read_url settled on, before any widget reads the URL.

    Streamlit's own URL binding reads some values differently from read_url (it truncates n_iter=15.5
    to 15, takes the first of a repeated key or ignores it, does not strip ' true '), and the control
    must show what the notice says. So a URL value that is not in its canonical form is rewritten, in
    the browser's URL and in the snapshot of the URL the binding seeds widgets from, once per such
    value; a rejected one is removed, so the control starts at its default.
    """
    handled = st.session_state.setdefault("_url_canonical_handled", set())
    for p in params:
        raw = query.get(p.key)
        if raw is None:
            continue
        value = values[p.key]
        canonical = _url_strings(p, value)
        mark = (p.key, tuple(raw))
        if raw == canonical or mark in handled:
            continue
        handled.add(mark)
        keep = value != p.default
        try:
            if keep:
                st.query_params[p.key] = canonical if p.kind == "multi" else canonical[0]
            else:
                del st.query_params[p.key]
        except StreamlitAPIException:
            continue  # already bound to a control drawn on this run (the sidebar seed): the binding decides
        _set_binding_seed(p.key, canonical if keep else None)


def _url_strings(p: Param, value) -> list[str]:
    """`value` as it is written in the URL: exactly (a float keeps all its digits, not the display format)."""
    return [str(int(value))] if p.kind == "int" else [repr(float(value))] if p.kind == "float" else p.to_url(value)


def _set_binding_seed(key: str, values: list[str] | None) -> None:
    """Replace (or drop) `key` in the URL snapshot Streamlit's binding seeds new widgets from.

    Streamlit (1.67) keeps that snapshot in QueryParams._initial_query_params and offers no public
    way to change it; on a first load it wins over st.session_state. If a Streamlit upgrade renames
    it, nothing breaks here, and tests/test_fuzz_urls.py's "shows what the notice says" tests fail.
    """
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        seeds = getattr(qp, "_initial_query_params", None)
        if isinstance(seeds, dict):
            if values is None:
                seeds.pop(key, None)
            else:
                seeds[key] = list(values)


def show_notices(page: str, notices: list[str]) -> None:
    if not notices:
        return
    with st.container(border=True):
        for line in notices:
            st.warning(line, icon=":material/warning:")  # plain text: Streamlit does not render HTML in markdown
        if st.button("Dismiss URL notices", key=f"_dismiss_{page}"):
            st.session_state[f"_url_notices_{page}"] = []
            st.rerun()


def start_figures(page: str) -> None:
    """Forget the figures of the previous run; ui.figure registers this run's for the figure pack."""
    st.session_state[f"_figures_{page}"] = {}
    st.session_state["_current_page"] = page


def _figure_name(fig, caption: str) -> str:
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else None
    if not title and fig.layout.annotations:
        title = " / ".join(a.text for a in fig.layout.annotations if a.text)[:60]
    return title or caption[:60]


def figure(fig, caption: str, key: str | None = None, page: str | None = None) -> None:
    """A chart, the one-line text caption that says what it shows (with its key numbers), and an
    Export menu: the figure's data as CSV, and the figure as PNG or SVG.

    `key` names the chart on the page: the browser updates the chart with that name in place when the
    figure changes (ui/live_chart.py). Give one wherever the figure's title changes with the controls."""
    from explainers.exports import figure_csv, figure_image, slug
    from ui import live_chart

    present = st.session_state.get("_present", False)
    if present:
        fig.update_layout(height=int((fig.layout.height or 340) * PRESENT_SCALE), font=dict(size=20))
    name = _figure_name(fig, caption)
    live_chart.show(fig, key=f"_chart_{key or slug(name)}", own_fonts=present, config={
        "displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": slug(name), "scale": 2}})
    # One row: the caption takes what the Export button (at its natural width) leaves, even in half-width columns.
    row = st.container(horizontal=True, wrap=False, vertical_alignment="top")
    row.caption(caption, width="stretch")
    with row.popover("Export", icon=":material/download:", width="content"):
        stem = slug(name)
        st.download_button("Data (CSV)", data=lambda: figure_csv(fig), file_name=f"{stem}.csv", mime="text/csv",
                           on_click="ignore", key=f"_csv_{stem}_{key}")
        st.download_button("Image (PNG)", data=lambda: figure_image(fig, "png"), file_name=f"{stem}.png",
                           mime="image/png", on_click="ignore", key=f"_png_{stem}_{key}")
        st.download_button("Image (SVG)", data=lambda: figure_image(fig, "svg"), file_name=f"{stem}.svg",
                           mime="image/svg+xml", on_click="ignore", key=f"_svg_{stem}_{key}")
    if page is None:
        page = st.session_state.get("_current_page")
    if page:
        st.session_state.setdefault(f"_figures_{page}", {})[name] = (name, fig, caption)
        if _in_fragment():
            # A fragment's rerun never reaches share_and_export; its figures come after its controls.
            keep_lesson_changes_in_url(page)


def _in_fragment() -> bool:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx and getattr(ctx, "fragment_ids_this_run", None))


class Timer:
    """Milliseconds of the computations on this run, for the cost readout."""

    def __init__(self):
        self.parts: dict[str, float] = {}

    @contextmanager
    def part(self, name: str):
        start = time.perf_counter()
        yield
        self.parts[name] = self.parts.get(name, 0.0) + 1000 * (time.perf_counter() - start)

    @property
    def total_ms(self) -> float:
        return sum(self.parts.values())


def cost_readout(device_text: str, timer: Timer) -> None:
    parts = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timer.parts.items())
    st.caption(f"Cost of the last computation: {timer.total_ms:.1f} ms on {device_text} ({parts}).")


# ---------------------------------------------------------------------------------------------
# Classroom: guided lessons, presenter view, share link, exports
# ---------------------------------------------------------------------------------------------

CLASSROOM_KEYS = ("lesson", "present", "hide")
PRESENT_SCALE = 1.35  # figures grow by this much in presenter view


def _query_value(key: str) -> str | None:
    values = st.query_params.get_all(key)
    return values[-1] if values else None


def _apply_step(step, page_keys: set[str], only_missing: bool) -> None:
    for key, value in step.params.items():
        if key in page_keys and not (only_missing and key in st.query_params):
            st.session_state[key] = list(value) if isinstance(value, tuple) else value


_PAGE_PARAMS: dict[str, dict[str, Param]] = {}  # each page's URL parameters by key, recorded by classroom()


def keep_lesson_changes_in_url(page: str) -> None:
    """While a lesson step is open, write every control whose value differs from the step's into the URL.

    A link with ?lesson=K applies the step's values to the controls missing from it, and Streamlit's URL
    binding leaves out a value equal to the control's default: a change back to the default (D.hidden1
    from the step's sn to off) vanished from the link, which then reopened sn. Written explicitly, the
    value wins when the link is opened. Call it after the controls are drawn (share_and_export, figure).

    The binding forbids st.query_params for a bound key, so this writes through the QueryParams object
    behind it (Streamlit 1.67: set_with_no_forward_msg, _send_query_param_msg, get_binding_for_param).
    If an upgrade renames them nothing breaks here, and tests/test_browser_classroom.py's lesson-link
    test fails.
    """
    from explainers.lessons import LESSONS
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    step_no = st.session_state.get(f"_lesson_step_{page}", 0)
    ctx = get_script_run_ctx()
    if not step_no or ctx is None or page not in _PAGE_PARAMS:
        return
    step_params = LESSONS[page][step_no - 1].params
    values = {key: st.session_state.get(key) for key in step_params}  # read before holding the state's lock
    try:
        with ctx.session_state.query_params() as qp:
            changed = False
            for key, step_value in step_params.items():
                p, value = _PAGE_PARAMS[page].get(key), values[key]
                binding = qp.get_binding_for_param(key)
                # Only controls drawn on this run: one that is not on the page has nothing to reproduce.
                if p is None or binding is None or binding.widget_id not in ctx.shared.widget_ids_this_run:
                    continue
                if value is None or p.to_url(value) == p.to_url(step_value):
                    continue
                wanted = _url_strings(p, value)
                if qp.get_all(key) != wanted:
                    qp.set_with_no_forward_msg(key, wanted if p.kind == "multi" else wanted[0])
                    changed = True
            if changed:
                qp._send_query_param_msg()
    except AttributeError:
        return


def classroom(page: str, params: Iterable[Param]) -> list[str]:
    """Read the page's classroom flags from the URL and set the page up for them.

    ?lesson=K opens step K of the page's guided lesson (its controls set through session state, so
    values written explicitly in the URL win on a fresh load); ?present=true enlarges text and figures
    for a projector; ?hide=sidebar,T,... hides the sidebar or chosen controls. Returns notices for bad values.
    """
    from explainers.lessons import LESSONS

    steps = LESSONS[page]
    _PAGE_PARAMS[page] = {p.key: p for p in params}
    page_keys = set(_PAGE_PARAMS[page])
    notices = []
    raw = _query_value("lesson")
    step_no = 0
    if raw is not None:
        if raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= len(steps):
            step_no = int(raw)
        else:
            notices.append(f"URL parameter 'lesson' must be a step number in [1, {len(steps)}]; got "
                           f"{quote_value(raw)}, so no lesson step is open.")
    applied_key = f"_lesson_applied_{page}"
    if step_no and st.session_state.get(applied_key) != step_no:
        _apply_step(steps[step_no - 1], page_keys, only_missing=applied_key not in st.session_state)
        st.session_state[applied_key] = step_no
    st.session_state[f"_lesson_step_{page}"] = step_no

    present_raw = _query_value("present")
    present = present_raw is not None and present_raw.lower() in ("true", "1")
    if present_raw is not None and present_raw.lower() not in ("true", "false", "1", "0"):
        notices.append(f"URL parameter 'present' must be true or false; got {quote_value(present_raw)}.")
    hidden = [h.strip() for h in (_query_value("hide") or "").split(",") if h.strip()]
    bad = [h for h in hidden if h != "sidebar" and h not in page_keys]
    if bad:
        notices.append(f"URL parameter 'hide' names unknown controls: {', '.join(quote_value(b) for b in bad[:5])}; valid: "
                       f"sidebar or a control key such as {', '.join(sorted(page_keys)[:6])}.")
    st.session_state["_present"] = present
    _presenter_css(present, [h for h in hidden if h not in bad])
    return notices


# Nothing a class must read is cut off, at any width (tests/test_browser_layout.py checks it).
FIT_CSS = (
    # Display equations break after a relation or operator, as inline KaTeX does, instead of being cut;
    # the padding holds the 2 px that KaTeX's fraction and root boxes stick out past a full line.
    ".katex-display > .katex { white-space: normal; padding: 0 0.2em; }"
    # Sidebar page names and metric labels wrap onto a second line instead of ending in an ellipsis.
    '[data-testid="stSidebarNavLink"] { height: auto; min-height: 2rem; }'
    '[data-testid="stSidebarNavLink"] span, [data-testid="stSidebarNavLink"] .stMarkdownEllipsis, '
    '[data-testid="stMetricLabel"] .stMarkdownEllipsis, .stMarkdownEllipsis p'
    " { white-space: normal; overflow: visible; text-overflow: clip; }"
    '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] > div { height: auto; }'
    '[data-testid="stPageLink"] span, [data-testid="stPageLink"] p'
    " { white-space: normal; overflow: visible; text-overflow: clip; }"
    # The home page's cards (their layout wrappers) share a row while each can be 17rem wide, else they wrap.
    '.st-key-home_cards > div:has(> [class*="st-key-home_card_"]) { flex: 1 1 17rem; min-width: min(100%, 17rem); }'
)
# Presenter view: bigger text, and the page's width for content rather than for margins.
PRESENT_CSS = ("html { font-size: 21px; }"
               ".stMainBlockContainer { max-width: 96vw; padding: 2.5rem 1.5rem 6rem; }")


def plain_page_view() -> None:
    """A page without lessons or controls (home): the same fitting rules, and presenter view on ?present=true."""
    raw = _query_value("present")
    _presenter_css(raw is not None and raw.lower() in ("true", "1"), [])


def _presenter_css(present: bool, hidden: list[str]) -> None:
    rules = [FIT_CSS]
    if present:
        rules.append(PRESENT_CSS)
    for key in hidden:
        if key == "sidebar":
            rules.append('[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }')
        else:
            # Streamlit gives every keyed widget's container the class st-key-<key>, with characters other
            # than letters, digits, _ and - replaced by -; keys were checked against the page's above.
            css_class = "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())
            rules.append(f".{css_class} {{ display: none; }}")
    # Captions carry each figure's key numbers, so they get full text contrast in both themes.
    rules.append('[data-testid="stCaptionContainer"] { color: inherit; opacity: 0.92; }')
    st.html(f"<style>{' '.join(rules)}</style>")


def lesson_panel(page: str) -> None:
    """The current lesson step at the top of the page, or a button that starts the lesson."""
    from explainers.lessons import LESSONS

    steps = LESSONS[page]
    step_no = st.session_state.get(f"_lesson_step_{page}", 0)

    def go(k: int) -> None:
        if k == 0:
            del st.query_params["lesson"]
        else:
            st.query_params["lesson"] = str(k)
            page_keys = set(steps[k - 1].params)
            _apply_step(steps[k - 1], page_keys, only_missing=False)
            st.session_state[f"_lesson_applied_{page}"] = k

    if not step_no:
        st.sidebar.button(f"Start the guided lesson ({len(steps)} steps)", icon=":material/school:",
                          on_click=go, args=(1,), key=f"_lesson_start_{page}")
        return
    step = steps[step_no - 1]
    with st.container(border=True, key="lesson_panel"):
        st.markdown(f"**Lesson · step {step_no} of {len(steps)}: {step.title}**")
        st.markdown(step.notice)
        st.markdown(f"**Question:** {step.question}")
        with st.expander("Show the answer"):
            st.markdown(step.answer)
        # A wrapping row of buttons at their natural width: fixed columns cut labels to "Pr…" on a projector.
        row = st.container(horizontal=True, wrap=True, key="lesson_buttons")
        row.button("Previous", icon=":material/arrow_back:", disabled=step_no == 1, on_click=go,
                   args=(step_no - 1,), key=f"_lesson_prev_{page}")
        row.button("Next", icon=":material/arrow_forward:", disabled=step_no == len(steps), on_click=go,
                   args=(step_no + 1,), key=f"_lesson_next_{page}")
        row.button("End lesson", icon=":material/close:", on_click=go, args=(0,), key=f"_lesson_end_{page}")


def current_link() -> str:
    """The address of this exact view (page path and every URL value), to paste anywhere."""
    from urllib.parse import urlencode, urlsplit

    base = st.context.url or ""
    parts = urlsplit(base)
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{urlencode(pairs)}" if pairs else "")


def _resolved(extra: dict | None) -> dict | None:
    """Extra pack files; a callable value is produced only now, when the pack is downloaded."""
    return None if extra is None else {name: data() if callable(data) else data for name, data in extra.items()}


def share_and_export(page: str, extra: dict | None = None) -> None:
    """'Copy link' for this view, and a one-click zip of every figure on the page (CSV, PNG, SVG)."""
    from explainers.exports import figure_pack

    keep_lesson_changes_in_url(page)  # before the link is read: it must carry every change made in a lesson
    figures = list(st.session_state.get(f"_figures_{page}", {}).values())
    link = current_link()
    with st.expander("Share this view and export its figures", icon=":material/share:"):
        st.markdown("**Link to exactly this view** (copy with the icon on the right; students who open it see "
                    "the same controls, figures and lesson step):")
        st.code(link, language=None)
        st.markdown("Presenter view of this link: add `&present=true`, and `&hide=sidebar` to hide the controls.")
        st.download_button(
            f"Download the figure pack ({len(figures)} figures: CSV + PNG + SVG, zip)",
            data=lambda: figure_pack(figures, link=link, extra=_resolved(extra)), file_name=f"noise_lab_{page}.zip",
            mime="application/zip", icon=":material/folder_zip:", key=f"_pack_{page}", on_click="ignore")
