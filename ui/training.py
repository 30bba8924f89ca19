"""Live training on a page: a library TrainingRun stepped under the server's training slots, with a
progress bar, a Stop button and a time budget.

The run object lives in the session while it trains. Stop (or any other click) ends the script run
between two steps; the next run of the page finds the run still there, stops it with a last snapshot
and hands back everything it trained, so a stopped run is never lost.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import streamlit as st

from ui.process import on_device, training_slot

LIVE_KEY = "_training_live"


class Ended(NamedTuple):
    """A run that ended: its label, its history, and the run itself (its trained private models)."""

    label: str
    history: object
    run: object
REDRAW_S = 0.25  # progress redraws at most four times a second: each redraw is a message to the browser
LIVE_S = 0.5  # the live figures redraw twice a second: what the run looks like, not only how far it got


def live_training(owner: str, start: bool, label: str, make_run: Callable[[str], object], device: str,
                  describe: Callable[[dict], str], time_budget_s: float, live: Callable | None = None,
                  live_slots: int = 0):
    """Train when `start` (the page's Train button) is set; returns the Ended run (label, history, run) of a
    run that ended in this script run, the one an earlier Stop interrupted included, else None.

    owner: which page and model the run belongs to (a run left on another model is not claimed);
    make_run(device) builds the TrainingRun; describe(record) is the progress line's detail; live(run), if
    given, returns up to `live_slots` figures with captions (figures.Shown) redrawn every LIVE_S seconds.
    """
    left = st.session_state.pop(LIVE_KEY, None)  # a run an earlier click interrupted
    if left is not None and left["owner"] == owner and not start:
        history = left["run"].stop("stopped by you")
        st.warning(f"Training stopped at step {left['run'].steps_done}; the results so far are shown.",
                   icon=":material/stop_circle:")
        return Ended(left["label"], history, left["run"])
    if not start:
        return None

    progress = st.progress(0.0, text="Training…")
    stop_slot = st.empty()
    stop_slot.button("Stop", icon=":material/stop:", help="Stops the run; what was trained so far is kept.")
    slots = [st.empty() for _ in range(live_slots if live else 0)]

    def drive(device: str):
        run = make_run(device)
        st.session_state[LIVE_KEY] = {"owner": owner, "label": label, "run": run}
        started = shown = time.perf_counter()  # the budget counts from here, not from the wait for a slot
        drawn, draws = 0.0, 0
        while not run.done:
            if time.perf_counter() - started > time_budget_s:
                run.stop("time_budget")
                break
            record = run.step_if_running()
            if record is None:  # stopped by a newer script run of this session (its Stop button)
                break
            if run.done or time.perf_counter() - shown >= REDRAW_S:
                shown = time.perf_counter()
                progress.progress(run.steps_done / run.n_steps,
                                  text=f"step {run.steps_done}/{run.n_steps}: {describe(record)}")
            if slots and time.perf_counter() - drawn >= LIVE_S:
                draws += 1
                show_live(slots, live(run), f"{owner}_{draws}")
                drawn = time.perf_counter()
        for slot in slots:
            slot.empty()
        return run

    with training_slot():
        run = on_device(drive, device)
    st.session_state.pop(LIVE_KEY, None)
    progress.empty()
    stop_slot.empty()
    return Ended(label, run.history, run)


def show_live(slots, shown, tag: str) -> None:
    """Draw figures into placeholders while a loop runs. Plain st.plotly_chart, each draw a new element: the
    page's in-place charts are keyed, and a key may appear once per script run."""
    for i, (slot, (fig, caption)) in enumerate(zip(slots, shown)):
        with slot.container():
            st.plotly_chart(fig, width="stretch", key=f"_live_{tag}_{i}", config={"displaylogo": False})
            st.caption(caption)
