"""Load test: N concurrent real browser sessions follow the guided lessons on one real `streamlit run`
server, on this machine only (127.0.0.1). Prints figures measured in the same run; asserts nothing.
It stops by itself: every wait has a timeout and the load phase a hard cap (--max-seconds).

Each session is a headless Chromium browser context (Playwright, Debian's /usr/bin/chromium; a few
browser processes share the contexts), or with --client protocol a client of Streamlit's own WebSocket
protocol (bench/load/protocol_client.py), which sends what a browser sends and draws nothing: on a 2-core
machine 30 browsers drawing every chart take most of the CPU the server needs. It opens /noise_schedule?lesson=1 and clicks "Next" a few times,
then /backward_noise_init?lesson=1 and steps, then /spectral_norm?lesson=1&train_steps=100 and steps,
and clicks "Train" and waits for the run-history table.

Two latencies per interaction:
- browser: from the click (the page's own click event) or the start of the navigation to the end of
  the rerun it caused: `[data-testid="stApp"]`'s `data-test-script-state` back to "notRunning", and
  staying so for 0.5 s (devtools' wait_for_app rule; the 0.5 s is not counted). On this
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

--scenario class (bench/load/classroom.py): one presenter and --sessions students in one class, the
students predicting --questions lesson questions while the presenter's histogram and every student's
panel rerun by themselves; the server's class store is a fresh SQLite file (or --class-db). Besides the
figures above: lost predictions (the store against each student's last submitted answer; must be 0),
mismatches, and whether the presenter's histogram showed them all.

    python bench/load_test.py --scenario class --client protocol [--sessions 30] [--questions 2]
                              [--change-mind 0.3] [--think-seconds 20] [--class-db sqlite:////abs/path.db]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.load.app_server import LoadServer, pid_listening_on
from bench.load.chromium_client import ChromiumClients
from bench.load.classroom import ClassScenario
from bench.load.lesson import LessonScenario, Recorder
from bench.load.procstats import Sampler, tree_stats
from bench.load.protocol_client import ProtocolClients
from bench.load.results import report, summarize


async def drive(base: str, args, sampler: Sampler, out: dict, scenario, warm_bases: list[str] | None = None) -> dict:
    """Fills `out` as it goes, so that a run stopped from outside still leaves what it measured.
    `scenario`: LessonScenario or ClassScenario (what the sessions do, and what they share). `warm_bases`: the
    replicas' own URLs with --replicas, each warmed directly (through the proxy one would be warmed at random)."""
    async with (ChromiumClients if args.client == "chromium" else ProtocolClients)(args) as clients:
        # Warm-up: one session through the whole flow, alone, so that models and caches are loaded; then
        # a second one alone ("solo"): the unloaded baseline, and what one student's lesson costs the
        # server in CPU seconds, whatever the contention. Both pause at most 1 s between clicks.
        sampler.phase = "warmup"
        await clients.open(1)
        warm_rec = Recorder()  # the class scenario's warm-up presenter
        async with scenario.in_session(clients, base, warm_rec, warm=True):
            for name, seed in (("warmup", 0), ("solo", 1))[2 - args.warmup_sessions:]:
                rec = Recorder()
                cpu0, t0, wall = tree_stats(sampler.pid)[1], time.time(), time.perf_counter()
                for url in (warm_bases or [base]) if name == "warmup" else [base]:
                    await scenario.session(clients, url, -1, rec, random.Random(seed),
                                           think_s=min(1.0, args.think_seconds))
                out[name] = {"s": round(time.perf_counter() - wall, 1), "t": [t0, time.time()],
                             "server_cpu_s": round(tree_stats(sampler.pid)[1] - cpu0, 2),
                             "timings": rec.timings, "errors": rec.errors}
        out["warmup_presenter_errors"] = warm_rec.errors
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
            await scenario.session(clients, base, i, rec, random.Random(1000 + i))

        async with scenario.in_session(clients, base, rec, warm=False):
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
    out["class"] = scenario.figures()
    return out


def end_load(out: dict, pid: int) -> None:
    load = out["load"]
    if load["s"] is None:
        load.update(s=round(time.perf_counter() - load["wall0"], 1), t=[load["t"][0], time.time()],
                    server_cpu_s=round(tree_stats(pid)[1] - load["cpu0"], 2))



def cpu_set(text: str | None) -> set[int] | None:
    return {int(c) for c in text.split(",")} if text else None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=("lesson", "class"), default="lesson",
                    help="lesson: every session follows the guided lessons alone; class: one presenter and "
                         "--sessions students predicting in one class (bench/load/classroom.py)")
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--ramp-seconds", type=float, default=30.0, help="sessions start evenly over this many seconds")
    ap.add_argument("--next-clicks", type=int, default=2, help="'Next' clicks on each page's lesson")
    ap.add_argument("--think-seconds", type=float, default=20.0,
                    help="a student reading the step: pause before each click, times uniform(0.5, 1.5); 1 for a "
                         "stress test, 0 for none")
    ap.add_argument("--train-steps", type=int, default=100, help="train_steps in the spectral URL; 0: no training")
    ap.add_argument("--questions", type=int, default=2,
                    help="class: the noise-schedule lesson's first questions each student predicts (1: a slider; "
                         "2: and a radio)")
    ap.add_argument("--change-mind", type=float, default=0.3,
                    help="class: chance that a student submits a second, different answer to a question")
    ap.add_argument("--class-db", metavar="URL",
                    help="class: the class store the server uses (NOISE_LAB_CLASS_DB); default: a fresh SQLite file "
                         "in a temporary folder. Needed with --port")
    ap.add_argument("--browsers", type=int, default=3, help="Chromium processes sharing the sessions' contexts")
    ap.add_argument("--chromium-arg", action="append", default=[], metavar="--flag",
                    help="extra Chromium flag on top of devtools' CHROMIUM_ARGS")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per interaction before it is an error")
    ap.add_argument("--train-timeout", type=float, default=120.0)
    ap.add_argument("--client", choices=("chromium", "protocol"), default="chromium",
                    help="chromium: real headless browsers (they draw every chart, on this machine's own cores); "
                         "protocol: Streamlit's WebSocket protocol, no drawing (bench/load/protocol_client.py)")
    ap.add_argument("--warmup-sessions", type=int, choices=(0, 1, 2), default=2,
                    help="sessions run alone before the load: 2 = a warm-up one, then the measured 'solo' one; "
                         "1 = only the solo one; 0 = none (a smoke test: the warm RSS is then the cold one)")
    ap.add_argument("--warm-seconds", type=float, default=5.0, help="idle RSS sampling after the warm-up sessions")
    ap.add_argument("--after-seconds", type=float, default=60.0, help="RSS sampling after every session closed")
    ap.add_argument("--max-seconds", type=float, default=1500.0, help="hard cap on the load phase")
    ap.add_argument("--port", type=int, help="use the server already listening on 127.0.0.1:PORT")
    ap.add_argument("--replicas", type=int, default=1,
                    help="start this many servers (NOISE_LAB_THREADS=1 each, server i pinned to CPU i mod the CPU "
                         "count) behind Debian's nginx with deploy/nginx.conf, and drive the proxy, as "
                         "deploy/run_replicas.sh and docs/DEPLOY.md run a whole machine; CPU and RSS are the "
                         "replicas' together")
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

    scenario, store_dir = LessonScenario(), None
    if args.scenario == "class":
        if args.port and not args.class_db:
            ap.error("--scenario class with --port needs --class-db: the store that server uses")
        if args.questions < 1 or not 0 <= args.change_mind <= 1:
            ap.error("--questions must be at least 1 and --change-mind a probability in [0, 1]")
        store_url = args.class_db or env.get("NOISE_LAB_CLASS_DB")
        if store_url is None:
            store_dir = tempfile.TemporaryDirectory(prefix="noise-lab-class-")
            store_url = f"sqlite:///{Path(store_dir.name) / 'classes.db'}"  # an absolute path: sqlite:////tmp/...
        if not args.port:
            env["NOISE_LAB_CLASS_DB"] = store_url
        try:
            scenario = ClassScenario(args, store_url)
        except ValueError as err:  # more questions than the lesson has
            ap.error(f"--questions: {err}")

    server, events, replicas = None, None, []
    if args.replicas > 1 and args.port:
        ap.error("--replicas starts its own servers; leave out --port")
    if args.replicas > 1:
        from devtools.nginx import nginx_in_front

        ncpu = os.cpu_count() or 1
        replicas = [LoadServer({"NOISE_LAB_THREADS": "1", **env}, args.server_flag, instrument=not args.no_instrument,
                               cpus={i % ncpu}) for i in range(args.replicas)]
        proxy = contextlib.ExitStack()
        base = f"http://127.0.0.1:{proxy.enter_context(nginx_in_front([r.port for r in replicas]))}"
        pid = [r.proc.pid for r in replicas]
        events = [r.events for r in replicas if r.events is not None] or None
        server_info = {"url": base, "pid": pid, "started_here": True, "replicas": [r.url for r in replicas],
                       "env": env, "flags": args.server_flag, "instrumented": events is not None,
                       "ready_after_s": round(max(r.ready_after_s for r in replicas), 2),
                       "log": [str(r.log) for r in replicas]}
    elif args.port:
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
    server_info["cpus"] = sorted(set().union(*(os.sched_getaffinity(p) for p in (pid if replicas else [pid]))))
    sampler = Sampler(pid)
    sampler.start()
    drive_out: dict = {}
    interrupted = False
    try:
        asyncio.run(drive(base, args, sampler, drive_out, scenario, [r.url for r in replicas] or None))
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
        if replicas:
            proxy.close()
            for r in replicas:
                r.stop()
        if store_dir is not None:
            store_dir.cleanup()
    if server is not None:
        server_info["log_tracebacks"] = server.log.read_text(errors="replace").count("Traceback")
    if replicas:
        server_info["log_tracebacks"] = sum(r.log.read_text(errors="replace").count("Traceback") for r in replicas)
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

