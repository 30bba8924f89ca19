"""Timing helpers shared by the benchmarks: percentiles of repeated runs, and the machine."""

from __future__ import annotations

import os
import platform
import time
from typing import Callable

import numpy as np


def summarize(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}


def time_it(fn: Callable[[], object], repeats: int = 20, warmup: int = 2, sync: Callable[[], None] | None = None) -> dict:
    """Run fn warmup + repeats times; percentiles of the timed runs (sync e.g. cuda.synchronize)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return summarize(times)


def machine_info(device: str = "cpu") -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    line = f"machine: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device == "cuda" and torch.cuda.is_available():
        line += f"; GPU {torch.cuda.get_device_name(0)}"
    return line
