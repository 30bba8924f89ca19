"""Reusable Streamlit pieces shared by the pages: URL-bound widgets, notices, cost readout.

Only this package and the page scripts import streamlit; `explainers/` stays pure.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterable

import streamlit as st

from explainers.state import Param, read_url

@st.cache_resource
def device_info() -> tuple[str, str]:
    """Chosen once per server process: torch threads first, then the device."""
    from explainers import device as dev

    dev.configure_threads()
    device = dev.pick_device()
    return str(device), dev.describe(device)


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


def widget(p: Param, where=st, **overrides):
    """Draw the control for `p`, bound to the URL under its key (Streamlit's own URL binding)."""
    kw = dict(key=p.key, bind="query-params", help=p.help or None)
    kw.update(overrides)
    if p.kind == "multi":
        return tuple(where.multiselect(p.label, p.choices, default=list(p.default),
                                       max_selections=p.max_count, **kw))
    if p.kind == "choice":
        return where.selectbox(p.label, p.choices, index=p.choices.index(p.default), **kw)
    if p.kind == "bool":
        return where.toggle(p.label, value=p.default, **kw)
    if p.kind == "int":
        return where.slider(p.label, int(p.low), int(p.high), int(p.default), int(p.step or 1), **kw)
    kw.setdefault("format", "%g")
    return where.slider(p.label, float(p.low), float(p.high), float(p.default), float(p.step), **kw)


def url_notices(page: str, params: Iterable[Param], extra_keys: Iterable[str] = ()) -> list[str]:
    """Check the URL against the page's parameters once per session visit and keep the notices,
    because Streamlit drops invalid bound values from the URL after the first run."""
    query = {k: st.query_params.get_all(k) for k in st.query_params}
    fresh = read_url(params, query, allowed_extra=extra_keys).notices
    key = f"_url_notices_{page}"
    if fresh:
        st.session_state[key] = list(dict.fromkeys([*st.session_state.get(key, []), *fresh]))
    return st.session_state.get(key, [])


def show_notices(page: str, notices: list[str]) -> None:
    if not notices:
        return
    with st.container(border=True):
        for line in notices:
            st.warning(line, icon=":material/warning:")  # plain text: Streamlit does not render HTML in markdown
        if st.button("Dismiss URL notices", key=f"_dismiss_{page}"):
            st.session_state[f"_url_notices_{page}"] = []
            st.rerun()


def figure(fig, caption: str, key: str | None = None) -> None:
    """A chart and the one-line text caption that says what it shows (and its key numbers)."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
    st.caption(caption)


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
