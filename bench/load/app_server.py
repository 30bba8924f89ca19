"""The server under load: a fresh `streamlit run app.py`, optionally started with read-only hooks on
Streamlit's Runtime that log when each rerun request arrives, when each script run ends (its wall and
thread CPU time) and when each script_finished leaves; and the server-side latencies read from that log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from devtools import ARTIFACTS, ROOT, free_port, stop_process, wait_healthy

BOOT = r"""
import json, os, sys, threading, time
from streamlit.runtime import runtime as _rt
from streamlit.runtime.scriptrunner import script_runner as _sr
_log = open(os.environ["NOISE_LAB_LOAD_EVENTS"], "a", buffering=1)
_lock = threading.Lock()
def _w(**kw):
    line = json.dumps({"t": time.time(), **kw})
    with _lock:
        _log.write(line + "\n")
_handle = _rt.Runtime.handle_backmsg
def handle_backmsg(self, session_id, msg, *a, **k):
    if msg.WhichOneof("type") == "rerun_script":
        rs = msg.rerun_script
        trig = [w.id for w in rs.widget_states.widgets if w.WhichOneof("value") == "trigger_value" and w.trigger_value]
        _w(kind="rerun", session=session_id, page=rs.page_name, qs=rs.query_string[:300], trigger=trig[:3],
           fragment=bool(rs.fragment_id), auto=rs.is_auto_rerun)
    return _handle(self, session_id, msg, *a, **k)
_rt.Runtime.handle_backmsg = handle_backmsg
_send = _rt.Runtime._send_message
def _send_message(self, session_info, msg):
    if msg.WhichOneof("type") == "script_finished":
        _w(kind="finished", session=session_info.session.id, status=int(msg.script_finished))
    return _send(self, session_info, msg)
_rt.Runtime._send_message = _send_message
_run = _sr.ScriptRunner._run_script
def _run_script(self, rerun_data):
    t0, c0 = time.time(), time.thread_time()
    try:
        return _run(self, rerun_data)
    finally:
        _w(kind="run", session=self._session_id, s=time.time() - t0, cpu_s=time.thread_time() - c0)
_sr.ScriptRunner._run_script = _run_script
from streamlit.web.cli import main
main(prog_name="streamlit")
"""


class LoadServer:
    """A freshly started `streamlit run app.py` on a free localhost port (like devtools' Server, plus the hooks)."""

    def __init__(self, env: dict, flags: list[str], instrument: bool = True, cpus: set[int] | None = None,
                 port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = ARTIFACTS / f"load-server-{self.port}.log"
        self.events = ARTIFACTS / f"load-events-{self.port}.jsonl" if instrument else None
        head = [sys.executable, "-c", BOOT] if instrument else [sys.executable, "-m", "streamlit"]
        extra = {"NOISE_LAB_LOAD_EVENTS": str(self.events)} if instrument else {}
        if self.events:
            self.events.write_text("")
        self.proc = subprocess.Popen(
            [*head, "run", "app.py", "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--server.headless", "true", *flags],
            cwd=ROOT, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **env, **extra},
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        try:
            self.ready_after_s = wait_healthy(self.url, self.proc, self.log, time.perf_counter(), 60)
        except RuntimeError:
            self.stop()
            raise

    def stop(self):
        stop_process(self.proc)


def server_latencies(events_path: Path | list[Path] | None, t_from: float, t_to: float) -> list[dict]:
    """Each rerun request received in [t_from, t_to]: its kind (nav: a session's first request; next: the
    lesson's Next button; train: another button on the spectral page; class scenario: submit, the
    prediction's button; pick, another widget inside a fragment; auto, a fragment's timer), the seconds to
    the last script_finished sent before the session's next request (none for a request merged into the
    next one), and the script threads' CPU seconds."""
    paths = events_path if isinstance(events_path, list) else [events_path]
    paths = [p for p in paths if p is not None and p.exists()]  # one file per replica with --replicas
    if not paths:
        return []
    by_session: dict[str, list[dict]] = {}
    for line in (line for p in paths for line in p.read_text().splitlines()):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        by_session.setdefault(e["session"], []).append(e)
    out = []
    for evs in by_session.values():
        evs.sort(key=lambda e: e["t"])
        requests = [i for i, e in enumerate(evs) if e["kind"] == "rerun"]
        for n, i in enumerate(requests):
            req = evs[i]
            if not t_from <= req["t"] <= t_to:
                continue
            stop = requests[n + 1] if n + 1 < len(requests) else len(evs)
            window = evs[i + 1:stop]
            finished = [e["t"] for e in window if e["kind"] == "finished"]
            trig = " ".join(req.get("trigger") or [])
            if req.get("auto"):
                kind = "auto"
            elif "_lesson_next_" in trig:
                kind = "next"
            elif "_submit_" in trig:
                kind = "submit"
            elif trig and "train_steps" in req.get("qs", ""):
                kind = "train"  # the only other button the lesson scenario clicks, on the spectral page
            elif req.get("fragment"):
                kind = "pick"
            else:
                kind = "nav" if n == 0 else "other"
            out.append({"kind": kind, "page": req.get("page") or "", "t": req["t"],
                        "s": finished[-1] - req["t"] if finished else None,
                        "cpu_s": sum(e["cpu_s"] for e in window if e["kind"] == "run")})
    return out



def pid_listening_on(port: int) -> int | None:
    """The pid of the process listening on port (for a server this script did not start)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                for fd in os.listdir(f"/proc/{entry}/fd"):
                    link = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return int(entry)
            except OSError:
                continue
    return None
