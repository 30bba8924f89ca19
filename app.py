"""Noise Lab: entry point. Page config, navigation, the shared sidebar and the landing page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import server
import ui
from ui import live_chart
from explainers.state import SEED

EXPLAINERS = [
    # (file, url path, title, icon, what it teaches)
    ("pages/noise_schedule.py", "noise_schedule", "VP noise schedules", ":material/show_chart:",
     "Slide a schedule's parameters and watch signal variance fall exactly as noise variance rises, "
     "on the curves, on measured samples, and in what a small model generates."),
    ("pages/backward_noise_init.py", "backward_noise_init", "Backward noise init (Eq. 1)", ":material/movie:",
     "Is t in Eq. 1 of Self-Forcing++ the frame index or the denoising step? Run both readings on a "
     "small video model and see the frames differ."),
    ("pages/spectral_norm.py", "spectral_norm", "Spectral normalization", ":material/straighten:",
     "Toggle spectral normalization layer by layer and see singular values, Lipschitz bounds and "
     "GAN training change."),
]


def home() -> None:
    st.title("Noise Lab")
    st.markdown(
        "An interactive explainer of what happens inside diffusion models. Every page runs a small "
        "model live: move a control and the plots, samples and frames recompute in front of you. "
        "Every view is a link: copy the address bar to share exactly what you see."
    )
    ui.plain_page_view()
    # Cards in a wrapping row (ui.FIT_CSS gives them a minimum width): on a 1024-wide projector, three
    # fixed columns broke the titles mid-word and cut the links.
    # Each card shows a live mini-figure from the same library calls as its page (a few ms each, so
    # nothing to regenerate), and opens the page or its guided lesson at step 1.
    from explainers.home_view import THUMBNAILS
    from explainers.lessons import LESSONS

    cards = st.container(horizontal=True, wrap=True, key="home_cards")
    for i, (page, (_, url_path, title, icon, teaches)) in enumerate(zip(pages, available)):
        with cards.container(border=True, key=f"home_card_{i}"):
            st.subheader(f"{icon} {title}")
            if url_path in THUMBNAILS:
                fig, caption = THUMBNAILS[url_path]()
                st.plotly_chart(fig, key=f"home_thumb_{url_path}", config={"staticPlot": True})
                st.caption(caption)
            st.write(teaches)
            st.page_link(page, label=f"Open {title}", icon=":material/arrow_forward:")
            if url_path in LESSONS:
                st.page_link(page, label=f"Start the lesson ({len(LESSONS[url_path])} steps)",
                             icon=":material/school:", query_params={"lesson": 1})
    st.caption(f"Running on {ui.device_info()[1]}.")


available = [e for e in EXPLAINERS if (Path(__file__).parent / e[0]).exists()]
pages = [st.Page(f, url_path=u, title=t, icon=i) for f, u, t, i, _ in available]

# A local favicon: a Material icon here would be fetched from Google at every page load.
st.set_page_config(page_title="Noise Lab", page_icon=str(Path(__file__).parent / "ui" / "favicon.png"), layout="wide")
server.start()  # once per process: session reaper, TCP_NODELAY, threads and device
current = st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True), *pages])
with st.sidebar:
    live_chart.preload()  # the page's first element: plotly.js loads while the rest of the page arrives

with st.sidebar:
    st.caption(f"Device: **{ui.device_info(show_note=True)[1]}**")
    if current.url_path:
        ui.pin.apply_pending(current.url_path)  # before the seed slider: a pinned view A may set it
        # The seed slider is drawn here, before the page checks its URL, and Streamlit drops a bad
        # bound value when the slider is drawn: record the seed's notice for the page first.
        ui.url_notices(current.url_path, [SEED], only_params=True)
        ui.widget(SEED, st.sidebar)

current.run()
