"""What docs/DEPLOY.md tells a teacher or IT person, checked on this machine: deploy/run_replicas.sh
starts replicas that answer Streamlit's health check and stops them again; deploy/nginx.conf is valid
nginx and, in front of two replicas, passes a page, its WebSocket and the health check through with
sticky sessions; the Dockerfile (which cannot be built here: no Docker engine) asks the app's own port
and health path; the load test the guide's sizing comes from runs. Each test stays well under a minute."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from devtools import ROOT, wait_for_app
from devtools.dockerfile import dockerfile_instructions
from devtools.nginx import NGINX, NGINX_CONF, nginx_in_front, port_is_free

SCRIPT = ROOT / "deploy" / "run_replicas.sh"
GUIDE = ROOT / "docs" / "DEPLOY.md"
HEALTH_PATH = "/_stcore/health"
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def free_consecutive_ports(k: int) -> int:
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + k < 65535 and all(port_is_free(first + i) for i in range(k)):
            return first
    raise RuntimeError("no free consecutive ports")


def health(port: int) -> bytes | None:
    try:
        return get(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=2)[2]
    except OSError:
        return None


@contextlib.contextmanager
def replicas(k: int, *flags: str):
    """deploy/run_replicas.sh k FIRST_PORT flags..., then deploy/run_replicas.sh stop."""
    run_dir = Path(tempfile.mkdtemp(prefix="noise-lab-replicas-"))
    env = {**os.environ, "RUN_DIR": str(run_dir), "PYTHON": sys.executable, "HEALTH_TIMEOUT": "45"}
    env.pop("NOISE_LAB_THREADS", None)  # the script's own default is what the guide documents
    first = free_consecutive_ports(k)
    ports = [first + i for i in range(k)]
    try:
        started = subprocess.run(["bash", str(SCRIPT), str(k), str(first), *flags], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=55)
        assert started.returncode == 0, started.stdout + started.stderr
        yield ports, started.stdout, run_dir, env
    finally:
        stopped = subprocess.run(["bash", str(SCRIPT), "stop"], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=30)
        assert stopped.returncode == 0, stopped.stderr
        shutil.rmtree(run_dir, ignore_errors=True)


def test_run_replicas_starts_healthy_replicas_and_stops_them():
    flag = "--runner.postScriptGC=false"  # the guide's recommended flag, passed through to every replica
    with replicas(2, flag) as (ports, out, run_dir, env):
        for i, port in enumerate(ports, 1):
            assert f"replica {i} of 2: http://127.0.0.1:{port}" in out
            assert health(port) == b"ok"
            pid = int((run_dir / f"replica-{port}.pid").read_text())
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"NOISE_LAB_THREADS=1" in environ
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert b"app.py" in cmdline and str(port).encode() in cmdline and flag.encode() in cmdline
        status, _, html = get(f"http://127.0.0.1:{ports[0]}/noise_schedule?lesson=1")
        assert status == 200 and b'id="root"' in html
        # A second start on the same ports refuses instead of starting duplicates.
        again = subprocess.run(["bash", str(SCRIPT), "2", str(ports[0])], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=30)
        assert again.returncode != 0 and "already running" in again.stderr
    deadline = time.time() + 15
    while time.time() < deadline and any(health(p) for p in ports):
        time.sleep(0.2)
    assert all(health(p) is None for p in ports), "replicas still answer after `run_replicas.sh stop`"


@needs_nginx
def test_nginx_config_is_valid():
    with tempfile.TemporaryDirectory() as tmp:
        checked = subprocess.run([NGINX, "-t", "-c", str(NGINX_CONF), "-p", tmp, "-e", f"{tmp}/error.log",
                                  "-g", f"pid {tmp}/nginx.pid;"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def websocket_handshake(port: int, host: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Origin: http://{host}\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
        return s.recv(4096)


@needs_nginx
def test_nginx_passes_page_health_and_websocket_to_sticky_replicas(chromium):
    with replicas(2) as (ports, _, _, _), nginx_in_front(ports) as port:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = get(base + HEALTH_PATH)
        assert status == 200 and body == b"ok"

        status, headers, html = get(base + "/noise_schedule?lesson=1")
        assert status == 200 and b'id="root"' in html
        cookie = re.match(r"noiselab_route=([^;]+)", headers["set-cookie"]).group(1)
        first = headers["x-noise-lab-upstream"]
        assert first in {f"127.0.0.1:{p}" for p in ports}
        # Sticky: every request carrying the cookie reaches the same replica.
        for path in ("/", HEALTH_PATH, "/spectral_norm", "/backward_noise_init?lesson=2"):
            assert get(base + path, {"Cookie": f"noiselab_route={cookie}"})[1]["x-noise-lab-upstream"] == first
        # Spread: new browsers (no cookie yet) land on both replicas.
        seen = {get(base + HEALTH_PATH)[1]["x-noise-lab-upstream"] for _ in range(24)}
        assert seen == {f"127.0.0.1:{p}" for p in ports}

        # The WebSocket upgrade goes through, also for a host name that is not localhost.
        assert websocket_handshake(port, f"noise-lab.test:{port}").startswith(b"HTTP/1.1 101")

        # A real browser through the proxy (the session's Chromium: one Playwright per process):
        # the lesson page runs over the proxied WebSocket.
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/noise_schedule?lesson=1&present=true&hide=sidebar")
            wait_for_app(page, 45_000)
            assert page.get_by_text("Lesson · step 1 of 6").is_visible()
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            context.close()


def test_dockerfile_matches_the_app():
    steps = dockerfile_instructions()
    kinds = [k for k, _ in steps]
    arg = {k: v for k, v in reversed(steps)}  # first occurrence of each instruction
    assert arg["FROM"] == "python:3.11-slim"
    runs = " ".join(v for k, v in steps if k == "RUN")
    assert re.search(r"apt-get install .*\bchromium\b", runs)
    # Which torch build and index: requirements.txt decides (tests/test_readme.py checks they agree).
    assert "pip install -r requirements.txt" in runs
    for k, v in steps:
        if k == "COPY":
            for source in v.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    # The app's port: Streamlit's default, unless .streamlit/config.toml sets another.
    from streamlit import config

    port = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()).get("server", {}).get(
        "port", config._config_options_template["server.port"].default_val)
    assert arg["EXPOSE"] == str(port)
    health_cmd = arg["HEALTHCHECK"].split(" CMD ", 1)[1]
    assert f"http://127.0.0.1:{port}{HEALTH_PATH}" in health_cmd
    assert json.loads(arg["CMD"]) == ["streamlit", "run", "app.py", "--server.address=0.0.0.0"]
    assert kinds.index("HEALTHCHECK") > kinds.index("FROM")
    # The browser's plotly.js is written at build time, while the app folder is still writable (ui/live_chart.py),
    # and the same command works here.
    (write,) = [i for i, (k, v) in enumerate(steps) if k == "RUN" and "write_plotly_js" in v]
    assert kinds.index("COPY") < write < kinds.index("USER")
    command = steps[write][1]
    assert command.startswith("python -c ")
    assert subprocess.run(["sh", "-c", command.replace("python ", f"{sys.executable} ", 1)], cwd=ROOT,
                          timeout=60).returncode == 0


def test_dockerfile_healthcheck_command_reports_a_real_server():
    """The HEALTHCHECK's command, run here against a real replica (its port swapped in), exits 0; against
    a closed port it fails, so Docker would mark the container unhealthy."""
    health_cmd = dict(reversed(dockerfile_instructions()))["HEALTHCHECK"].split(" CMD ", 1)[1]
    assert health_cmd.startswith("python -c ")
    with replicas(1) as (ports, _, _, _):
        local = health_cmd.replace("python ", f"{sys.executable} ", 1).replace(":8501/", f":{ports[0]}/")
        assert subprocess.run(["sh", "-c", local], timeout=20).returncode == 0
        closed = free_consecutive_ports(1)
        local = health_cmd.replace("python ", f"{sys.executable} ", 1).replace(":8501/", f":{closed}/")
        assert subprocess.run(["sh", "-c", local], capture_output=True, timeout=20).returncode != 0


def test_guide_names_only_settings_that_exist():
    guide = GUIDE.read_text()
    code = "\n".join(p.read_text() for p in [*ROOT.glob("explainers/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("server/*.py"),
                                             *ROOT.glob("classroom/*.py"), ROOT / "app.py"])
    names = set(re.findall(r"\bNOISE_LAB_[A-Z_]+\b", guide))
    assert names >= {"NOISE_LAB_THREADS"}
    for name in names:
        assert name in code, f"docs/DEPLOY.md names {name}, which the app never reads"
    from streamlit import config

    for option in set(re.findall(r"--((?:server|runner|browser|client|global)\.[A-Za-z]+)", guide)):
        assert option in config._config_options_template, f"docs/DEPLOY.md names an unknown Streamlit option {option}"
    for path in ("deploy/run_replicas.sh", "deploy/nginx.conf", "Dockerfile", "bench/load_test.py"):
        assert path in guide and (ROOT / path).exists()

