"""Figures on a page: the live chart and its one-line caption, and the cost readout.

Every figure a page shows goes through `figure`, which also records it for the page's figure pack
(ui/classroom.py's share_and_export). The chart itself is drawn by ui/live_chart.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import streamlit as st

from ui.classroom import PRESENT_SCALE, keep_lesson_changes_in_url


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
    """A chart and the one-line text caption that says what it shows (with its key numbers). The figure
    is registered for the page's export menu (its data as CSV, the figure as PNG or SVG) and figure pack.

    `key` names the chart on the page: the browser updates the chart with that name in place when the
    figure changes (ui/live_chart.py). Give one wherever the figure's title changes with the controls."""
    from explainers.exports import slug
    from explainers.figures import with_pinned
    from ui import live_chart, pin

    if page is None:
        page = st.session_state.get("_current_page")
    chart = f"_chart_{key or slug(_figure_name(fig, caption))}"
    if page:
        pin.record(page, chart, fig)
        pinned = pin.pinned_figure(page, chart)
        if pinned is not None:
            fig = with_pinned(fig, pinned)
    present = st.session_state.get("_present", False)
    if present:
        fig.update_layout(height=int((fig.layout.height or 340) * PRESENT_SCALE), font=dict(size=20))
    name = _figure_name(fig, caption)
    live_chart.show(fig, key=chart, own_fonts=present, config={
        "displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": slug(name), "scale": 2}})
    # The caption alone under the chart: each figure is exported from the page's one export menu
    # (ui.classroom.share_and_export), not a menu of its own, which was 5 of a figure's 7 elements on every rerun.
    st.caption(caption)
    if page:
        st.session_state.setdefault(f"_figures_{page}", {})[name] = (name, fig, caption)
        if _in_fragment():
            # A fragment's rerun never reaches share_and_export; its figures come after its controls.
            keep_lesson_changes_in_url(page)


def _in_fragment() -> bool:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx and getattr(ctx, "fragment_ids_this_run", None))


def code_snippets(snippets, key: str) -> None:
    """'Show the code': a short runnable snippet per view (explainers/snippets.py), with what it reproduces."""
    with st.expander("Show the code: the same numbers with the library you already use", icon=":material/code:"):
        for snippet in snippets:
            st.caption(f"{snippet.library}: {snippet.note}")
            st.code(snippet.code, language="python")


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
