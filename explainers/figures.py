"""Plotly figure builders: arrays in, `go.Figure` out. No widgets, no computation of science.

One colour-blind-safe palette (Okabe & Ito 2008) for the whole app. Arrays go to Plotly as
float32 to keep the page payload small. Non-finite values (log-SNR = -inf at zero terminal SNR)
are clipped to a floor and marked, never silently dropped.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CONTRAST_COLOR = "#D55E00"
GREY = "#7f7f7f"
LOG_SNR_FLOOR = -20.0  # where -inf is drawn
FONT = dict(size=14)


def f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


BASE_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                   # Legend below the plot: above it, it collides with subplot titles.
                   legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))


def _layout(fig: go.Figure, height: int = 340, **kw) -> go.Figure:
    fig.update_layout(height=height, **BASE_LAYOUT, **kw)
    return fig


# Building the layout as one dict is about 8x faster than make_subplots + update_* calls, which
# matters when every slider move rebuilds the page's figures.


def _grid(titles: Sequence[str], cols: int | None = None, rows: int = 1, hspace: float = 0.08,
          vspace: float = 0.16) -> dict:
    """Layout entries for a rows x cols grid of subplots (xaxis, xaxis2, ...), titled like make_subplots."""
    cols = cols or len(titles)
    w, h = (1 - hspace * (cols - 1)) / cols, (1 - vspace * (rows - 1)) / rows
    layout = {"annotations": []}
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        sx = "" if k == 0 else str(k + 1)
        x0, y1 = c * (w + hspace), 1 - r * (h + vspace)
        layout[f"xaxis{sx}"] = dict(domain=[x0, x0 + w], anchor=f"y{sx}")
        layout[f"yaxis{sx}"] = dict(domain=[y1 - h, y1], anchor=f"x{sx}")
        if k < len(titles):
            layout["annotations"].append(dict(text=titles[k], x=x0 + w / 2, y=y1, xref="paper", yref="paper",
                                              xanchor="center", yanchor="bottom", showarrow=False))
    return layout


def _on(i: int) -> dict:
    """Trace keywords that put a trace on subplot i (1-based)."""
    return {} if i == 1 else dict(xaxis=f"x{i}", yaxis=f"y{i}")


def _axis(layout: dict, kind: str, i: int, **props) -> None:
    layout[f"{kind}axis{'' if i == 1 else i}"].update(props)


def _line(i: int, x: float | None = None, y: float | None = None, **style) -> dict:
    """A vertical (x=) or horizontal (y=) line across subplot i, as a layout shape."""
    sx = "" if i == 1 else str(i)
    if x is not None:
        return dict(type="line", xref=f"x{sx}", x0=x, x1=x, yref=f"y{sx} domain", y0=0, y1=1, line=style)
    return dict(type="line", yref=f"y{sx}", y0=y, y1=y, xref=f"x{sx} domain", x0=0, x1=1, line=style)


def _figure(traces: list, layout: dict, height: int, **kw) -> go.Figure:
    return go.Figure(data=traces, layout={**layout, **BASE_LAYOUT, "height": height, **kw})


def schedule_curves(t_axis: np.ndarray, series: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> go.Figure:
    """Figure 1: beta_t (left, log scale) and alpha-bar_t (right), one colour per (name, betas, abar)."""
    layout = _grid(("β_t: noise added at step t (log scale)", "ᾱ_t: signal kept after t steps"))
    traces = []
    for i, (name, betas, abar) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        traces.append(go.Scatter(x=f32(t_axis), y=f32(betas), name=name, legendgroup=name, line=dict(color=color)))
        traces.append(go.Scatter(x=f32(t_axis), y=f32(abar), name=name, legendgroup=name, showlegend=False,
                                 line=dict(color=color), **_on(2)))
    _axis(layout, "y", 1, type="log")
    for i in (1, 2):
        _axis(layout, "x", i, title=dict(text="t"))
    return _figure(traces, layout, 380)


def variance_split(t_axis: np.ndarray, name: str, signal_var: np.ndarray, noise_var: np.ndarray,
                   contrast: tuple[str, np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """Figure 2: signal variance a^2 and noise variance b^2 stacked; for VP they fill exactly 1.

    The right panel draws the total a^2 + b^2 on a log axis, with the non-VP contrast when given.
    """
    layout = _grid((f"{name}: signal + noise variance", "total variance Var[x_t] (log scale)"))
    traces = [
        go.Scatter(x=f32(t_axis), y=f32(signal_var), name="signal variance ᾱ_t", stackgroup="v",
                   line=dict(color=PALETTE[0])),
        go.Scatter(x=f32(t_axis), y=f32(noise_var), name="noise variance 1 − ᾱ_t", stackgroup="v",
                   line=dict(color=PALETTE[1])),
        go.Scatter(x=f32(t_axis), y=f32(signal_var + noise_var), name=f"{name} (VP)",
                   line=dict(color=PALETTE[2], width=3), **_on(2)),
    ]
    if contrast is not None:
        c_name, c_signal, c_noise = contrast
        traces.append(go.Scatter(x=f32(t_axis), y=f32(c_signal + c_noise), name=f"{c_name} (not VP)",
                                 line=dict(color=CONTRAST_COLOR, width=3, dash="dash"), **_on(2)))
    _axis(layout, "y", 1, range=[0, 1.05])
    _axis(layout, "y", 2, type="log")
    for i in (1, 2):
        _axis(layout, "x", i, title=dict(text="t"))
    return _figure(traces, layout, 380)


def clip_log_snr(log_snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace -inf (abar = 0) by the floor for drawing; return the clipped array and where it was."""
    clipped = np.where(np.isneginf(log_snr), LOG_SNR_FLOOR, log_snr)
    clipped = np.clip(np.nan_to_num(clipped, nan=LOG_SNR_FLOOR), LOG_SNR_FLOOR, -LOG_SNR_FLOOR)
    return clipped, np.isneginf(log_snr)


def snr_curves(t_axis: np.ndarray, series: Sequence[tuple[str, np.ndarray]]) -> go.Figure:
    """Figure 3: SNR (log axis) and log-SNR; -inf is drawn at the floor with a marked point."""
    layout = _grid(("SNR_t = ᾱ/(1 − ᾱ) (log scale)", "log-SNR_t"))
    traces = []
    for i, (name, log_snr) in enumerate(series):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[i % len(PALETTE)]
        clipped, was_inf = clip_log_snr(log_snr)
        traces.append(go.Scatter(x=f32(t_axis), y=f32(np.exp(clipped)), name=name, legendgroup=name,
                                 line=dict(color=color)))
        traces.append(go.Scatter(x=f32(t_axis), y=f32(clipped), name=name, legendgroup=name, showlegend=False,
                                 line=dict(color=color), **_on(2)))
        if was_inf.any():
            traces.append(go.Scatter(x=f32(t_axis[was_inf]), y=f32(clipped[was_inf]), mode="markers",
                                     name=f"{name}: log-SNR = −∞ (drawn at {LOG_SNR_FLOOR:g})",
                                     marker=dict(symbol="triangle-down", size=12, color=color), **_on(2)))
    _axis(layout, "y", 1, type="log")
    for i in (1, 2):
        _axis(layout, "x", i, title=dict(text="t"))
    return _figure(traces, layout, 380)


def measured_vs_theory(t_axis: np.ndarray, theory: Sequence[tuple[str, np.ndarray]],
                       points: Sequence[tuple[str, np.ndarray, np.ndarray]], log_y: bool = False) -> go.Figure:
    """Figure 4: theory lines of Var[x_t] and the variance measured on forward-noised samples."""
    symbols = ("circle", "square", "diamond", "cross", "x", "triangle-up")
    traces = []
    for i, (name, var) in enumerate(theory):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[i % len(PALETTE)]
        traces.append(go.Scatter(x=f32(t_axis), y=f32(var), name=f"theory: {name}", line=dict(color=color)))
    for j, (name, t, measured) in enumerate(points):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[(j // 2) % len(PALETTE)]
        traces.append(go.Scatter(x=f32(t), y=f32(measured), mode="markers", name=f"measured: {name}",
                                 marker=dict(color=color, symbol=symbols[j % len(symbols)], size=8,
                                             line=dict(width=1, color="white"))))
    layout = dict(xaxis=dict(title=dict(text="t")),
                  yaxis=dict(title=dict(text="Var[x_t]"), type="log" if log_y else "linear"))
    return _figure(traces, layout, 320)


def scatter_2d(points: np.ndarray, title: str, reference: np.ndarray | None = None,
               limit: float = 4.0, reference_name: str = "clean data x₀") -> go.Figure:
    """A 2D point cloud, with faint reference points (e.g. the clean data) behind it."""
    traces = []
    if reference is not None:
        traces.append(go.Scattergl(x=f32(reference[:, 0]), y=f32(reference[:, 1]), mode="markers",
                                   name=reference_name,
                                   # a few centres are drawn large, a cloud of data points small
                                   marker=dict(size=3 if len(reference) > 50 else 10, color="#bbbbbb")))
    traces.append(go.Scattergl(x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", name=title,
                               marker=dict(size=3, color=PALETTE[0], opacity=0.7)))
    layout = dict(xaxis=dict(range=[-limit, limit], constrain="domain"),
                  yaxis=dict(range=[-limit, limit], scaleanchor="x", scaleratio=1))
    return _figure(traces, layout, 360, title=dict(text=title))


def image(img: np.ndarray, title: str, zmin: float = -3.0, zmax: float = 3.0) -> go.Figure:
    """A grayscale image on a fixed colour range, so added noise is seen as added noise."""
    trace = go.Heatmap(z=f32(img[::-1]), colorscale="gray", zmin=zmin, zmax=zmax, showscale=False)
    layout = dict(xaxis=dict(visible=False, constrain="domain"), yaxis=dict(visible=False, scaleanchor="x", scaleratio=1))
    return _figure([trace], layout, 360, title=dict(text=title))


def generation_panels(panels: Sequence[tuple[str, np.ndarray]], density: tuple | None = None,
                      limit: float = 4.0) -> go.Figure:
    """Figure 6: generated 2D samples, one panel per schedule, over the true density's contours."""
    layout = _grid([title for title, _ in panels], hspace=0.04)
    traces = []
    for i, (title, pts) in enumerate(panels, start=1):
        if density is not None:
            grid, logp = density
            traces.append(go.Contour(x=f32(grid), y=f32(grid), z=f32(np.exp(logp)), showscale=False,
                                     colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(120,120,120,0.55)"]],
                                     contours=dict(coloring="fill", showlines=False), hoverinfo="skip",
                                     name="true density", showlegend=False, **_on(i)))
        traces.append(go.Scattergl(x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="markers", showlegend=False, name=title,
                                   marker=dict(size=3, color=PALETTE[(i - 1) % len(PALETTE)]), **_on(i)))
        _axis(layout, "x", i, range=[-limit, limit], constrain="domain")
        _axis(layout, "y", i, range=[-limit, limit], scaleanchor=f"x{'' if i == 1 else i}")
    return _figure(traces, layout, 380)


def step_curve(x: np.ndarray, ys: Sequence[tuple[str, np.ndarray]], x_title: str, y_title: str,
               marker: float | None = None, log_y: bool = False) -> go.Figure:
    """A generic line plot of a few series over one axis, with an optional vertical marker."""
    fig = go.Figure()
    for i, (name, y) in enumerate(ys):
        fig.add_trace(go.Scatter(x=f32(x), y=f32(y), name=name, line=dict(color=PALETTE[i % len(PALETTE)])))
    if marker is not None:
        fig.add_vline(x=marker, line=dict(color=GREY, dash="dot"))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    return _layout(fig, height=300)


# ---------------------------------------------------------------------------------------------
# Backward noise initialization page
# ---------------------------------------------------------------------------------------------


def noise_level_matrices(panels: Sequence[tuple[str, np.ndarray]], max_frames: int = 32) -> go.Figure:
    """Frames (rows) x denoising-step slots (columns), coloured by the sigma of each model call.
    Blank cells are slots a frame skips. Shows the first `max_frames` frames."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.08)
    for i, (title, matrix) in enumerate(panels, start=1):
        m = matrix[:max_frames]
        text = np.where(np.isnan(m), "", np.char.mod("%.3f", np.nan_to_num(m)))
        fig.add_trace(go.Heatmap(z=f32(m), x=[f"step {k}" for k in range(m.shape[1])], y=list(range(len(m))),
                                 colorscale="Cividis", zmin=0, zmax=1, text=text, texttemplate="%{text}",
                                 showscale=i == len(panels), colorbar=dict(title="σ"),
                                 hovertemplate="frame %{y}, %{x}: σ = %{z:.4f}<extra></extra>"), 1, i)
        fig.update_yaxes(autorange="reversed", title_text="frame n" if i == 1 else None, row=1, col=i)
    return _layout(fig, height=120 + 18 * min(max_frames, len(panels[0][1])))


def _tile(frames: np.ndarray, gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """Frames (n, h, w) side by side in one image, separated by `gap` bright columns."""
    n, h, w = frames.shape
    out = np.full((h, n * (w + gap) - gap), fill, dtype=np.float32)
    for i, f in enumerate(frames):
        out[:, i * (w + gap): i * (w + gap) + w] = f
    return out


def frame_strips(rows: Sequence[tuple[str, np.ndarray]], frame_ids: Sequence[int]) -> go.Figure:
    """One strip of frames per row (e.g. per reading), the same frame indices in every row."""
    fig = make_subplots(rows=len(rows), cols=1, subplot_titles=[t for t, _ in rows], vertical_spacing=0.24)
    for i, (_, frames) in enumerate(rows, start=1):
        fig.add_trace(go.Heatmap(z=f32(_tile(frames[list(frame_ids)])[::-1]), colorscale="gray", zmin=-1, zmax=1,
                                 showscale=False, hoverinfo="skip"), i, 1)
        fig.update_yaxes(visible=False, scaleanchor=f"x{'' if i == 1 else i}", row=i, col=1)
        w = frames.shape[2] + 2
        fig.update_xaxes(tickvals=[w * j + w / 2 - 1 for j in range(len(frame_ids))],
                         ticktext=[f"n={n}" for n in frame_ids], row=i, col=1)
    return _layout(fig, height=190 * len(rows) + 60)


def frames_animation(rows: Sequence[tuple[str, np.ndarray]], fps: float = 6.0) -> go.Figure:
    """A play / step animation of the frames, the rows side by side; nothing plays until asked."""
    names = " | ".join(t for t, _ in rows)
    n = len(rows[0][1])

    def image_at(k):
        return f32(_tile(np.stack([frames[k] for _, frames in rows]), gap=3)[::-1])

    fig = go.Figure(go.Heatmap(z=image_at(0), colorscale="gray", zmin=-1, zmax=1, showscale=False, hoverinfo="skip"),
                    frames=[go.Frame(data=[go.Heatmap(z=image_at(k))], name=str(k)) for k in range(n)])
    fig.update_layout(
        updatemenus=[dict(type="buttons", x=0, y=-0.08, xanchor="left", direction="left", buttons=[
            dict(label="▶ Play", method="animate",
                 args=[None, dict(frame=dict(duration=1000 / fps, redraw=True), fromcurrent=True, transition=dict(duration=0))]),
            dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
        sliders=[dict(active=0, y=-0.02, currentvalue=dict(prefix="frame n = "), steps=[
            dict(label=str(k), method="animate",
                 args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True))]) for k in range(n)])],
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return _layout(fig, height=420, title=names)


def per_frame_curves(frame_axis: np.ndarray, panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
                     horizon: int) -> go.Figure:
    """Side-by-side metric panels over the rollout (one colour per reading), training horizon marked."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.07)
    for i, (_, series) in enumerate(panels, start=1):
        for j, (name, y) in enumerate(series):
            color = GREY if name == "true video" else PALETTE[j % len(PALETTE)]
            fig.add_trace(go.Scatter(x=f32(frame_axis), y=f32(y), name=name, legendgroup=name, showlegend=i == 1
                                     or name == "true video" and i == 2,
                                     line=dict(color=color, dash="dot" if name == "true video" else "solid")), 1, i)
        fig.add_vline(x=horizon - 0.5, line=dict(color=CONTRAST_COLOR, dash="dash"), row=1, col=i)
    fig.add_annotation(x=horizon - 0.5, y=1.0, yref="paper", xref="x", text="training horizon",
                       showarrow=False, xanchor="left", font=dict(color=CONTRAST_COLOR))
    fig.update_xaxes(title_text="frame n")
    return _layout(fig, height=340)


def image_grid(rows: Sequence[tuple[str, np.ndarray]], col_labels: Sequence[str] | None = None,
               zmin: float = -1.0, zmax: float = 1.0) -> go.Figure:
    """Rows of frame strips with a title each (e.g. clean / re-noised / prediction)."""
    fig = make_subplots(rows=len(rows), cols=1, subplot_titles=[t for t, _ in rows], vertical_spacing=0.09)
    for i, (_, frames) in enumerate(rows, start=1):
        fig.add_trace(go.Heatmap(z=f32(_tile(np.clip(frames, zmin, zmax))[::-1]), colorscale="gray", zmin=zmin,
                                 zmax=zmax, showscale=False, hoverinfo="skip"), i, 1)
        fig.update_yaxes(visible=False, scaleanchor=f"x{'' if i == 1 else i}", row=i, col=1)
        fig.update_xaxes(visible=col_labels is not None and i == len(rows), row=i, col=1)
        if col_labels is not None:
            w = frames.shape[2] + 2
            fig.update_xaxes(tickvals=[w * j + w / 2 - 1 for j in range(len(col_labels))], ticktext=list(col_labels),
                             row=i, col=1)
    return _layout(fig, height=120 * len(rows) + 60)


# ---------------------------------------------------------------------------------------------
# Spectral normalization page
# ---------------------------------------------------------------------------------------------


def spectra_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], cols: int = 4) -> go.Figure:
    """Singular values of each layer, largest first: raw weight (grey) and after its mode (blue)."""
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _, _ in panels],
                        horizontal_spacing=0.05, vertical_spacing=0.16)
    for i, (title, before, after) in enumerate(panels):
        r, c = i // cols + 1, i % cols + 1
        idx = np.arange(1, len(before) + 1)
        fig.add_trace(go.Scatter(x=idx, y=f32(before), name="raw weight", legendgroup="raw", showlegend=i == 0,
                                 line=dict(color=GREY, dash="dash")), r, c)
        fig.add_trace(go.Scatter(x=idx, y=f32(after), name="after normalization", legendgroup="after",
                                 showlegend=i == 0, line=dict(color=PALETTE[0])), r, c)
        fig.add_hline(y=1.0, line=dict(color=CONTRAST_COLOR, width=1, dash="dot"), row=r, col=c)
    fig.update_yaxes(type="log")
    return _layout(fig, height=260 * rows + 40)


def power_trace(trace: np.ndarray, exact: float, layer: str) -> go.Figure:
    """Power-iteration estimate of sigma after each iteration, against the exact largest singular value."""
    it = np.arange(1, len(trace) + 1)
    fig = go.Figure([
        go.Scatter(x=it, y=f32(trace), mode="lines+markers", name="power-iteration estimate",
                   line=dict(color=PALETTE[0])),
        go.Scatter(x=[1, len(trace)], y=[exact, exact], mode="lines", name=f"exact σ = {exact:.4f}",
                   line=dict(color=CONTRAST_COLOR, dash="dash")),
    ])
    fig.update_xaxes(title_text="iteration")
    fig.update_yaxes(title_text=f"σ estimate ({layer})")
    return _layout(fig, height=300)


def sigma_bars(layers: Sequence[str], before: Sequence[float], after: Sequence[float]) -> go.Figure:
    """Each layer's sigma, raw and after its mode, on a log axis with the line sigma = 1."""
    fig = go.Figure([
        go.Bar(x=list(layers), y=f32(before), name="raw σ", marker_color=GREY),
        go.Bar(x=list(layers), y=f32(after), name="σ after normalization", marker_color=PALETTE[0]),
    ])
    fig.add_hline(y=1.0, line=dict(color=CONTRAST_COLOR, dash="dot"))
    fig.update_yaxes(type="log", title_text="largest singular value σ")
    return _layout(fig, height=320, barmode="group")


def conv_norm_bars(layers: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> go.Figure:
    """Per conv layer: the sigmas SN uses next to the true operator norm and its upper bound."""
    fig = go.Figure([go.Bar(x=list(layers), y=f32(vals), name=name, marker_color=PALETTE[i % len(PALETTE)])
                     for i, (name, vals) in enumerate(series)])
    fig.update_yaxes(type="log", title_text="norm")
    return _layout(fig, height=340, barmode="group")


def training_curves(steps: np.ndarray, panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]], bool]]) -> go.Figure:
    """Small multiples over training steps: (title, [(series name, values)], log y)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _, _ in panels], horizontal_spacing=0.06)
    for i, (_, series, log_y) in enumerate(panels, start=1):
        for j, (name, y) in enumerate(series):
            fig.add_trace(go.Scatter(x=f32(steps[: len(y)]), y=f32(y), name=name, showlegend=False,
                                     line=dict(color=PALETTE[j % len(PALETTE)], width=1.5),
                                     hovertemplate=f"{name}: %{{y:.3g}} at step %{{x}}<extra></extra>"), 1, i)
        if log_y:
            fig.update_yaxes(type="log", row=1, col=i)
    fig.update_xaxes(title_text="step")
    return _layout(fig, height=300)
