"""Exports for slides and reports: a figure's data as CSV, figures as PNG / SVG, a zip "figure pack".

Images are rendered by Plotly's own exporter, Kaleido, which drives a headless Chromium (the one
Debian installs at /usr/bin/chromium). One Kaleido server is started per process and shared; a
lock serialises renders because sessions run in threads.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import os
import re
import threading
import zipfile
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

_render_lock = threading.Lock()
_server_started = False
RENDER_TIMEOUT_S = 30.0  # one image; a hung renderer must not hang the download
_renderer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido")


class ExportUnavailable(RuntimeError):
    """Raised when images cannot be rendered here (no Chromium for Kaleido)."""


def slug(text: str, max_len: int = 48) -> str:
    """A file-name-safe version of a figure title."""
    return (re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure")[:max_len]


def _column(values) -> list:
    if values is None:
        return []
    arr = np.asarray(values)
    return arr.ravel().tolist() if arr.ndim > 1 else list(arr.tolist())


def figure_csv(fig: go.Figure) -> str:
    """Every trace's data as one long CSV: trace, name, index, x, y, z (z flattened row by row).

    Plotly holds float32 arrays as they were given, so the CSV has the plotted values exactly.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trace", "name", "index", "x", "y", "z"])
    for i, trace in enumerate(fig.data):
        name = getattr(trace, "name", None) or f"trace {i}"
        x, y = _column(getattr(trace, "x", None)), _column(getattr(trace, "y", None))
        z = _column(getattr(trace, "z", None)) if hasattr(trace, "z") else []
        for j in range(max(len(x), len(y), len(z))):
            writer.writerow([i, name, j, x[j] if j < len(x) else "", y[j] if j < len(y) else "",
                             z[j] if j < len(z) else ""])
    return out.getvalue()


def _ensure_server() -> None:
    global _server_started
    if _server_started:
        return
    browser = os.environ.setdefault("BROWSER_PATH", "/usr/bin/chromium")
    if not os.path.exists(browser):
        raise ExportUnavailable(f"PNG/SVG export needs Chromium at {browser} (apt-get install -y chromium)")
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)
    _server_started = True


def figure_image(fig: go.Figure, fmt: str = "png", scale: float = 2.0) -> bytes:
    """The figure as PNG or SVG bytes, rendered by Plotly/Kaleido (scale 2 for sharp slides)."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be one of png, svg; got {fmt!r}")
    import plotly.io as pio

    def render() -> bytes:
        with _render_lock:
            _ensure_server()
            return pio.to_image(fig, format=fmt, scale=scale if fmt == "png" else 1)

    # Kaleido runs in its own worker thread, so it never touches the caller's event loop, and a
    # renderer that hangs is reported after RENDER_TIMEOUT_S instead of blocking the app.
    try:
        return _renderer.submit(render).result(timeout=RENDER_TIMEOUT_S)
    except concurrent.futures.TimeoutError as err:
        raise ExportUnavailable(f"rendering the image took longer than {RENDER_TIMEOUT_S:g} s") from err


def figure_pack(figures: Sequence[tuple[str, go.Figure, str]], link: str = "", extra: dict | None = None,
                images: bool = True) -> bytes:
    """A zip for slides: per figure its CSV, PNG and SVG, plus captions.txt with every caption and the
    link that reproduces the view. `extra` adds files (name -> bytes), e.g. the frames as GIF.
    Without Chromium the pack still holds the CSVs and says why the images are missing."""
    buffer = io.BytesIO()
    notes = [f"Noise Lab figure pack. Open this view again: {link}", ""]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, (title, fig, caption) in enumerate(figures, start=1):
            stem = f"{k:02d}_{slug(title)}"
            zf.writestr(f"{stem}.csv", figure_csv(fig))
            notes.append(f"{stem}: {title}. {caption}")
            if images:
                try:
                    zf.writestr(f"{stem}.png", figure_image(fig, "png"))
                    zf.writestr(f"{stem}.svg", figure_image(fig, "svg"))
                except ExportUnavailable as err:
                    notes.append(f"  (no images: {err})")
                    images = False
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        zf.writestr("captions.txt", "\n".join(notes) + "\n")
    return buffer.getvalue()
