"""The device and torch's thread count, chosen once per server process.

Many sessions share a few cores: torch's thread count is set once, before any model runs (too many
threads per session thrash when a class arrives). The device is CUDA when one is present, else the
CPU, with a note the sidebar shows when the choice fell back.
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource
def device_choice() -> tuple[str, str, str | None]:
    """Chosen once per server process: torch threads first, then the device."""
    from explainers import device as dev

    dev.configure_threads()
    device, note = dev.pick_device()
    return str(device), dev.describe(device), note
