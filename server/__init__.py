"""Process housekeeping for a Noise Lab server; app.py starts it once per process.

Everything here concerns the server process, not one page: the thread that frees closed sessions
(reaper), TCP_NODELAY on the browsers' sockets (nodelay), torch's thread count and the device
(device), the training slots every session shares (slots) and the first-run fix for Streamlit's
multipage detection (first_run). Pages reach the device and slots through ui/process.py.
"""

from __future__ import annotations

import os

import streamlit as st


@st.cache_resource
def free_closed_sessions():
    """Start, once per server process, the thread that frees closed sessions on time (server/reaper.py)."""
    from server import reaper

    return reaper.start()


@st.cache_resource
def disable_nagle():
    """Once per server process: no Nagle delay on the browsers' WebSockets (server/nodelay.py).
    NOISE_LAB_KEEP_NAGLE=1 leaves Streamlit's sockets as they are: bench/bench_schedule_page.py's "before"."""
    from server import nodelay

    return [] if os.environ.get("NOISE_LAB_KEEP_NAGLE") else nodelay.disable_nagle()


def start() -> None:
    """What app.py runs on every script run; each piece does its work once per process."""
    from server.device import device_choice

    free_closed_sessions()
    disable_nagle()
    device_choice()
