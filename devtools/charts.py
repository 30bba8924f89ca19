"""The Plotly figures an AppTest run drew, as JSON dicts, and their arrays as numpy."""

from __future__ import annotations

import base64

import numpy as np


def chart_specs(at) -> list[dict]:
    """The Plotly figures an AppTest run drew, in page order, as JSON dicts."""
    from ui.live_chart import spec_of

    specs = [spec_of(el.proto) for el in [*at.get("bidi_component"), *at.get("plotly_chart")]]
    return [s for s in specs if s is not None]


def chart_by_title(at, part: str, trace_names: bool = False) -> dict:
    """The first figure an AppTest run drew whose title or subplot title contains `part` (with `trace_names`,
    also a trace's legend name)."""
    for fig in chart_specs(at):
        layout = fig["layout"]
        names = [a.get("text", "") for a in layout.get("annotations", [])]
        names.append(str(layout.get("title", {}).get("text", "")))
        if trace_names:
            names += [t.get("name") or "" for t in fig["data"]]
        if any(part in n for n in names):
            return fig
    raise AssertionError(f"no figure titled {part!r}")


def decoded(arr) -> np.ndarray:
    """A trace's array as numpy: Plotly sends numpy arrays as typed-array dicts ({"bdata": base64, "dtype"}),
    kept in their own dtype here; plain lists become float64."""
    if isinstance(arr, dict):
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"])
    return np.asarray(arr, dtype=float)
