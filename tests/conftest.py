"""pytest fixtures only: a real `streamlit run` server per test module and Debian's Chromium driven by
Playwright. The helpers behind them (and everything tests share) live in devtools/."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import CHROMIUM, CHROMIUM_ARGS, Server
from explainers.device import configure_threads

# One torch thread per test process: on this 2-core machine more threads only fight each other.
configure_threads(1)


@pytest.fixture(scope="module")
def server():
    """One fresh server per test module, so each browser test file starts on a fresh server."""
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()
