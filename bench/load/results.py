"""The figures of a load run: percentiles, the verdict against the budget, and the printed report."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from bench.load.app_server import server_latencies
from bench.load.lesson import PAGES
from bench.load.procstats import Sampler

BUDGET = {"sessions": 30, "errors": 0, "p95_s": 1.5, "rss_after_over_warm": 1.10}
CLASS_INTERACTIONS = ("nav", "next", "pick", "submit")  # what a student of the class scenario does
CLASS_TIMERS = ("poll", "refresh")  # the fragments' own reruns: a student's panel, the presenter's histogram
# The headline figures' keys in the result, by scenario (the lesson's keys are older than the class scenario).
HEADLINES = {
    "lesson": {"client": "interactions_except_train", "server": "requests_except_train",
               "solo_client": "browser_except_train", "solo_server": "server_except_train"},
    "class": {"client": "interactions", "server": "interactions", "solo_client": "client_interactions",
              "solo_server": "server_interactions"},
}


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
    scenario = getattr(args, "scenario", "lesson")
    names = HEADLINES[scenario]

    def browser(sel, rows=timings) -> dict:
        return pct([t["s"] for t in rows if sel(t)])

    def server(sel, rows=srv) -> dict:
        chosen = [r for r in rows if sel(r)]
        return {**pct([r["s"] for r in chosen]), "script_cpu_s_mean": round(float(np.mean([r["cpu_s"] for r in chosen])), 3)
                if chosen else None}

    def kind(*kinds):
        return lambda t: t["kind"] in kinds

    if scenario == "class":
        klass = drive_out.get("class", {})
        counted = server_counted = interactions = kind(*CLASS_INTERACTIONS)
        expected = klass.get("interactions_expected", 0)
        client_latency = {names["client"]: browser(counted), **{k: browser(kind(k)) for k in CLASS_INTERACTIONS},
                          "poll (students' panels, timer)": browser(kind("poll")),
                          "refresh (presenter's histogram)": browser(kind("refresh"))}
        server_kinds = (*CLASS_INTERACTIONS, "auto", "other")
    else:
        klass = None
        counted = server_counted = lambda t: t["kind"] != "train"  # noqa: E731
        interactions = lambda t: True  # noqa: E731  (the Train click is one, reported apart)
        expected = args.sessions * (len(PAGES) * (1 + args.next_clicks) + (1 if args.train_steps else 0))
        client_latency = {names["client"]: browser(counted), "all": browser(lambda t: True),
                          **{k: browser(kind(k)) for k in ("nav", "next", "train")},
                          **{f"{k} {p}": browser(lambda t, k=k, p=p: t["kind"] == k and t["what"].startswith(p))
                             for k in ("nav", "next") for p in PAGES}}
        server_kinds = ("nav", "next", "train", "other")
    measured = sum(1 for t in timings if interactions(t))
    solo = drive_out["solo"]["timings"]
    warm = [s["rss_mb"] for s in sampler.of("warm")]
    load, after = sampler.of("load"), sampler.of("after")
    rss_warm = float(np.median(warm)) if warm else float("nan")
    rss_peak = max(s["rss_mb"] for s in sampler.samples)
    rss_after = after[-1]["rss_mb"] if after else float("nan")
    errors = drive_out["errors"]
    result = {
        "machine": machine_line(), "date": time.strftime("%Y-%m-%d %H:%M"), "scenario": scenario,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "server": server_info, "budget": BUDGET, "headline": names,
        "browser_latency": client_latency,
        "server_latency": {names["server"]: server(server_counted), "all": server(lambda r: True),
                           **{k: server(kind(k)) for k in server_kinds}},
        "solo_session": {names["solo_client"]: browser(counted, solo),
                         names["solo_server"]: server(server_counted, srv_solo),
                         "train_browser_s": [round(t["s"], 2) for t in solo if t["kind"] == "train"],
                         "server_cpu_s": drive_out["solo"]["server_cpu_s"], "wall_s": drive_out["solo"]["s"],
                         "interactions": sum(1 for t in solo if interactions(t))},
        "server_cpu_s": {"solo_session": drive_out["solo"]["server_cpu_s"], "load_phase": drive_out["load"]["server_cpu_s"],
                         "per_session_under_load": round(drive_out["load"]["server_cpu_s"] / max(1, args.sessions), 2)},
        "interactions_expected": expected, "interactions_measured": measured,
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
            "clients_cpu_s_per_interaction": round(sum(s["client_cpu_pct"] for s in load) / 100 / max(1, measured), 2),
            "server_cpu_s_per_interaction": round(sum(s["server_cpu_pct"] for s in load) / 100 / max(1, measured), 2)},
        "load_s": drive_out["load"]["s"], "warmup": drive_out["warmup"], "solo": drive_out["solo"],
        "warmup_presenter_errors": drive_out.get("warmup_presenter_errors", []),
        "error_list": errors[:50], "timings": timings, "server_requests": srv, "samples": sampler.samples,
    }
    p95 = result["browser_latency"][names["client"]].get("p95_s", float("inf"))
    result["verdict"] = {
        "errors": "met" if not errors and measured == expected else "missed",
        "p95_browser": "met" if p95 <= BUDGET["p95_s"] else "missed",
        "p95_server": ("met" if result["server_latency"][names["server"]].get("p95_s", 1e9) <= BUDGET["p95_s"]
                       else "missed") if srv else "not measured",
        "rss": "met" if result["rss_mb"]["after_over_warm"] <= BUDGET["rss_after_over_warm"] else "missed",
    }
    if klass is not None:
        result["class"] = klass
        tallies_equal = all(t["equal"] for t in klass.get("tallies", {}).values())
        result["verdict"]["predictions"] = ("met" if klass and klass["lost"] == 0 and klass["mismatched"] == 0
                                            and tallies_equal and klass["predictions_expected"] > 0 else "missed")
    return result


def report(r: dict) -> None:
    s = r["settings"]
    names = r["headline"]
    protocol = s.get("client") == "protocol"
    klass = r["scenario"] == "class"
    who = "client" if protocol else "browser"
    print(f"\nmachine: {r['machine']}")
    print(f"server: {r['server']}")
    clients = ("Streamlit WebSocket protocol clients (no drawing)" if protocol
               else f"{s['browsers']} Chromium processes")
    if klass:
        print(f"one presenter and {s['sessions']} students in one class over {clients}, ramp {s['ramp_seconds']} s, "
              f"{s['questions']} question(s), change of mind {s['change_mind']:.0%}, think {s['think_seconds']} s "
              f"(x0.5-1.5); load phase {r['load_s']} s")
    else:
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
    if klass:
        print(f"one student alone (with the presenter), after a warm-up one: {so['interactions']} interactions in "
              f"{so['wall_s']} s, server CPU {so['server_cpu_s']} s")
        print(line(f"alone, {who}", so[names["solo_client"]]))
        print(line("alone, server", so[names["solo_server"]]))
    else:
        print(f"one session alone, after a warm-up session: {so['interactions']} interactions in {so['wall_s']} s, "
              f"server CPU {so['server_cpu_s']} s, Train {so['train_browser_s']} s")
        print(line(f"alone, {who}, except Train", so[names["solo_client"]]))
        print(line("alone, server, except Train", so[names["solo_server"]]))
    if klass and protocol:
        print("under load, client (request sent -> the run that answers it finished; submit: the run that shows the "
              "answer; poll/refresh: a timer's request -> the next fragment run's end):")
    else:
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
    if klass:
        c = r["class"]
        tallies = ", ".join(f"{q} {t['stored_n']} of {t['expected_n']}{'' if t['equal'] else ' (tally differs)'}"
                            for q, t in c.get("tallies", {}).items())
        print(f"class {c.get('code')}: predictions expected {c.get('predictions_expected')} (each student's last "
              f"answer), lost {c.get('lost')}, mismatched {c.get('mismatched')}; stored: {tallies}")
        for bad in (c.get("lost_list") or [])[:3] + (c.get("mismatched_list") or [])[:3]:
            print(f"  {bad}")
        pr = c.get("presenter") or {}
        after = pr.get("counted_all_after_s")
        print(f"presenter: {pr.get('refreshes')} histogram refreshes; it showed {pr.get('caption_wanted')!r} "
              + (f"{after} s after the last student's first prediction was sent" if after is not None
                 else "in the end"))
    if r["warmup_presenter_errors"]:
        print(f"  warm-up presenter errors: {r['warmup_presenter_errors'][:3]}")
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
          f"server {v['p95_server']}; RSS after <= {BUDGET['rss_after_over_warm']} x warm -> {v['rss']}"
          + (f"; no prediction lost -> {v['predictions']}" if klass else ""))
