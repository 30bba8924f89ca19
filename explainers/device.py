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


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or asked for and present), else CPU. NOISE_LAB_DEVICE=cpu forces CPU."""
    prefer = prefer or os.environ.get("NOISE_LAB_DEVICE")
    if prefer == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def describe(device: torch.device) -> str:
    """A one-line human name for the device, for the sidebar and the cost readout."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} torch thread{'s' if torch.get_num_threads() != 1 else ''})"
