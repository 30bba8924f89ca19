"""Where the models run, and how many CPU threads each computation may use.

One server serves many students at once on few cores. Letting every request spread over all
cores makes them fight each other, so torch gets a small fixed number of threads, chosen once.
"""

from __future__ import annotations

import os

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
