"""The Streamlit pieces pages share, split by concern:

- ui/controls.py: URL-bound controls, the URL's notices, the explanation level;
- ui/figures.py (+ ui/live_chart.py): figures with captions and exports, the cost readout;
- ui/classroom.py: lessons, presenter view, the share link and figure pack;
- ui/process.py: the device and training slots of the server process (server/);
- ui/training.py: a library TrainingRun trained live, with progress, Stop and a time budget.

Only ui/ and the page scripts import streamlit; `explainers/` stays pure.
"""

from __future__ import annotations

import streamlit as st

from ui.classroom import (CLASSROOM_KEYS, FIT_CSS, PRESENT_CSS, classroom_flags, keep_lesson_changes_in_url,  # noqa: F401
                          lesson_panel, plain_page_view, share_and_export)
from ui.controls import (DRAWN_KEY, explanation, level_selector, misconceptions, read_view, sections, show_notices,  # noqa: F401
                         url_notices, widget)
from ui.figures import Timer, code_snippets, cost_readout, figure, start_figures  # noqa: F401
from ui.process import device_info, fix_first_run_mode, on_device, training_slot  # noqa: F401
from ui import training  # noqa: F401
from ui.training import live_training  # noqa: F401
from ui import pin


def page_start(page: str, params, title: str, summary: str) -> tuple[str, str, list[str]]:
    """What every explainer page does first: classroom flags and lesson step (before any widget, so a
    step can set the controls), its title and one sentence, the lesson panel, and the URL notices.
    Returns (device, device description, notices to show)."""
    fix_first_run_mode()
    start_figures(page)
    st.session_state[DRAWN_KEY] = {}
    room_notices = classroom_flags(page, params)
    pin_notices = pin.start(page, params)
    device, device_text = device_info()
    st.title(title)
    st.markdown(summary)
    lesson_panel(page)
    st.session_state["_pin_slot"] = st.container(key="pin_bar")  # filled by share_and_export, at the end
    return device, device_text, url_notices(page, params) + room_notices + pin_notices


def key_numbers(page: str, rows) -> None:
    """The page's key numbers, (label, value, format spec): the A/B table compares them once a view is pinned."""
    pin.key_numbers(page, rows)
