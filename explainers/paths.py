"""Where the shipped checkpoints live. NOISE_LAB_CHECKPOINTS points elsewhere (tests of a missing or
corrupt checkpoint use it; a deployment can keep retrained weights outside the code)."""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def checkpoint_dir() -> Path:
    return Path(os.environ.get("NOISE_LAB_CHECKPOINTS", SHIPPED))
