"""Plotly figure builders: arrays in, `go.Figure` out. No widgets, no computation of science.

One colour-blind-safe palette (Okabe & Ito 2008) for the whole app. Arrays go to Plotly as
float32 to keep the page payload small. Non-finite values (log-SNR = -inf at zero terminal SNR)
are clipped to a floor and marked, never silently dropped.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import pandas  # noqa: F401  (see below)
import plotly.colors
import plotly.graph_objects as go

# Plotly looks pandas up lazily, through sys.modules, as it builds and serializes a figure (go.Figure's
# validators check for pandas types). On a server whose first sessions arrive together, a second script
# thread then found pandas there half imported (AttributeError: partially initialized module 'pandas';
# tests/test_load_test.py hit it, once in go.Figure and once in serialization). Imported here, with an
# import statement, before any figure is built, every thread waits until pandas is whole.

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CONTRAST_COLOR = "#D55E00"
GREY = "#7f7f7f"
# What a trace stands for, said by the caller, decides how it is drawn (never its label's text):
class Shown(NamedTuple):
    """A figure and the one-line caption under it, with the numbers it states formatted from the data."""

    figure: go.Figure
    caption: str


SERIES = "series"  # one of several alike curves: the next palette colour
CONTRAST = "contrast"  # the non-VP contrast to the VP schedules: always CONTRAST_COLOR
REFERENCE = "reference"  # the truth a result is judged against (the true video): grey, dotted
ROLES = (SERIES, CONTRAST, REFERENCE)
LOG_SNR_FLOOR = -20.0  # where -inf is drawn
FONT = dict(size=14)
SUBPLOT_TITLE_FONT = dict(size=16)  # what make_subplots gives subplot titles


def f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


BASE_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                   # Legend below the plot: above it, it collides with subplot titles.
                   legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))


def _colorscale(colors: Sequence[str]) -> list:
    """Evenly spaced [[position, colour], ...], as Plotly expands a named colour scale."""
    d = len(colors) - 1
    return [[i / d, c] for i, c in enumerate(colors)]


# Plotly.js does not know every plotly.py scale name ("gray" is Python-side only), so the
# validator used to expand them; unvalidated figures carry the expanded list themselves.
GRAY = _colorscale(plotly.colors.sequential.gray)
CIVIDIS = _colorscale(plotly.colors.sequential.Cividis)

# Figures are built as plain dicts (traces with a "type", one layout dict) instead of trace objects,
# make_subplots and add_* / update_* calls: Plotly's object machinery and per-property validation
# cost about ten times the time of the figure itself, and every widget change reruns the page.


def _grid(titles: Sequence[str], cols: int | None = None, rows: int = 1, hspace: float = 0.08,
          vspace: float = 0.16, title_font: dict | None = None) -> dict:
    """Layout entries for a rows x cols grid of subplots (xaxis, xaxis2, ... row by row from the top),
    titled like make_subplots: the same domains and title positions, to the last bit."""
    cols = cols or len(titles)
    for n, spacing, what in ((cols, hspace, "Horizontal"), (rows, vspace, "Vertical")):
        if n > 1 and spacing > 1 / (n - 1):  # make_subplots refuses these too: panels would overlap
            raise ValueError(f"{what} spacing {spacing} is too large for {n} subplots")
    w, h = (1.0 - hspace * (cols - 1)) / cols, (1.0 - vspace * (rows - 1)) / rows
    layout, titled = {}, []
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        up = rows - 1 - r  # rows counted from the bottom, as make_subplots lays them out
        x0 = sum([w] * c) + c * hspace
        y0 = min(max(sum([h] * up) + up * vspace, 0.0), 1.0)
        y1 = min(max(y0 + h, 0.0), 1.0)
        sx = "" if k == 0 else str(k + 1)
        layout[f"xaxis{sx}"] = dict(domain=[max(0.0, x0), min(1.0, x0 + w)], anchor=f"y{sx}")
        layout[f"yaxis{sx}"] = dict(domain=[y0, y1], anchor=f"x{sx}")
        if k < len(titles) and titles[k]:
            title = dict(text=titles[k], x=(x0 + (x0 + w)) / 2.0, y=y1, xref="paper", yref="paper",
                         xanchor="center", yanchor="bottom", showarrow=False)
            if title_font is not None:
                title["font"] = title_font
            titled.append(title)
    if titled:  # make_subplots writes no annotations when no panel has a title
        layout["annotations"] = titled
    return layout


def _on(i: int, explicit: bool = False) -> dict:
    """Trace keywords that put a trace on subplot i (1-based); `explicit` names x/y for subplot 1 too,
    as make_subplots does."""
    if i == 1 and not explicit:
        return {}
    sx = "" if i == 1 else str(i)
    return dict(xaxis=f"x{sx}", yaxis=f"y{sx}")


def _axis(layout: dict, kind: str, i: int, **props) -> None:
    layout.setdefault(f"{kind}axis{'' if i == 1 else i}", {}).update(props)


def _line(i: int, x: float | None = None, y: float | None = None, **style) -> dict:
    """A vertical (x=) or horizontal (y=) line across subplot i, as a layout shape."""
    sx = "" if i == 1 else str(i)
    if x is not None:
        return dict(type="line", xref=f"x{sx}", x0=x, x1=x, yref=f"y{sx} domain", y0=0, y1=1, line=style)
    return dict(type="line", yref=f"y{sx}", y0=y, y1=y, xref=f"x{sx} domain", x0=0, x1=1, line=style)


def _figure(traces: list, layout: dict, height: int, frames: list | None = None, **kw) -> go.Figure:
    # _validate=False skips Plotly's per-property validation of every trace and layout entry (most of
    # the cost of a figure); tests/test_figures_fast.py validates every builder's output instead.
    # Plotly validates `frames` regardless: it has no unvalidated path that keeps fig.frames usable.
    return go.Figure(data=traces, layout={**layout, **BASE_LAYOUT, "height": height, **kw}, frames=frames,
                     _validate=False)


def _role_color(role: str, i: int) -> str:
    """The colour of a trace with this role that is the i-th of its figure."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return {CONTRAST: CONTRAST_COLOR, REFERENCE: GREY}.get(role, PALETTE[i % len(PALETTE)])


def _role(entry: tuple, n_fields: int) -> str:
    """A series entry is its n_fields values, optionally followed by its role (SERIES when absent)."""
    return entry[n_fields] if len(entry) > n_fields else SERIES


def _nice_step(span: float, max_ticks: int = 8) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that puts at most max_ticks ticks on `span` units."""
    step, k = 1, 0
    while span / step > max_ticks:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return step


def index_ticks(n_max: float, n_min: float = 0, most: int = 8) -> dict:
    """Axis ticks for an index (t, frame n, step, iteration): whole numbers only, 1-2-5 spaced, so a student
    never reads a tick at frame 2.5."""
    return dict(tickmode="linear", tick0=0, dtick=_nice_step(max(float(n_max) - float(n_min), 1.0), most),
                tickformat="d")


def log_ticks(*values) -> dict:
    """A log axis whose labels read right. Plotly's default labels the ticks between decades with a bare
    digit, so a "2" just above "10" means 20 and reads as 2. Over a decade or more: powers of ten only;
    over less (or with no values to look at): every tick written as the full number."""
    v = np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in values] or [np.zeros(0)])
    v = v[np.isfinite(v) & (v > 0)]
    decades = np.log10(v.max()) - np.log10(v.min()) if v.size else 0.0
    if decades < 1:
        return dict(type="log", tickformat="~g")
    return dict(type="log", dtick=_nice_step(decades, max_ticks=6), exponentformat="power", showexponent="all")


def _index_axis(layout: dict, i: int, n: int, title: str = "t") -> None:
    _axis(layout, "x", i, title=dict(text=title), **index_ticks(n - 1))


def _log_axis(layout: dict, kind: str, i: int, *values) -> None:
    _axis(layout, kind, i, **log_ticks(*values))


def schedule_curves(t_axis: np.ndarray, series: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> go.Figure:
    """Figure 1: beta_t (left, log scale) and alpha-bar_t (right), one colour per (name, betas, abar)."""
    layout = _grid(("β_t: noise added at step t (log scale)", "ᾱ_t: signal kept after t steps"))
    traces = []
    for i, (name, betas, abar) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(betas), name=name, legendgroup=name,
                           line=dict(color=color)))
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(abar), name=name, legendgroup=name, showlegend=False,
                           line=dict(color=color), **_on(2)))
    _log_axis(layout, "y", 1, np.concatenate([np.ravel(b) for _, b, _ in series]) if series else [1.0])
    for i in (1, 2):
        _index_axis(layout, i, len(t_axis))
    return _figure(traces, layout, 380)


def variance_split(t_axis: np.ndarray, name: str, signal_var: np.ndarray, noise_var: np.ndarray,
                   contrast: tuple[str, np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """Figure 2: signal variance a^2 and noise variance b^2 stacked; for VP they fill exactly 1.

    The right panel draws the total a^2 + b^2 on a log axis, with the non-VP contrast when given.
    """
    layout = _grid((f"{name}: signal + noise variance", "total variance Var[x_t] (log scale)"))
    traces = [
        dict(type="scatter", x=f32(t_axis), y=f32(signal_var), name="signal variance ᾱ_t", stackgroup="v",
             line=dict(color=PALETTE[0])),
        dict(type="scatter", x=f32(t_axis), y=f32(noise_var), name="noise variance 1 − ᾱ_t", stackgroup="v",
             line=dict(color=PALETTE[1])),
        dict(type="scatter", x=f32(t_axis), y=f32(signal_var + noise_var), name=f"{name} (VP)",
             line=dict(color=PALETTE[2], width=3), **_on(2)),
    ]
    if contrast is not None:
        c_name, c_signal, c_noise = contrast
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(c_signal + c_noise), name=f"{c_name} (not VP)",
                           line=dict(color=CONTRAST_COLOR, width=3, dash="dash"), **_on(2)))
    _axis(layout, "y", 1, range=[0, 1.05])
    totals = [signal_var + noise_var] + ([contrast[1] + contrast[2]] if contrast is not None else [])
    _log_axis(layout, "y", 2, np.concatenate(totals))
    for i in (1, 2):
        _index_axis(layout, i, len(t_axis))
    return _figure(traces, layout, 380)


def clip_log_snr(log_snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace -inf (abar = 0) by the floor for drawing; return the clipped array and where it was."""
    clipped = np.where(np.isneginf(log_snr), LOG_SNR_FLOOR, log_snr)
    clipped = np.clip(np.nan_to_num(clipped, nan=LOG_SNR_FLOOR), LOG_SNR_FLOOR, -LOG_SNR_FLOOR)
    return clipped, np.isneginf(log_snr)


def snr_curves(t_axis: np.ndarray, series: Sequence[tuple]) -> go.Figure:
    """Figure 3: SNR (log axis) and log-SNR; -inf is drawn at the floor with a marked point.

    series: (name, log_snr) or (name, log_snr, role), role one of ROLES."""
    layout = _grid(("SNR_t = ᾱ/(1 − ᾱ) (log scale)", "log-SNR_t"))
    traces = []
    for i, (name, log_snr, *_) in enumerate(series):
        color = _role_color(_role(series[i], 2), i)
        clipped, was_inf = clip_log_snr(log_snr)
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(np.exp(clipped)), name=name, legendgroup=name,
                           line=dict(color=color)))
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(clipped), name=name, legendgroup=name,
                           showlegend=False, line=dict(color=color), **_on(2)))
        if was_inf.any():
            traces.append(dict(type="scatter", x=f32(t_axis[was_inf]), y=f32(clipped[was_inf]), mode="markers",
                               name=f"{name}: log-SNR = −∞ (drawn at {LOG_SNR_FLOOR:g})",
                               marker=dict(symbol="triangle-down", size=12, color=color), **_on(2)))
    _log_axis(layout, "y", 1, np.exp(np.concatenate([clip_log_snr(entry[1])[0] for entry in series]))
              if series else [1.0])
    for i in (1, 2):
        _index_axis(layout, i, len(t_axis))
    return _figure(traces, layout, 380)


def measured_vs_theory(t_axis: np.ndarray, theory: Sequence[tuple], points: Sequence[tuple],
                       log_y: bool = False) -> go.Figure:
    """Figure 4: theory lines of Var[x_t] and the variance measured on forward-noised samples.

    theory: (name, var[, role]); points: (name, t, measured[, role]), two rows of markers per theory
    line (2D points, image pixels), drawn in that line's colour. role: one of ROLES (default SERIES)."""
    symbols = ("circle", "square", "diamond", "cross", "x", "triangle-up")
    traces = []
    for i, (name, var, *_) in enumerate(theory):
        color = _role_color(_role(theory[i], 2), i)
        traces.append(dict(type="scatter", x=f32(t_axis), y=f32(var), name=f"theory: {name}", line=dict(color=color)))
    for j, (name, t, measured, *_) in enumerate(points):
        color = _role_color(_role(points[j], 3), j // 2)
        traces.append(dict(type="scatter", x=f32(t), y=f32(measured), mode="markers", name=f"measured: {name}",
                           marker=dict(color=color, symbol=symbols[j % len(symbols)], size=8,
                                       line=dict(width=1, color="white"))))
    layout = dict(yaxis=dict(title=dict(text="Var[x_t]")))
    _index_axis(layout, 1, len(t_axis))
    if log_y:
        _log_axis(layout, "y", 1, np.concatenate([np.ravel(v[1]) for v in theory] + [np.ravel(p[2]) for p in points]))
    return _figure(traces, layout, 320)


def scatter_2d(points: np.ndarray, title: str, reference: np.ndarray | None = None,
               limit: float = 4.0, reference_name: str = "clean data x₀") -> go.Figure:
    """A 2D point cloud, with faint reference points (e.g. the clean data) behind it."""
    traces = []
    if reference is not None:
        traces.append(dict(type="scattergl", x=f32(reference[:, 0]), y=f32(reference[:, 1]), mode="markers",
                           name=reference_name,
                           # a few centres are drawn large, a cloud of data points small
                           marker=dict(size=3 if len(reference) > 50 else 10, color="#bbbbbb")))
    traces.append(dict(type="scattergl", x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", name=title,
                       marker=dict(size=3, color=PALETTE[0], opacity=0.7)))
    limit = float(limit)  # a plain float, as Plotly's range validator would write it
    layout = dict(xaxis=dict(range=[-limit, limit], constrain="domain"),
                  yaxis=dict(range=[-limit, limit], scaleanchor="x", scaleratio=1))
    return _figure(traces, layout, 360, title=dict(text=title))


def image(img: np.ndarray, title: str, zmin: float = -3.0, zmax: float = 3.0) -> go.Figure:
    """A grayscale image on a fixed colour range, so added noise is seen as added noise."""
    trace = dict(type="heatmap", z=f32(img[::-1]), colorscale=GRAY, zmin=zmin, zmax=zmax, showscale=False)
    layout = dict(xaxis=dict(visible=False, constrain="domain"),
                  yaxis=dict(visible=False, scaleanchor="x", scaleratio=1))
    return _figure([trace], layout, 360, title=dict(text=title))


def generation_panels(panels: Sequence[tuple[str, np.ndarray]], density: tuple | None = None,
                      limit: float = 4.0, level: float | None = None) -> go.Figure:
    """Figure 6: generated 2D samples, one panel per schedule, over the true density's contours.

    With `level`, the true density is drawn as the one line log p = level (dark, on top of faint
    points), so it stays visible where the samples cover it; without, as grey shading underneath."""
    layout = _grid([title for title, _ in panels], hspace=0.04)
    limit = float(limit)  # a plain float, as Plotly's range validator would write it
    traces = []
    for i, (title, pts) in enumerate(panels, start=1):
        if density is not None and level is None:
            grid, logp = density
            traces.append(dict(type="contour", x=f32(grid), y=f32(grid), z=f32(np.exp(logp)), showscale=False,
                               colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(120,120,120,0.55)"]],
                               contours=dict(coloring="fill", showlines=False), hoverinfo="skip",
                               name="true density", showlegend=False, **_on(i)))
        traces.append(dict(type="scattergl", x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="markers", showlegend=False,
                           name=title, marker=dict(size=3, color=PALETTE[(i - 1) % len(PALETTE)],
                                                   opacity=0.45 if level is not None else 1.0), **_on(i)))
        if density is not None and level is not None:
            grid, logp = density
            traces.append(dict(type="contour", x=f32(grid), y=f32(grid), z=f32(logp), showscale=False,
                               autocontour=False, contours=dict(start=level, end=level, size=1.0, coloring="lines"),
                               colorscale=[[0, "#000000"], [1, "#000000"]], line=dict(width=1.5),
                               hoverinfo="skip", name="true data line", showlegend=False, **_on(i)))
        _axis(layout, "x", i, range=[-limit, limit], constrain="domain")
        _axis(layout, "y", i, range=[-limit, limit], scaleanchor=f"x{'' if i == 1 else i}")
    return _figure(traces, layout, 380)


def step_curve(x: np.ndarray, ys: Sequence[tuple[str, np.ndarray]], x_title: str, y_title: str,
               marker: float | None = None, log_y: bool = False) -> go.Figure:
    """A generic line plot of a few series over one axis, with an optional vertical marker."""
    traces = [dict(type="scatter", x=f32(x), y=f32(y), name=name, line=dict(color=PALETTE[i % len(PALETTE)]))
              for i, (name, y) in enumerate(ys)]
    layout = dict(xaxis=dict(title=dict(text=x_title)),
                  yaxis=dict(title=dict(text=y_title), **(log_ticks(*(y for _, y in ys)) if log_y else {})))
    if marker is not None:
        layout["shapes"] = [_line(1, x=marker, color=GREY, dash="dot")]
    return _figure(traces, layout, 300)


# ---------------------------------------------------------------------------------------------
# Backward noise initialization page
# ---------------------------------------------------------------------------------------------


def noise_level_matrices(panels: Sequence[tuple[str, np.ndarray]], max_frames: int = 32) -> go.Figure:
    """Frames (rows) x denoising-step slots (columns), coloured by the sigma of each model call.
    Blank cells are slots a frame skips. Shows the first `max_frames` frames."""
    layout = _grid([t for t, _ in panels], hspace=0.08, title_font=SUBPLOT_TITLE_FONT)
    traces = []
    for i, (title, matrix) in enumerate(panels, start=1):
        m = matrix[:max_frames]
        # object dtype: the text array as Plotly's validator would have stored it (same dict, same JSON)
        text = np.where(np.isnan(m), "", np.char.mod("%.3f", np.nan_to_num(m))).astype(object)
        traces.append(dict(type="heatmap", z=f32(m), x=[f"step {k}" for k in range(m.shape[1])], y=list(range(len(m))),
                           colorscale=CIVIDIS, zmin=0, zmax=1, text=text, texttemplate="%{text}",
                           showscale=i == len(panels), colorbar=dict(title=dict(text="σ")),
                           hovertemplate="frame %{y}, %{x}: σ = %{z:.4f}<extra></extra>", **_on(i, explicit=True)))
        _axis(layout, "y", i, autorange="reversed", **index_ticks(len(m) - 1, most=10))
    _axis(layout, "y", 1, title=dict(text="frame n"))
    return _figure(traces, layout, 120 + 18 * min(max_frames, len(panels[0][1])))


def _tile(frames: np.ndarray, gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """Frames (n, h, w) side by side in one image, separated by `gap` bright columns."""
    n, h, w = frames.shape
    out = np.full((h, n * (w + gap) - gap), fill, dtype=np.float32)
    for i, f in enumerate(frames):
        out[:, i * (w + gap): i * (w + gap) + w] = f
    return out


def frame_strips(rows: Sequence[tuple[str, np.ndarray]], frame_ids: Sequence[int]) -> go.Figure:
    """One strip of frames per row (e.g. per reading), the same frame indices in every row."""
    layout = _grid([t for t, _ in rows], cols=1, rows=len(rows), vspace=0.24, title_font=SUBPLOT_TITLE_FONT)
    traces = []
    for i, (_, frames) in enumerate(rows, start=1):
        traces.append(dict(type="heatmap", z=f32(_tile(frames[list(frame_ids)])[::-1]), colorscale=GRAY, zmin=-1,
                           zmax=1, showscale=False, hoverinfo="skip", **_on(i, explicit=True)))
        _axis(layout, "y", i, visible=False, scaleanchor=f"x{'' if i == 1 else i}")
        w = frames.shape[2] + 2
        _axis(layout, "x", i, tickvals=[w * j + w / 2 - 1 for j in range(len(frame_ids))],
              ticktext=[f"n={n}" for n in frame_ids])
    return _figure(traces, layout, 190 * len(rows) + 60)


def frames_animation(rows: Sequence[tuple[str, np.ndarray]], fps: float = 6.0) -> go.Figure:
    """A play / step animation of the frames, the rows side by side; nothing plays until asked."""
    names = " | ".join(t for t, _ in rows)
    n = len(rows[0][1])

    def image_at(k):
        return f32(_tile(np.stack([frames[k] for _, frames in rows]), gap=3)[::-1])

    trace = dict(type="heatmap", z=image_at(0), colorscale=GRAY, zmin=-1, zmax=1, showscale=False, hoverinfo="skip")
    frames = [dict(data=[dict(type="heatmap", z=image_at(k))], name=str(k)) for k in range(n)]
    layout = dict(
        updatemenus=[dict(type="buttons", x=0, y=-0.08, xanchor="left", direction="left", buttons=[
            dict(label="▶ Play", method="animate",
                 args=[None, dict(frame=dict(duration=1000 / fps, redraw=True), fromcurrent=True,
                                  transition=dict(duration=0))]),
            dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
        sliders=[dict(active=0, y=-0.02, currentvalue=dict(prefix="frame n = "), steps=[
            dict(label=str(k), method="animate",
                 args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True))]) for k in range(n)])],
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, scaleanchor="x"),
    )
    return _figure([trace], layout, 420, frames=frames, title=dict(text=names))


def per_frame_curves(frame_axis: np.ndarray, panels: Sequence[tuple[str, Sequence[tuple]]],
                     horizon: int) -> go.Figure:
    """Side-by-side metric panels over the rollout (one colour per reading), training horizon marked.

    Each panel: (title, [(name, y) or (name, y, role), ...]); REFERENCE (the true video) is grey and
    dotted. A name is in the legend once, where it first appears."""
    layout = _grid([t for t, _ in panels], hspace=0.07, title_font=SUBPLOT_TITLE_FONT)
    layout["shapes"] = []
    traces = []
    in_legend = set()
    for i, (_, series) in enumerate(panels, start=1):
        for j, (name, y, *_) in enumerate(series):
            role = _role(series[j], 2)
            traces.append(dict(type="scatter", x=f32(frame_axis), y=f32(y), name=name, legendgroup=name,
                               showlegend=name not in in_legend,
                               line=dict(color=_role_color(role, j), dash="dot" if role == REFERENCE else "solid"),
                               **_on(i, explicit=True)))
            in_legend.add(name)
        layout["shapes"].append(_line(i, x=horizon - 0.5, color=CONTRAST_COLOR, dash="dash"))
        _axis(layout, "x", i, title=dict(text="frame n"), **index_ticks(len(frame_axis) - 1, most=10))
    layout.setdefault("annotations", []).append(dict(x=horizon - 0.5, y=1.0, yref="paper", xref="x",
                                                     text="training horizon", showarrow=False, xanchor="left",
                                                     font=dict(color=CONTRAST_COLOR)))
    return _figure(traces, layout, 340)


def image_grid(rows: Sequence[tuple[str, np.ndarray]], col_labels: Sequence[str] | None = None,
               zmin: float = -1.0, zmax: float = 1.0) -> go.Figure:
    """Rows of frame strips with a title each (e.g. clean / re-noised / prediction)."""
    layout = _grid([t for t, _ in rows], cols=1, rows=len(rows), vspace=0.09, title_font=SUBPLOT_TITLE_FONT)
    traces = []
    for i, (_, frames) in enumerate(rows, start=1):
        traces.append(dict(type="heatmap", z=f32(_tile(np.clip(frames, zmin, zmax))[::-1]), colorscale=GRAY,
                           zmin=zmin, zmax=zmax, showscale=False, hoverinfo="skip", **_on(i, explicit=True)))
        _axis(layout, "y", i, visible=False, scaleanchor=f"x{'' if i == 1 else i}")
        _axis(layout, "x", i, visible=col_labels is not None and i == len(rows))
        if col_labels is not None:
            w = frames.shape[2] + 2
            _axis(layout, "x", i, tickvals=[w * j + w / 2 - 1 for j in range(len(col_labels))],
                  ticktext=list(col_labels))
    return _figure(traces, layout, 120 * len(rows) + 60)


# ---------------------------------------------------------------------------------------------
# Spectral normalization page
# ---------------------------------------------------------------------------------------------


def spectra_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], cols: int = 4) -> go.Figure:
    """Singular values of each layer, largest first: raw weight (grey) and after its mode (blue)."""
    rows = math.ceil(len(panels) / cols)
    layout = _grid([t for t, _, _ in panels], cols=cols, rows=rows, hspace=0.05, vspace=0.16,
                   title_font=SUBPLOT_TITLE_FONT)
    layout["shapes"] = []
    traces = []
    for i, (title, before, after) in enumerate(panels, start=1):
        idx = np.arange(1, len(before) + 1)
        traces.append(dict(type="scatter", x=idx, y=f32(before), name="raw weight", legendgroup="raw",
                           showlegend=i == 1, line=dict(color=GREY, dash="dash"), **_on(i, explicit=True)))
        traces.append(dict(type="scatter", x=idx, y=f32(after), name="after normalization", legendgroup="after",
                           showlegend=i == 1, line=dict(color=PALETTE[0]), **_on(i, explicit=True)))
        layout["shapes"].append(_line(i, y=1.0, color=CONTRAST_COLOR, width=1, dash="dot"))
        _axis(layout, "x", i, **index_ticks(len(before), 1))
    for i in range(1, rows * cols + 1):  # every cell of the grid, as update_yaxes did
        _axis(layout, "y", i, **log_ticks(*panels[i - 1][1:] if i <= len(panels) else ()))
    return _figure(traces, layout, 260 * rows + 40)


def power_trace(trace: np.ndarray, exact: float, layer: str) -> go.Figure:
    """Power-iteration estimate of sigma after each iteration, against the exact largest singular value."""
    it = np.arange(1, len(trace) + 1)
    traces = [
        dict(type="scatter", x=it, y=f32(trace), mode="lines+markers", name="power-iteration estimate",
             line=dict(color=PALETTE[0])),
        dict(type="scatter", x=[1, len(trace)], y=[float(exact), float(exact)], mode="lines",
             name=f"exact σ = {exact:.4f}", line=dict(color=CONTRAST_COLOR, dash="dash")),
    ]
    layout = dict(xaxis=dict(index_ticks(len(trace), 1), title=dict(text="iteration")),
                  yaxis=dict(title=dict(text=f"σ estimate ({layer})")))
    return _figure(traces, layout, 300)


def sigma_bars(layers: Sequence[str], before: Sequence[float], after: Sequence[float]) -> go.Figure:
    """Each layer's sigma, raw and after its mode, on a log axis with the line sigma = 1."""
    traces = [
        dict(type="bar", x=list(layers), y=f32(before), name="raw σ", marker=dict(color=GREY)),
        dict(type="bar", x=list(layers), y=f32(after), name="σ after normalization", marker=dict(color=PALETTE[0])),
    ]
    layout = dict(yaxis=dict(log_ticks(before, after), title=dict(text="largest singular value σ")),
                  shapes=[_line(1, y=1.0, color=CONTRAST_COLOR, dash="dot")])
    return _figure(traces, layout, 320, barmode="group")


def conv_norm_bars(layers: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> go.Figure:
    """Per conv layer: the sigmas SN uses next to the true operator norms and their upper bound."""
    traces = [dict(type="bar", x=list(layers), y=f32(vals), name=name, marker=dict(color=PALETTE[i % len(PALETTE)]))
              for i, (name, vals) in enumerate(series)]
    layout = dict(yaxis=dict(log_ticks(*(v for _, v in series)), title=dict(text="norm")))
    # One entry per line: the series names are long, and a wrapped horizontal legend loses its order.
    return _figure(traces, layout, 340 + 24 * len(series), barmode="group",
                   legend=dict(orientation="v", yanchor="top", y=-0.12, x=0))


def coverage_curve(steps: np.ndarray, modes_covered: np.ndarray, n_modes: int) -> go.Figure:
    """How many of the n_modes modes a run covers at each snapshot (a count, so whole-number ticks)."""
    trace = dict(type="scatter", x=f32(steps), y=f32(modes_covered), mode="lines+markers", name="modes covered",
                 line=dict(color=PALETTE[0]))
    layout = dict(xaxis=dict(index_ticks(max(float(np.max(steps)), 1.0)), title=dict(text="step")),
                  yaxis=dict(title=dict(text=f"modes covered (of {n_modes})"), range=[-0.3, n_modes + 0.3],
                             tickmode="linear", tick0=0, dtick=1 if n_modes <= 10 else 2))
    return _figure([trace], layout, 300)


def training_curves(steps: np.ndarray,
                    panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]], bool]]) -> go.Figure:
    """Small multiples over training steps: (title, [(series name, values)], log y). A panel with more
    than one series gets its own legend under it (Plotly's legend2, legend3, ...), so each line is named
    where it is drawn."""
    layout = _grid([t for t, _, _ in panels], hspace=0.06, title_font=SUBPLOT_TITLE_FONT)
    traces = []
    n_max = max(float(steps[-1]) if len(steps) else 1.0, 1.0)
    longest = max((len(series) for _, series, _ in panels), default=1)
    for i, (_, series, log_y) in enumerate(panels, start=1):
        named = len(series) > 1
        legend = f"legend{i + 1}"  # "legend" itself keeps BASE_LAYOUT's place, unused here
        for j, (name, y) in enumerate(series):
            traces.append(dict(type="scatter", x=f32(steps[: len(y)]), y=f32(y), name=name, showlegend=named,
                               legend=legend, line=dict(color=PALETTE[j % len(PALETTE)], width=1.5),
                               hovertemplate=f"{name}: %{{y:.3g}} at step %{{x}}<extra></extra>",
                               **_on(i, explicit=True)))
        if named:
            layout[legend] = dict(x=layout[f"xaxis{'' if i == 1 else i}"]["domain"][0], xanchor="left",
                                  y=-0.3, yanchor="top", orientation="v", font=dict(size=12))
        if log_y:
            _axis(layout, "y", i, **log_ticks(*(y for _, y in series)))
        _axis(layout, "x", i, title=dict(text="step"), **index_ticks(n_max))
    return _figure(traces, layout, 300 + 20 * longest, margin=dict(l=10, r=10, t=40, b=20 + 20 * longest))


def prediction_bars(labels: Sequence[str], counts: Sequence[int], title: str,
                    right: Sequence[bool] | None = None) -> go.Figure:
    """A class's predictions for one question: one bar per choice (or number bin), counts on the bars.
    After the reveal, `right` marks the bars that agree with the measured answer (blue; the rest grey)."""
    colors = [PALETTE[0] if right is None or ok else GREY for ok in (right or [True] * len(labels))]
    trace = dict(type="bar", x=list(labels), y=[int(c) for c in counts], marker=dict(color=colors),
                 text=[str(int(c)) for c in counts], textposition="outside", cliponaxis=False, name="students")
    top = max([int(c) for c in counts] + [1])
    layout = dict(title=dict(text=title), showlegend=False,
                  yaxis=dict(title=dict(text="students"), range=[0, top * 1.2 + 0.5], tickmode="linear", tick0=0,
                             dtick=max(1, math.ceil(top / 5))),
                  xaxis=dict(type="category", tickangle=0, automargin=True))
    return _figure([trace], layout, 300)


PINNED_OPACITY = 0.35  # A's traces under B's: visible, yet clearly behind
NOT_OVERLAID = ("heatmap", "image", "contour", "histogram2dcontour")  # a faded copy would hide B's picture


def with_pinned(fig: go.Figure, pinned: go.Figure) -> go.Figure:
    """`fig` (the current view, B) with `pinned`'s traces (view A) drawn first, underneath: faded, lines
    dotted, names starting "A: ", on the same axes. Pictures (heatmaps, images) and animations keep B only."""
    if fig.frames or pinned.frames:
        return fig
    faded = []
    for trace in pinned.data:
        t = trace.to_plotly_json()
        if t.get("type") in NOT_OVERLAID:
            continue
        t.update(opacity=PINNED_OPACITY, name=f"A: {t.get('name') or t.get('type')}", legendgroup="pinned A",
                 hoverinfo="skip")
        if t.get("type") == "scatter" and "lines" in (t.get("mode") or "lines"):
            t["line"] = {**(t.get("line") or {}), "dash": "dot"}
        faded.append(t)
    if not faded:
        return fig
    return go.Figure(data=[*faded, *(t.to_plotly_json() for t in fig.data)], layout=fig.layout, _validate=False)


def frequency_power(freqs: np.ndarray, series: Sequence[tuple[str, np.ndarray, float, float | None, str]],
                    t: int) -> go.Figure:
    """The image's signal power per frequency against the noise's, at step t, log-log.

    series: (name, signal power a²P(k), noise power b² (flat), crossover k* or None, role) per schedule;
    the signal is solid, the noise dashed in the same colour, k* a dotted vertical line."""
    traces, shapes = [], []
    for i, (name, signal, noise, cross, role) in enumerate(series):
        color = _role_color(role, i)
        traces.append(dict(type="scatter", x=f32(freqs), y=f32(signal), mode="lines+markers", name=f"{name}: image",
                           line=dict(color=color), marker=dict(size=4)))
        traces.append(dict(type="scatter", x=f32(freqs[[0, -1]]), y=f32([noise, noise]), mode="lines",
                           name=f"{name}: noise", line=dict(color=color, dash="dash")))
        if cross is not None:
            shapes.append(_line(1, x=float(cross), color=color, dash="dot", width=2))
    powers = [s for _, s, _, _, _ in series] + [[n] for _, _, n, _, _ in series]
    layout = dict(title=dict(text=f"Power per frequency at t = {t}"), shapes=shapes,
                  xaxis=dict(log_ticks(freqs), title=dict(text="frequency k (cycles per image)")),
                  yaxis=dict(log_ticks(*powers), title=dict(text="power")))
    return _figure(traces, layout, 340)


ARROW_POINTS = 6  # tail, head, one barb, head, the other barb, a gap


def _arrows(x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[list, list]:
    """Arrows as one polyline with gaps (a quiver plot): each drawn tail → head → barb → head → barb.
    Lines only: per-point marker symbols made the chart cost the browser three times as much to draw."""
    hx, hy = x + u, y + v
    barbs = []
    for angle in (2.6, -2.6):  # each barb points back from the head, about 30° off the shaft, a third as long
        c, s = math.cos(angle), math.sin(angle)
        barbs.append((hx + 0.3 * (c * u - s * v), hy + 0.3 * (s * u + c * v)))
    gap = np.full_like(x, np.nan)
    xs = np.stack([x, hx, barbs[0][0], hx, barbs[1][0], gap], axis=1).ravel()
    ys = np.stack([y, hy, barbs[0][1], hy, barbs[1][1], gap], axis=1).ravel()
    return f32(xs), f32(ys)


def score_fields(x: np.ndarray, y: np.ndarray, fields: Sequence[tuple[str, np.ndarray, str]],
                 heat: tuple[np.ndarray, np.ndarray], heat_title: str, limit: float) -> go.Figure:
    """Score fields as arrows on a grid (all scaled alike), over a heatmap (e.g. the model's error).

    fields: (name, vectors (n, 2) already scaled to plot units, role) per field; heat: (grid, values) with
    values[i, j] at (grid[j], grid[i])."""
    grid, values = heat
    # A light scale (white to Okabe-Ito orange), so both sets of arrows stay visible on top of it.
    traces = [dict(type="heatmap", x=f32(grid), y=f32(grid), z=f32(values), colorscale=[[0, "#ffffff"], [1, PALETTE[1]]],
                   name=heat_title,
                   colorbar=dict(title=dict(text=heat_title, side="right"), thickness=12), hoverinfo="skip")]
    n_series = 0
    for name, vec, role in fields:
        ax, ay = _arrows(x, y, vec[:, 0], vec[:, 1])
        color = _role_color(role, n_series)  # the first series field takes the first palette colour
        n_series += role == SERIES
        traces.append(dict(type="scatter", x=ax, y=ay, mode="lines", name=name, connectgaps=False, hoverinfo="skip",
                           line=dict(color=color, width=1.5 if role == SERIES else 3.5)))  # the reference wider, under
    layout = dict(xaxis=dict(range=[-limit, limit], constrain="domain", title=dict(text="x₁")),
                  yaxis=dict(range=[-limit, limit], scaleanchor="x", title=dict(text="x₂")))
    return _figure(traces, layout, 460)


def step_rug(rows: Sequence[tuple[str, np.ndarray, str]]) -> go.Figure:
    """Where a sampler's steps fall in log-SNR, one row of ticks per schedule, its score written beside it.

    rows: (schedule name, log-SNR of every level the sampler visits (−∞ drawn at LOG_SNR_FLOOR), score text)."""
    traces = []
    for i, (name, log_snr, score) in enumerate(rows):
        x = np.maximum(np.asarray(log_snr, dtype=np.float64), LOG_SNR_FLOOR)
        traces.append(dict(type="scatter", x=f32(x), y=f32(np.full(len(x), i)), mode="markers", name=name,
                           marker=dict(symbol="line-ns-open", size=18, line=dict(width=2),
                                       color=PALETTE[i % len(PALETTE)]), showlegend=False,
                           hovertemplate="log-SNR %{x:.2f}<extra>" + name + "</extra>"))
    layout = dict(
        xaxis=dict(title=dict(text="log-SNR of each level the sampler visits (noisy ← → clean)")),
        yaxis=dict(tickmode="array", tickvals=list(range(len(rows))), ticktext=[f"{n}<br>{s}" for n, _, s in rows],
                   range=[-0.6, len(rows) - 0.4], automargin=True),
        showlegend=False)
    return _figure(traces, layout, 110 + 60 * len(rows))


# D(x): Okabe-Ito blue for "fake" (negative), white at 0, vermillion for "real" (positive).
D_SCALE = [[0.0, PALETTE[0]], [0.5, "#f7f7f7"], [1.0, CONTRAST_COLOR]]


def discriminator_surface(grid: np.ndarray, surface: np.ndarray, samples: np.ndarray, centres: np.ndarray,
                          title: str) -> go.Figure:
    """The discriminator's score D(x) over the plane (heatmap; high = "real"), the generator's samples on it
    and the true modes: where D is flat, its gradient gives G nothing to follow."""
    limit = float(np.max(np.abs(grid)))
    z = np.asarray(surface, dtype=np.float64)
    span = float(np.max(np.abs(z))) or 1.0
    traces = [
        dict(type="heatmap", x=f32(grid), y=f32(grid), z=f32(z), colorscale=D_SCALE, zmid=0.0, zmin=-span, zmax=span,
             colorbar=dict(title=dict(text="D(x)", side="right"), thickness=12), name="D(x)", hoverinfo="skip"),
        dict(type="scattergl", x=f32(samples[:, 0]), y=f32(samples[:, 1]), mode="markers", name="generated",
             marker=dict(size=3, color="#000000", opacity=0.5)),
        dict(type="scatter", x=f32(centres[:, 0]), y=f32(centres[:, 1]), mode="markers", name="true modes",
             marker=dict(size=11, symbol="circle-open", color=CONTRAST_COLOR, line=dict(width=2))),
    ]
    layout = dict(title=dict(text=title), xaxis=dict(range=[-limit, limit], constrain="domain"),
                  yaxis=dict(range=[-limit, limit], scaleanchor="x"))
    return _figure(traces, layout, 420)
