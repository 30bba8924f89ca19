"""The one argument check the library repeats everywhere: an integer within a range, named in its error."""

from __future__ import annotations

import numpy as np


def check_int(name: str, value, low: int, high: int) -> int:
    """`value` as an int when it is an integer in [low, high] (a bool is not), else a ValueError that names
    the parameter and its range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{_number(low)}, {_number(high)}], got {value!r}")
    return int(value)


def _number(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
