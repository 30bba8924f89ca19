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
    """At most n holders at once across threads (sessions); the others wait in line, first come first served.

    A session joins the line once and keeps its place while it polls (a Streamlit page polls in short
    steps so that its Stop button still works), so a waiting viewer can be told where it stands.
    """

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or not TRAIN_SLOTS_RANGE[0] <= n <= TRAIN_SLOTS_RANGE[1]:
            raise ValueError(f"n must be an integer in [{TRAIN_SLOTS_RANGE[0]}, {TRAIN_SLOTS_RANGE[1]}], got {n!r}")
        self.n = n
        self._held = 0
        self._line: list[Place] = []
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """How many are in line for a slot now."""
        with self._changed:
            return len(self._line)

    def join(self) -> "Place":
        """Join the end of the line; take a slot with Place.take, and always call Place.leave."""
        place = Place(self)
        with self._changed:
            self._line.append(place)
        return place

    def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most `timeout` seconds in line; False if none came free."""
        place = self.join()
        try:
            return place.take(timeout)
        finally:
            place.leave()

    def release(self) -> None:
        with self._changed:
            if self._held == 0:
                raise ValueError("release() without a slot taken")
            self._held -= 1
            self._changed.notify_all()


class Place:
    """One waiter's place in a Slots line."""

    def __init__(self, slots: Slots):
        self._slots = slots

    @property
    def position(self) -> int:
        """1 for the first in line; 0 once this place has left the line (slot taken, or gave up)."""
        with self._slots._changed:
            line = self._slots._line
            return line.index(self) + 1 if self in line else 0

    def take(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds to be first in line with a slot free; take it and leave the line."""
        slots = self._slots
        with slots._changed:
            ready = slots._changed.wait_for(
                lambda: self in slots._line and slots._line[0] is self and slots._held < slots.n, timeout)
            if not ready:
                return False
            slots._line.remove(self)
            slots._held += 1
            slots._changed.notify_all()
            return True

    def leave(self) -> None:
        """Leave the line (if still in it), so those behind move up."""
        with self._slots._changed:
            if self in self._slots._line:
                self._slots._line.remove(self)
                self._slots._changed.notify_all()
