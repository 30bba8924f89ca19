"""Load test: N concurrent real browser sessions follow the guided lessons on one real `streamlit run`
server, on this machine only (127.0.0.1). Prints figures measured in the same run; asserts nothing.
It stops by itself: every wait has a timeout and the load phase a hard cap (--max-seconds).

Each session is a headless Chromium browser context (Playwright, Debian's /usr/bin/chromium; a few
browser processes share the contexts), or with --client protocol a client of Streamlit's own WebSocket
protocol (bench/load_protocol.py), which sends what a browser sends and draws nothing: on a 2-core
machine 30 browsers drawing every chart take most of the CPU the server needs. It opens /noise_schedule?lesson=1 and clicks "Next" a few times,
then /backward_noise_init?lesson=1 and steps, then /spectral_norm?lesson=1&train_steps=100 and steps,
and clicks "Train" and waits for the run-history table.

Two latencies per interaction:
- browser: from the click (the page's own click event) or the start of the navigation to the end of
  the rerun it caused: `[data-testid="stApp"]`'s `data-test-script-state` back to "notRunning", and
  staying so for 0.5 s (tests/conftest.py's wait_for_app rule; the 0.5 s is not counted). On this
  machine the browsers run on the same 2 cores as the server, so this includes their drawing.
- server: from the server receiving the rerun request to it sending the last `script_finished` message
  of that request (the server is started with two read-only hooks on Streamlit's Runtime that log these
  times; --no-instrument runs plain `python -m streamlit run`).
An error is an `stException` on the page, a timed-out interaction or a failed navigation. The server's
RSS (with its child processes) and CPU are sampled every second: warming up, over the whole run, and for
--after-seconds after every session has closed.

    python bench/load_test.py [--sessions 30] [--ramp-seconds 30] [--next-clicks 2] [--think-seconds 20]
                              [--browsers 3] [--env KEY=VALUE ...] [--server-flag=--runner.fastReruns=false ...]
                              [--port PORT] [--after-seconds 60] [--max-seconds 1500] [--out artifacts/load.json]

Budget (DESIGN.md, classroom): 30 sessions, zero errors, interaction p95 <= 1.5 s (the Train click, a
100-step live training run with a progress bar, is reported apart), RSS back within 10 % of the warm RSS
one minute after the sessions close.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, stop_process, wait_healthy  # noqa: E402

PAGES = ("noise_schedule", "backward_noise_init", "spectral_norm")
BUDGET = {"sessions": 30, "errors": 0, "p95_s": 1.5, "rss_after_over_warm": 1.10}
CALM_MS = 500
TICK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# ---------------------------------------------------------------------------------------------
# The server: `streamlit run app.py`, optionally with hooks that log when each rerun request arrives,
# when each script run ends (its wall and thread CPU time) and when each script_finished leaves.
# ---------------------------------------------------------------------------------------------

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
        _w(kind="rerun", session=session_id, page=rs.page_name, qs=rs.query_string[:300], trigger=trig[:3])
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
    """A freshly started `streamlit run app.py` on a free localhost port (like tests/conftest.py's Server)."""

    def __init__(self, env: dict, flags: list[str], instrument: bool = True, cpus: set[int] | None = None):
        self.port = free_port()
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


def server_latencies(events_path: Path | None, t_from: float, t_to: float) -> list[dict]:
    """Each rerun request received in [t_from, t_to]: its kind (nav: a session's first request; next: the
    lesson's Next button; train: another button on the spectral page), the seconds to the last
    script_finished sent before the session's next request, and the script threads' CPU seconds."""
    if events_path is None or not events_path.exists():
        return []
    by_session: dict[str, list[dict]] = {}
    for line in events_path.read_text().splitlines():
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
            if "_lesson_next_" in trig:
                kind = "next"
            elif trig and "train_steps" in req.get("qs", ""):
                kind = "train"  # the only other button this test clicks, on the spectral page
            else:
                kind = "nav" if n == 0 else "other"
            out.append({"kind": kind, "page": req.get("page") or "", "t": req["t"],
                        "s": finished[-1] - req["t"] if finished else None,
                        "cpu_s": sum(e["cpu_s"] for e in window if e["kind"] == "run")})
    return out


# ---------------------------------------------------------------------------------------------
# The server's process tree: RSS and CPU from /proc, every second
# ---------------------------------------------------------------------------------------------

def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime + stime ticks, rss pages) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def tree_pids(root: int, table: dict) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo, seen = [root], []
    while todo:
        pid = todo.pop()
        if pid in table:
            seen.append(pid)
            todo.extend(children.get(pid, []))
    return seen


def tree_stats(root: int) -> tuple[float, float, int]:
    """(RSS MB, CPU seconds, process count) of root and all its descendants."""
    table = _proc_table()
    seen = tree_pids(root, table)
    rss = sum(table[p][2] for p in seen) * PAGE_SIZE / 2**20
    cpu = sum(table[p][1] for p in seen) / TICK
    return rss, cpu, len(seen)


class TreeCpu:
    """CPU seconds a process tree used since the last call, counting processes that started in between
    and not losing what exited ones had used before (their last reading is kept)."""

    def __init__(self, root: int):
        self.root, self.last = root, {}
        self.delta(_proc_table())

    def delta(self, table: dict) -> float:
        now = {p: table[p][1] for p in tree_pids(self.root, table)}
        used = sum(max(0, ticks - self.last.get(p, 0)) for p, ticks in now.items())
        self.last = now
        return used / TICK


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) / TICK, (sum(v) - idle) / TICK


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


class Sampler(threading.Thread):
    """Every `interval` s: the server tree's RSS and CPU %, the machine's CPU %, and the current phase."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.interval, self.phase = pid, interval, "start"
        self.samples: list[dict] = []
        self.t_start = time.time()
        self._halt = threading.Event()

    def run(self):
        server, clients = TreeCpu(self.pid), TreeCpu(os.getpid())
        prev_total, prev_busy = machine_busy()
        prev_t = time.time()
        while not self._halt.wait(self.interval):
            table = _proc_table()
            pids = tree_pids(self.pid, table)
            rss = sum(table[p][2] for p in pids) * PAGE_SIZE / 2**20
            s_cpu, c_cpu = server.delta(table), clients.delta(table)
            total, busy = machine_busy()
            now = time.time()
            dt = max(now - prev_t, 1e-6)
            machine = 100 * (busy - prev_busy) / max(total - prev_total, 1e-6) * os.cpu_count()
            self.samples.append({
                "t_s": round(now - self.t_start, 2), "phase": self.phase, "rss_mb": round(rss, 1),
                "server_cpu_pct": round(100 * s_cpu / dt, 1), "client_cpu_pct": round(100 * c_cpu / dt, 1),
                "other_cpu_pct": round(max(0.0, machine - 100 * (s_cpu + c_cpu) / dt), 1),
                "machine_cpu_pct": round(machine, 1), "server_procs": len(pids)})
            prev_total, prev_busy, prev_t = total, busy, now

    def stop(self):
        self._halt.set()
        self.join(5)

    def of(self, phase: str) -> list[dict]:
        return [s for s in self.samples if s["phase"] == phase]


# ---------------------------------------------------------------------------------------------
# One session: a lesson across all three pages, and one live training run
# ---------------------------------------------------------------------------------------------

# Installed in every document before its own scripts: a log of (epoch ms, script state) for every change
# of stApp's data-test-script-state, the epoch ms of the latest click, and of every script_finished
# message that reached the page (top-level protobuf field 6 of a ForwardMsg). A fast rerun in a busy
# browser may never show "running" (React draws both states in one frame), but its script_finished
# message still arrives.
OBSERVER_JS = """(() => {
  const log = []; window.__nlLog = log; window.__nlClick = 0;
  const state = () => { const el = document.querySelector('[data-testid="stApp"]');
                        return el ? el.getAttribute('data-test-script-state') : null; };
  const push = (s) => { if (s !== null && (!log.length || log[log.length - 1][1] !== s)) log.push([Date.now(), s]); };
  new MutationObserver((records) => {
    // A batch may hold several changes: record k's new value is record k+1's old value.
    for (let k = 1; k < records.length; k++) push(records[k].oldValue);
    push(state());
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  const first = () => { const s = state(); if (s === null) setTimeout(first, 20); else push(s); };
  first();
  document.addEventListener('click', () => { window.__nlClick = Date.now(); }, true);
  const finished = []; window.__nlFinished = finished;
  const hasField6 = (buf) => {
    const b = new Uint8Array(buf); let i = 0;
    while (i < b.length) {
      let tag = 0, shift = 0, x;
      do { x = b[i++]; tag += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80 && i < b.length);
      if (Math.floor(tag / 8) === 6) return true;
      const w = tag % 8;
      if (w === 0) { while (b[i++] & 0x80) {} }
      else if (w === 2) { let len = 0; shift = 0;
        do { x = b[i++]; len += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80); i += len; }
      else if (w === 1) i += 8; else if (w === 5) i += 4; else return false;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (ev) => {
        if (ev.data instanceof ArrayBuffer && hasField6(ev.data)) finished.push(Date.now());
      });
    }
  };
})();"""

# Once the app has finished a rerun that started after t0 and stayed calm for `calm` ms: the epoch ms at
# which that rerun finished (the page's last change to "notRunning").
FINISHED_JS = """([t0, calm, needRun]) => {
  const log = window.__nlLog || [];
  if (!log.length) return false;
  const last = log[log.length - 1];
  if (last[1] !== 'notRunning' || Date.now() - last[0] < calm) return false;
  if (needRun && !log.some(([t, s]) => t >= t0 && s === 'running')
      && !(window.__nlFinished || []).some((t) => t >= t0)) return false;
  return Math.max(last[0], ...(window.__nlFinished || []).filter((t) => t >= t0));
}"""


class Recorder:
    def __init__(self):
        self.timings: list[dict] = []
        self.errors: list[dict] = []


async def timed(page, rec: Recorder, sid: int, kind: str, what: str, action, timeout_s: float,
                need_run: bool, until_text: str | None = None) -> bool:
    """Run action (a click or a navigation), wait for the rerun it caused to finish, and record it."""
    from playwright.async_api import Error as PlaywrightError

    t0 = time.time() * 1000
    try:
        response = await action()
        if kind == "nav" and (response is None or not response.ok):
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "failed navigation",
                               "status": None if response is None else response.status})
            return False
        if until_text:
            await page.get_by_text(until_text).first.wait_for(timeout=timeout_s * 1000)
        left = max(1.0, timeout_s - (time.time() * 1000 - t0) / 1000)
        handle = await page.wait_for_function(FINISHED_JS, arg=[t0, CALM_MS, need_run], polling=100,
                                              timeout=left * 1000)
        end = await handle.json_value()
        clicked = await page.evaluate("() => window.__nlClick")
        start = clicked if kind != "nav" and clicked and clicked >= t0 else t0
        rec.timings.append({"session": sid, "kind": kind, "what": what, "s": (end - start) / 1000, "at": t0 / 1000})
        exceptions = page.locator('[data-testid="stException"]')
        if await exceptions.count():
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "stException",
                               "text": (await exceptions.first.inner_text())[:300]})
        return True
    except (PlaywrightError, asyncio.TimeoutError) as err:
        name = "timeout" if "Timeout" in type(err).__name__ or "Timeout" in str(err)[:200] else "browser error"
        rec.errors.append({"session": sid, "kind": kind, "what": what, "error": name, "text": str(err)[:300]})
        return False


async def run_session(browser, base: str, sid: int, args, rec: Recorder, rng: random.Random,
                      think_s: float | None = None) -> None:
    think_s = args.think_seconds if think_s is None else think_s
    ctx = await browser.new_context(viewport={"width": args.width, "height": args.height})
    try:
        await ctx.add_init_script(OBSERVER_JS)
        page = await ctx.new_page()

        async def think():
            if think_s > 0:
                await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

        for name in PAGES:
            url = f"{base}/{name}?lesson=1" + (f"&train_steps={args.train_steps}" if name == "spectral_norm" else "")
            if not await timed(page, rec, sid, "nav", name, lambda: page.goto(url, timeout=args.timeout * 1000),
                               args.timeout, need_run=False):
                continue
            for k in range(args.next_clicks):
                await think()
                button = page.locator(f".st-key-_lesson_next_{name} button")
                if not await timed(page, rec, sid, "next", f"{name} step {k + 2}",
                                   lambda: button.click(timeout=args.timeout * 1000), args.timeout, need_run=True):
                    break
            if name == "spectral_norm" and args.train_steps:
                await think()
                train = page.get_by_role("button", name="Train", exact=True)
                await timed(page, rec, sid, "train", f"train {args.train_steps} steps",
                            lambda: train.click(timeout=args.timeout * 1000), args.train_timeout,
                            need_run=True, until_text="Run history (this session)")
            await think()
    finally:
        await ctx.close()


class ChromiumClients:
    """Sessions as headless Chromium browser contexts, a few browser processes sharing them."""

    def __init__(self, args):
        self.args, self.browsers = args, []

    async def __aenter__(self):
        from playwright.async_api import async_playwright

        self._pw_cm = async_playwright()
        self.pw = await self._pw_cm.__aenter__()
        return self

    async def open(self, n: int) -> None:
        launch = dict(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *self.args.chromium_arg], headless=True)
        self.browsers = [await self.pw.chromium.launch(**launch) for _ in range(max(1, n))]

    async def close(self) -> None:
        for b in self.browsers:
            await b.close()
        self.browsers = []

    async def run(self, base: str, i: int, rec: "Recorder", rng: random.Random, think_s: float | None = None):
        await run_session(self.browsers[max(i, 0) % len(self.browsers)], base, i, self.args, rec, rng, think_s)

    async def __aexit__(self, *exc):
        await self.close()
        await self._pw_cm.__aexit__(*exc)


class ProtocolClients:
    """Sessions that speak Streamlit's WebSocket protocol (bench/load_protocol.py): no drawing."""

    def __init__(self, args):
        self.args = args

    async def __aenter__(self):
        return self

    async def open(self, n: int) -> None:
        pass

    async def close(self) -> None:
        pass

    async def run(self, base: str, i: int, rec: "Recorder", rng: random.Random, think_s: float | None = None):
        from load_protocol import protocol_session

        await protocol_session(base, i, self.args, rec, rng, think_s)

    async def __aexit__(self, *exc):
        pass


async def drive(base: str, args, sampler: Sampler, out: dict) -> dict:
    """Fills `out` as it goes, so that a run stopped from outside still leaves what it measured."""
    async with (ChromiumClients if args.client == "chromium" else ProtocolClients)(args) as clients:
        # Warm-up: one session through the whole flow, alone, so that models and caches are loaded; then
        # a second one alone ("solo"): the unloaded baseline, and what one student's lesson costs the
        # server in CPU seconds, whatever the contention. Both pause at most 1 s between clicks.
        sampler.phase = "warmup"
        await clients.open(1)
        for name, seed in (("warmup", 0), ("solo", 1))[2 - args.warmup_sessions:]:
            rec = Recorder()
            cpu0, t0, wall = tree_stats(sampler.pid)[1], time.time(), time.perf_counter()
            await clients.run(base, -1, rec, random.Random(seed), think_s=min(1.0, args.think_seconds))
            out[name] = {"s": round(time.perf_counter() - wall, 1), "t": [t0, time.time()],
                         "server_cpu_s": round(tree_stats(sampler.pid)[1] - cpu0, 2),
                         "timings": rec.timings, "errors": rec.errors}
        await clients.close()
        sampler.phase = "warm"
        await asyncio.sleep(args.warm_seconds)

        # The load: N sessions (for Chromium, over a few browser processes), started evenly over the ramp.
        sampler.phase = "load"
        rec = Recorder()
        await clients.open(min(args.browsers, args.sessions))
        t_load, cpu0, wall = time.time(), tree_stats(sampler.pid)[1], time.perf_counter()
        out["timings"], out["errors"] = rec.timings, rec.errors
        out["load"] = {"s": None, "t": [t_load, None], "server_cpu_s": None, "cpu0": cpu0, "wall0": wall}

        async def one(i: int):
            await asyncio.sleep(args.ramp_seconds * i / max(1, args.sessions))
            await clients.run(base, i, rec, random.Random(1000 + i))

        tasks = [asyncio.create_task(one(i)) for i in range(args.sessions)]
        done, pending = await asyncio.wait(tasks, timeout=args.max_seconds)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                rec.errors.append({"session": None, "kind": "session", "error": "crashed",
                                   "text": repr(task.exception())[:300]})
        if pending:
            rec.errors.append({"session": None, "kind": "session", "error": "not finished in --max-seconds",
                               "count": len(pending)})
        await asyncio.gather(*pending, return_exceptions=True)
        end_load(out, sampler.pid)
    return out


def end_load(out: dict, pid: int) -> None:
    load = out["load"]
    if load["s"] is None:
        load.update(s=round(time.perf_counter() - load["wall0"], 1), t=[load["t"][0], time.time()],
                    server_cpu_s=round(tree_stats(pid)[1] - load["cpu0"], 2))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def pct(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(a), "p50_s": round(float(np.percentile(a, 50)), 3), "p95_s": round(float(np.percentile(a, 95)), 3),
            "max_s": round(float(a.max()), 3), "mean_s": round(float(a.mean()), 3)}


def machine_line() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}"


def summarize(args, drive_out: dict, sampler: Sampler, server_info: dict, events: Path | None) -> dict:
    timings = drive_out["timings"]
    empty = {"t": [0, 0], "timings": [], "server_cpu_s": None, "s": None}
    drive_out.setdefault("solo", empty)
    drive_out.setdefault("warmup", empty)
    load_t, solo_t = drive_out["load"]["t"], drive_out["solo"]["t"]
    srv = server_latencies(events, *load_t)
    srv_solo = server_latencies(events, *solo_t)

    def browser(sel, rows=timings) -> dict:
        return pct([t["s"] for t in rows if sel(t)])

    def server(sel, rows=srv) -> dict:
        chosen = [r for r in rows if sel(r)]
        return {**pct([r["s"] for r in chosen]), "script_cpu_s_mean": round(float(np.mean([r["cpu_s"] for r in chosen])), 3)
                if chosen else None}

    not_train = lambda t: t["kind"] != "train"  # noqa: E731
    solo = drive_out["solo"]["timings"]
    warm = [s["rss_mb"] for s in sampler.of("warm")]
    load, after = sampler.of("load"), sampler.of("after")
    rss_warm = float(np.median(warm)) if warm else float("nan")
    rss_peak = max(s["rss_mb"] for s in sampler.samples)
    rss_after = after[-1]["rss_mb"] if after else float("nan")
    errors = drive_out["errors"]
    expected = args.sessions * (len(PAGES) * (1 + args.next_clicks) + (1 if args.train_steps else 0))
    result = {
        "machine": machine_line(), "date": time.strftime("%Y-%m-%d %H:%M"),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "server": server_info, "budget": BUDGET,
        "browser_latency": {"interactions_except_train": browser(not_train), "all": browser(lambda t: True),
                            **{k: browser(lambda t, k=k: t["kind"] == k) for k in ("nav", "next", "train")},
                            **{f"{k} {p}": browser(lambda t, k=k, p=p: t["kind"] == k and t["what"].startswith(p))
                               for k in ("nav", "next") for p in PAGES}},
        "server_latency": {"requests_except_train": server(not_train), "all": server(lambda r: True),
                           **{k: server(lambda r, k=k: r["kind"] == k) for k in ("nav", "next", "train", "other")}},
        "solo_session": {"browser_except_train": browser(not_train, solo),
                         "server_except_train": server(not_train, srv_solo),
                         "train_browser_s": [round(t["s"], 2) for t in solo if t["kind"] == "train"],
                         "server_cpu_s": drive_out["solo"]["server_cpu_s"], "wall_s": drive_out["solo"]["s"],
                         "interactions": len(solo)},
        "server_cpu_s": {"solo_session": drive_out["solo"]["server_cpu_s"], "load_phase": drive_out["load"]["server_cpu_s"],
                         "per_session_under_load": round(drive_out["load"]["server_cpu_s"] / max(1, args.sessions), 2)},
        "interactions_expected": expected, "interactions_measured": len(timings),
        "errors": len(errors), "error_kinds": {e["error"]: sum(1 for x in errors if x["error"] == e["error"])
                                               for e in errors},
        "rss_mb": {"warm": round(rss_warm, 1), "peak": round(rss_peak, 1), "after": round(rss_after, 1),
                   "after_over_warm": round(rss_after / rss_warm, 3), "peak_over_warm": round(rss_peak / rss_warm, 3)},
        "cpu_pct_during_load": {
            "server_mean": round(float(np.mean([s["server_cpu_pct"] for s in load])), 1) if load else None,
            "server_p95": round(float(np.percentile([s["server_cpu_pct"] for s in load], 95)), 1) if load else None,
            "clients_mean": round(float(np.mean([s["client_cpu_pct"] for s in load])), 1) if load else None,
            "other_processes_mean": round(float(np.mean([s["other_cpu_pct"] for s in load])), 1) if load else None,
            "machine_mean": round(float(np.mean([s["machine_cpu_pct"] for s in load])), 1) if load else None,
            "machine_max": 100 * os.cpu_count(),
            "clients_cpu_s_per_interaction": round(sum(s["client_cpu_pct"] for s in load) / 100 / max(1, len(timings)), 2),
            "server_cpu_s_per_interaction": round(sum(s["server_cpu_pct"] for s in load) / 100 / max(1, len(timings)), 2)},
        "load_s": drive_out["load"]["s"], "warmup": drive_out["warmup"], "solo": drive_out["solo"],
        "error_list": errors[:50], "timings": timings, "server_requests": srv, "samples": sampler.samples,
    }
    p95 = result["browser_latency"]["interactions_except_train"].get("p95_s", float("inf"))
    result["verdict"] = {
        "errors": "met" if not errors and len(timings) == expected else "missed",
        "p95_browser": "met" if p95 <= BUDGET["p95_s"] else "missed",
        "p95_server": ("met" if result["server_latency"]["requests_except_train"].get("p95_s", 1e9) <= BUDGET["p95_s"]
                       else "missed") if srv else "not measured",
        "rss": "met" if result["rss_mb"]["after_over_warm"] <= BUDGET["rss_after_over_warm"] else "missed",
    }
    return result


def report(r: dict) -> None:
    s = r["settings"]
    protocol = s.get("client") == "protocol"
    who = "client" if protocol else "browser"
    print(f"\nmachine: {r['machine']}")
    print(f"server: {r['server']}")
    clients = ("Streamlit WebSocket protocol clients (no drawing)" if protocol
               else f"{s['browsers']} Chromium processes")
    print(f"{s['sessions']} sessions over {clients}, ramp {s['ramp_seconds']} s, "
          f"{s['next_clicks']} Next clicks per page, think {s['think_seconds']} s (x0.5-1.5), "
          f"Train {s['train_steps']} steps; browsers: CPUs {s['client_cpus'] or 'all'}, nice {s['client_nice']}, "
          f"scheduler {s['client_sched']}; "
          f"load phase {r['load_s']} s")

    def line(name, d):
        if not d.get("n"):
            return f"  {name:<34} n=0"
        cpu = f"  script CPU {d['script_cpu_s_mean'] * 1000:5.0f} ms" if d.get("script_cpu_s_mean") is not None else ""
        return (f"  {name:<34} n={d['n']:<4} p50 {d['p50_s']:6.2f} s  p95 {d['p95_s']:6.2f} s  "
                f"max {d['max_s']:6.2f} s{cpu}")

    so = r["solo_session"]
    print(f"one session alone, after a warm-up session: {so['interactions']} interactions in {so['wall_s']} s, "
          f"server CPU {so['server_cpu_s']} s, Train {so['train_browser_s']} s")
    print(line(f"alone, {who}, except Train", so["browser_except_train"]))
    print(line("alone, server, except Train", so["server_except_train"]))
    print("under load, client (rerun request sent -> its last script_finished received):" if protocol else
          "under load, browser (click/navigation -> rerun finished in the page):")
    for k, d in r["browser_latency"].items():
        print(line(k, d))
    print("under load, server (rerun request received -> last script_finished sent):")
    for k, d in r["server_latency"].items():
        print(line(k, d))
    print(f"interactions measured {r['interactions_measured']} of {r['interactions_expected']}; "
          f"errors {r['errors']} {r['error_kinds'] or ''}")
    for e in r["error_list"][:5]:
        print(f"  error: {e}")
    m = r["rss_mb"]
    print(f"server RSS (with children): warm {m['warm']:.0f} MB, peak {m['peak']:.0f} MB, "
          f"after {s['after_seconds']:.0f} s {m['after']:.0f} MB; after/warm {m['after_over_warm']:.3f}, "
          f"peak/warm {m['peak_over_warm']:.3f}")
    c, cs = r["cpu_pct_during_load"], r["server_cpu_s"]
    print(f"CPU during load (mean): server {c['server_mean']} % (p95 {c['server_p95']} %), this script and its "
          f"browsers {c['clients_mean']} %, other processes {c['other_processes_mean']} %; whole machine "
          f"{c['machine_mean']} % of {c['machine_max']} %; per measured interaction: browsers "
          f"{c['clients_cpu_s_per_interaction']} CPU s, server {c['server_cpu_s_per_interaction']} CPU s\nserver CPU {cs['load_phase']} s in all, "
          f"{cs['per_session_under_load']} s per session (one session alone: {cs['solo_session']} s)")
    v = r["verdict"]
    print(f"budget: errors 0 -> {v['errors']}; p95 <= {BUDGET['p95_s']} s -> {who} {v['p95_browser']}, "
          f"server {v['p95_server']}; RSS after <= {BUDGET['rss_after_over_warm']} x warm -> {v['rss']}")


def cpu_set(text: str | None) -> set[int] | None:
    return {int(c) for c in text.split(",")} if text else None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--ramp-seconds", type=float, default=30.0, help="sessions start evenly over this many seconds")
    ap.add_argument("--next-clicks", type=int, default=2, help="'Next' clicks on each page's lesson")
    ap.add_argument("--think-seconds", type=float, default=20.0,
                    help="a student reading the step: pause before each click, times uniform(0.5, 1.5); 1 for a "
                         "stress test, 0 for none")
    ap.add_argument("--train-steps", type=int, default=100, help="train_steps in the spectral URL; 0: no training")
    ap.add_argument("--browsers", type=int, default=3, help="Chromium processes sharing the sessions' contexts")
    ap.add_argument("--chromium-arg", action="append", default=[], metavar="--flag",
                    help="extra Chromium flag on top of tests/conftest.py's CHROMIUM_ARGS")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per interaction before it is an error")
    ap.add_argument("--train-timeout", type=float, default=120.0)
    ap.add_argument("--client", choices=("chromium", "protocol"), default="chromium",
                    help="chromium: real headless browsers (they draw every chart, on this machine's own cores); "
                         "protocol: Streamlit's WebSocket protocol, no drawing (bench/load_protocol.py)")
    ap.add_argument("--warmup-sessions", type=int, choices=(0, 1, 2), default=2,
                    help="sessions run alone before the load: 2 = a warm-up one, then the measured 'solo' one; "
                         "1 = only the solo one; 0 = none (a smoke test: the warm RSS is then the cold one)")
    ap.add_argument("--warm-seconds", type=float, default=5.0, help="idle RSS sampling after the warm-up sessions")
    ap.add_argument("--after-seconds", type=float, default=60.0, help="RSS sampling after every session closed")
    ap.add_argument("--max-seconds", type=float, default=1500.0, help="hard cap on the load phase")
    ap.add_argument("--port", type=int, help="use the server already listening on 127.0.0.1:PORT")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for our server")
    ap.add_argument("--server-flag", action="append", default=[], metavar="--section.option=value",
                    help="extra `streamlit run` flag for our server, e.g. --server-flag=--runner.fastReruns=false")
    ap.add_argument("--server-cpus", help="pin our server to these CPUs, e.g. 0 (comma list)")
    ap.add_argument("--client-cpus", help="pin this script and its browsers to these CPUs, e.g. 1")
    ap.add_argument("--client-nice", type=int, default=0, help="niceness of this script and its browsers")
    ap.add_argument("--client-sched", choices=("idle", "normal"), default="idle",
                    help="idle (default): this script and its browsers run under SCHED_IDLE, i.e. only on CPU time "
                         "the server (and anything else) leaves, as if the students' browsers ran on their own "
                         "machines; Chromium running as root raises its own threads' nice values, so --client-nice "
                         "alone does not keep it off the server's CPU. normal: plain sharing")
    ap.add_argument("--no-instrument", action="store_true",
                    help="plain `python -m streamlit run` (no server-side latency figures)")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)

    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            ap.error(f"--env wants KEY=VALUE, got {item!r}")
        env[key] = value

    server, events = None, None
    if args.port:
        if env or args.server_flag:
            ap.error("--env and --server-flag apply to a server this script starts; leave out --port")
        base = f"http://127.0.0.1:{args.port}"
        pid = pid_listening_on(args.port)
        if pid is None:
            ap.error(f"nothing listens on port {args.port} (or its process is not visible)")
        server_info = {"url": base, "pid": pid, "started_here": False}
    else:
        server = LoadServer(env, args.server_flag, instrument=not args.no_instrument, cpus=cpu_set(args.server_cpus))
        base, pid, events = server.url, server.proc.pid, server.events
        server_info = {"url": base, "pid": pid, "started_here": True, "env": env, "flags": args.server_flag,
                       "instrumented": events is not None, "ready_after_s": round(server.ready_after_s, 2),
                       "log": str(server.log)}
    # Browsers started from here inherit this process's CPUs and niceness.
    if args.client_cpus:
        os.sched_setaffinity(0, cpu_set(args.client_cpus))
    if args.client_nice:
        os.nice(args.client_nice)
    if args.client_sched == "idle":
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    server_info["cpus"] = sorted(os.sched_getaffinity(pid))
    sampler = Sampler(pid)
    sampler.start()
    drive_out: dict = {}
    interrupted = False
    try:
        asyncio.run(drive(base, args, sampler, drive_out))
        sampler.phase = "after"
        time.sleep(args.after_seconds)
    except SystemExit:
        interrupted = True
        if "load" not in drive_out:
            raise
        end_load(drive_out, pid)
        print("stopped from outside during the run: the figures below are partial", file=sys.stderr)
    finally:
        sampler.stop()
        if server is not None:
            server.stop()
    if server is not None:
        server_info["log_tracebacks"] = server.log.read_text(errors="replace").count("Traceback")
    result = summarize(args, drive_out, sampler, server_info, events)
    result["interrupted"] = interrupted
    report(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"results: {args.out}")
    if interrupted:
        sys.exit(143)
    return result


if __name__ == "__main__":
    main()
