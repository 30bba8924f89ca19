"""The first-run fix for Streamlit's multipage detection.

With a `pages/` folder and `st.navigation` both present, the first deep link on a freshly started
server can run the page file on its own, in Streamlit's legacy multipage mode, without app.py's
navigation and sidebar. Every page calls this first (through ui.page_start), since app.py did not run.
"""

from __future__ import annotations

import streamlit as st


def fix_first_run_mode() -> None:
    """Streamlit decides at server start whether `pages/` is a legacy multipage folder. On a fresh
    server the first deep link can run a page file on its own, without app.py's navigation.
    Switching the flag off and rerunning sends the session through app.py's st.navigation,
    which resolves the same URL path to the same page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
