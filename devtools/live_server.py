"""A real `streamlit run app.py` on a free localhost port, its health wait and its shutdown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


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
