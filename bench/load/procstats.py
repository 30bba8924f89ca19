"""The server's process tree, read from /proc: RSS and CPU, sampled every second in a thread."""

from __future__ import annotations

import os
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


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


def tree_pids(root: int | list[int], table: dict) -> list[int]:
    """The process `root` and all its descendants; with a list of roots (replicas), all of their trees."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo, seen = (list(root) if isinstance(root, list) else [root]), []
    while todo:
        pid = todo.pop()
        if pid in table:
            seen.append(pid)
            todo.extend(children.get(pid, []))
    return seen


def tree_stats(root: int | list[int]) -> tuple[float, float, int]:
    """(RSS MB, CPU seconds, process count) of root and all its descendants."""
    table = _proc_table()
    seen = tree_pids(root, table)
    rss = sum(table[p][2] for p in seen) * PAGE_SIZE / 2**20
    cpu = sum(table[p][1] for p in seen) / TICK
    return rss, cpu, len(seen)


class TreeCpu:
    """CPU seconds a process tree used since the last call, counting processes that started in between
    and not losing what exited ones had used before (their last reading is kept)."""

    def __init__(self, root: int | list[int]):
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



class Sampler(threading.Thread):
    """Every `interval` s: the server tree's RSS and CPU %, the machine's CPU %, and the current phase."""

    def __init__(self, pid: int | list[int], interval: float = 1.0):
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
