"""Where the models run, and how many CPU threads each computation may use.

One server serves many students at once on few cores. Letting every request spread over all
cores makes them fight each other, so torch gets a small fixed number of threads, chosen once.
"""

from __future__ import annotations

import os
import threading

import torch

_configured = False


def configure_threads(n_threads: int | None = None) -> int:
    """Set torch's intra-op threads once per process (NOISE_LAB_THREADS overrides); return it."""
    global _configured
    if not _configured:
        wanted = n_threads or int(os.environ.get("NOISE_LAB_THREADS", "1"))
        torch.set_num_threads(max(1, wanted))
        _configured = True
    return torch.get_num_threads()


def pick_device(prefer: str | None = None) -> tuple[torch.device, str | None]:
    """CUDA when present, else CPU; and a notice when what was asked for cannot be had.

    NOISE_LAB_DEVICE=cpu forces the CPU; NOISE_LAB_DEVICE=cuda on a machine without CUDA falls
    back to the CPU with a notice instead of failing.
    """
    prefer = (prefer or os.environ.get("NOISE_LAB_DEVICE") or "auto").lower()
    if prefer not in ("auto", "cpu", "cuda"):
        return torch.device("cpu"), f"NOISE_LAB_DEVICE must be auto, cpu or cuda; got {prefer!r}, so the CPU is used."
    if prefer == "cpu":
        return torch.device("cpu"), None
    if torch.cuda.is_available():
        return torch.device("cuda"), None
    note = "CUDA was asked for but is not available here, so everything runs on the CPU." if prefer == "cuda" else None
    return torch.device("cpu"), note


def is_out_of_memory(err: BaseException) -> bool:
    """True for a CUDA out-of-memory error (the one failure that a CPU retry fixes)."""
    return isinstance(err, torch.cuda.OutOfMemoryError) or "CUDA out of memory" in str(err)


def describe(device: torch.device) -> str:
    """A one-line human name for the device, for the sidebar and the cost readout."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} torch thread{'s' if torch.get_num_threads() != 1 else ''})"


TRAIN_SLOTS_RANGE = (1, 64)


def training_slots_wanted() -> tuple[int, str | None]:
    """How many live training runs may run at once in this server process: NOISE_LAB_TRAIN_SLOTS, by
    default half the CPU cores (at least 1). Training loops of small models hold Python's GIL much of
    the time, so a few of them at once slow every other session's reruns; the rest wait their turn.
    Returns (slots, a notice when the variable was invalid and the default is used)."""
    default = max(1, (os.cpu_count() or 2) // 2)
    raw = os.environ.get("NOISE_LAB_TRAIN_SLOTS")
    if raw is None:
        return default, None
    low, high = TRAIN_SLOTS_RANGE
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not low <= value <= high:
        return default, (f"NOISE_LAB_TRAIN_SLOTS must be an integer in [{low}, {high}]; got {raw!r}, "
                         f"so {default} is used.")
    return value, None


class Slots:
    """At most n holders at once across threads (sessions), with a count of who is waiting."""

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or not TRAIN_SLOTS_RANGE[0] <= n <= TRAIN_SLOTS_RANGE[1]:
            raise ValueError(f"n must be an integer in [{TRAIN_SLOTS_RANGE[0]}, {TRAIN_SLOTS_RANGE[1]}], got {n!r}")
        self.n = n
        self._free = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self.waiting = 0

    def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most `timeout` seconds; False if none came free."""
        with self._lock:
            self.waiting += 1
        try:
            return self._free.acquire(timeout=timeout)
        finally:
            with self._lock:
                self.waiting -= 1

    def release(self) -> None:
        self._free.release()

