"""Shared fixtures: a real `streamlit run` server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explainers.device import configure_threads

# One torch thread per test process: on this 2-core machine more threads only fight each other.
configure_threads(1)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("NOISE_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A freshly started `streamlit run app.py` on a free localhost port."""

    def __init__(self, env: dict | None = None, args: list[str] | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (ARTIFACTS / f"server-{self.port}.log")
        ARTIFACTS.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *(args or [])],
            cwd=ROOT, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.started = time.perf_counter()
        self.ready_after_s = self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> float:
        return wait_healthy(self.url, self.proc, self.log, self.started, timeout)

    def stop(self):
        stop_process(self.proc)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, started: float, timeout: float = 60.0) -> float:
    """Seconds from `started` (perf_counter) until the server at `url` answers its health check;
    raises with the log's tail if the process exits first, or after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s")


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


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


def script_state(page) -> str | None:
    return page.evaluate("() => document.querySelector('[data-testid=stApp]')"
                         "?.getAttribute('data-test-script-state')")


# The page's first chart, drawn or not: a live chart's element (ui/live_chart.py), or in the st.plotly_chart
# fallback the first plot. Not simply the first '.js-plotly-plot', which is the first chart *drawn*: live charts
# are drawn one at a time, and on a fresh server's first deep link figure 2 can be drawn before figure 1.
FIRST_CHART = "document.querySelector('.nl-chart, .js-plotly-plot')"
# Points in the first chart's first trace, or undefined: before plotly.js has drawn the chart (and, in
# the st.plotly_chart fallback, while Streamlit remounts it with new data) every step may be missing.
FIRST_CHART_X_LEN = f"() => {FIRST_CHART}?._fullData?.[0]?.x?.length"


def wait_for_app(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script and stays finished for 0.5 s
    (a page may rerun itself once, e.g. on the first deep link of a fresh server)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    deadline = time.time() + timeout_ms / 1000
    calm = 0
    while time.time() < deadline:
        calm = calm + 1 if script_state(page) == "notRunning" else 0
        if calm >= 5:
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the app kept running")


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


def chart_specs(at) -> list[dict]:
    """The Plotly figures an AppTest run drew, in page order, as JSON dicts."""
    from ui.live_chart import spec_of

    specs = [spec_of(el.proto) for el in [*at.get("bidi_component"), *at.get("plotly_chart")]]
    return [s for s in specs if s is not None]


def chart_by_title(at, part: str, trace_names: bool = False) -> dict:
    """The first figure an AppTest run drew whose title or subplot title contains `part` (with `trace_names`,
    also a trace's legend name)."""
    for fig in chart_specs(at):
        layout = fig["layout"]
        names = [a.get("text", "") for a in layout.get("annotations", [])]
        names.append(str(layout.get("title", {}).get("text", "")))
        if trace_names:
            names += [t.get("name") or "" for t in fig["data"]]
        if any(part in n for n in names):
            return fig
    raise AssertionError(f"no figure titled {part!r}")
