"""What a page needs from the server process: its device, its training slots, the first-run fix.

The process-wide pieces themselves live in the server package (started by app.py). A page file can
also run without app.py (the first deep link on a fresh server, AppTest), so this module, and only
this one in ui/, reaches them: the first call from a page then creates them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import streamlit as st

from server.device import device_choice
from server.first_run import fix_first_run_mode  # noqa: F401  (ui.page_start calls it first)
from server.slots import training_slots


def device_info(show_note: bool = False) -> tuple[str, str]:
    """(device name for torch, human description); the sidebar shows the fallback notice, if any."""
    device, text, note = device_choice()
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


@contextmanager
def training_slot():
    """Hold one of the server's training slots for the block; while none is free, say so and wait.

    Waiting polls in short steps and writes to the page between them, so the Stop button (or
    leaving the page) still interrupts a waiting session, which then never takes a slot.
    """
    slots, note = training_slots()
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
