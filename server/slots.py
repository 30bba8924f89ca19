"""Training slots: how many live training runs this server process runs at once.

A live run (the spectral page's GAN or fine-tune) uses every core it can get; with a class on one
server, a few at a time keep everyone else's page quick. One set of slots per process, shared by
every session; NOISE_LAB_TRAIN_SLOTS sets the count (explainers/device.py reads and checks it).
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource
def training_slots():
    """One set of training slots per server process, shared by every session."""
    from explainers.device import Slots, training_slots_wanted

    n, note = training_slots_wanted()
    return Slots(n), note
