"""One page run in-process with Streamlit's AppTest, failing on any exception it shows."""

from __future__ import annotations

from devtools.live_server import ROOT


def run_page_file(page: str, query: dict | None = None, timeout: float = 180):
    """AppTest of one page file on its own (not through app.py: AppTest restarts Streamlit's multipage
    detection on every run, and the first-run fix's rerun would swallow button clicks)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_page(page: str, query: dict | None = None, timeout: float = 240):
    """AppTest of one page with `query` in its URL: the schedule page through app.py (switch_page), the
    others from their own file."""
    from streamlit.testing.v1 import AppTest

    if page == "noise_schedule":
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        at.query_params.update(query or {})
        at.switch_page(f"pages/{page}.py")
    else:
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout)
        at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
