"""Plotly figure builders: arrays in, `go.Figure` out. No widgets, no computation of science.

One colour-blind-safe palette (Okabe & Ito 2008) for the whole app. Arrays go to Plotly as
float32 to keep the page payload small. Non-finite values (log-SNR = -inf at zero terminal SNR)
are clipped to a floor and marked, never silently dropped.
"""

from __future__ import annotations

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


def _layout(fig: go.Figure, height: int = 340, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def _t_marker(fig: go.Figure, t: int | None, **where) -> None:
    if t is not None:
        fig.add_vline(x=t, line=dict(color=GREY, dash="dot"), **where)


def schedule_curves(t_axis: np.ndarray, series: Sequence[tuple[str, np.ndarray, np.ndarray]],
                    t_marker: int | None = None) -> go.Figure:
    """Figure 1: beta_t (left) and alpha-bar_t (right), one colour per (name, betas, abar)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("β_t: noise added at step t",
                                                        "ᾱ_t: signal kept after t steps"))
    for i, (name, betas, abar) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(betas), name=name, legendgroup=name,
                                 line=dict(color=color)), 1, 1)
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(abar), name=name, legendgroup=name,
                                 showlegend=False, line=dict(color=color)), 1, 2)
    _t_marker(fig, t_marker, row="all", col="all")
    fig.update_xaxes(title_text="t")
    return _layout(fig)


def variance_split(t_axis: np.ndarray, name: str, signal_var: np.ndarray, noise_var: np.ndarray,
                   contrast: tuple[str, np.ndarray, np.ndarray] | None = None,
                   t_marker: int | None = None) -> go.Figure:
    """Figure 2: signal variance a^2 and noise variance b^2 stacked; for VP they fill exactly 1.

    The right panel draws the total a^2 + b^2 on a log axis, with the non-VP contrast when given.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"{name}: signal + noise variance",
                                                        "total variance Var[x_t] (log scale)"))
    fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(signal_var), name="signal variance ᾱ_t",
                             stackgroup="v", line=dict(color=PALETTE[0])), 1, 1)
    fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(noise_var), name="noise variance 1 − ᾱ_t",
                             stackgroup="v", line=dict(color=PALETTE[1])), 1, 1)
    fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(signal_var + noise_var), name=f"{name} (VP)",
                             line=dict(color=PALETTE[2], width=3)), 1, 2)
    if contrast is not None:
        c_name, c_signal, c_noise = contrast
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(c_signal + c_noise), name=f"{c_name} (not VP)",
                                 line=dict(color=CONTRAST_COLOR, width=3, dash="dash")), 1, 2)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    _t_marker(fig, t_marker, row="all", col="all")
    fig.update_xaxes(title_text="t")
    return _layout(fig)


def clip_log_snr(log_snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace -inf (abar = 0) by the floor for drawing; return the clipped array and where it was."""
    clipped = np.where(np.isneginf(log_snr), LOG_SNR_FLOOR, log_snr)
    clipped = np.clip(np.nan_to_num(clipped, nan=LOG_SNR_FLOOR), LOG_SNR_FLOOR, -LOG_SNR_FLOOR)
    return clipped, np.isneginf(log_snr)


def snr_curves(t_axis: np.ndarray, series: Sequence[tuple[str, np.ndarray]],
               t_marker: int | None = None) -> go.Figure:
    """Figure 3: SNR (log axis) and log-SNR; -inf is drawn at the floor with a marked point."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("SNR_t = ᾱ/(1 − ᾱ) (log scale)", "log-SNR_t"))
    for i, (name, log_snr) in enumerate(series):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[i % len(PALETTE)]
        clipped, was_inf = clip_log_snr(log_snr)
        snr = np.exp(clipped)
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(snr), name=name, legendgroup=name,
                                 line=dict(color=color)), 1, 1)
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(clipped), name=name, legendgroup=name,
                                 showlegend=False, line=dict(color=color)), 1, 2)
        if was_inf.any():
            fig.add_trace(go.Scatter(x=f32(t_axis[was_inf]), y=f32(clipped[was_inf]), mode="markers",
                                     name=f"{name}: log-SNR = −∞ (drawn at {LOG_SNR_FLOOR:g})",
                                     marker=dict(symbol="triangle-down", size=12, color=color)), 1, 2)
    fig.update_yaxes(type="log", row=1, col=1)
    _t_marker(fig, t_marker, row="all", col="all")
    fig.update_xaxes(title_text="t")
    return _layout(fig)


def measured_vs_theory(t_axis: np.ndarray, theory: Sequence[tuple[str, np.ndarray]],
                       points: Sequence[tuple[str, np.ndarray, np.ndarray]], log_y: bool = False) -> go.Figure:
    """Figure 4: theory lines of Var[x_t] and the variance measured on forward-noised samples."""
    fig = go.Figure()
    symbols = ("circle", "square", "diamond", "cross", "x", "triangle-up")
    for i, (name, var) in enumerate(theory):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=f32(t_axis), y=f32(var), name=f"theory: {name}", line=dict(color=color)))
    for j, (name, t, measured) in enumerate(points):
        color = CONTRAST_COLOR if "(not VP)" in name else PALETTE[(j // 2) % len(PALETTE)]
        fig.add_trace(go.Scatter(x=f32(t), y=f32(measured), mode="markers", name=f"measured: {name}",
                                 marker=dict(color=color, symbol=symbols[j % len(symbols)], size=8,
                                             line=dict(width=1, color="white"))))
    fig.update_xaxes(title_text="t")
    fig.update_yaxes(title_text="Var[x_t]", type="log" if log_y else "linear")
    return _layout(fig, height=320)


def scatter_2d(points: np.ndarray, title: str, reference: np.ndarray | None = None,
               limit: float = 4.0) -> go.Figure:
    """A 2D point cloud, with faint reference points (e.g. the clean data) behind it."""
    fig = go.Figure()
    if reference is not None:
        fig.add_trace(go.Scattergl(x=f32(reference[:, 0]), y=f32(reference[:, 1]), mode="markers",
                                   name="clean data x₀", marker=dict(size=3, color="#bbbbbb")))
    fig.add_trace(go.Scattergl(x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", name=title,
                               marker=dict(size=3, color=PALETTE[0], opacity=0.7)))
    fig.update_xaxes(range=[-limit, limit], constrain="domain")
    fig.update_yaxes(range=[-limit, limit], scaleanchor="x", scaleratio=1)
    return _layout(fig, height=360, title=title)


def image(img: np.ndarray, title: str, zmin: float = -3.0, zmax: float = 3.0) -> go.Figure:
    """A grayscale image on a fixed colour range, so added noise is seen as added noise."""
    fig = go.Figure(go.Heatmap(z=f32(img[::-1]), colorscale="gray", zmin=zmin, zmax=zmax, showscale=False))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return _layout(fig, height=360, title=title)


def generation_panels(panels: Sequence[tuple[str, np.ndarray]], density: tuple | None = None,
                      limit: float = 4.0) -> go.Figure:
    """Figure 6: generated 2D samples, one panel per schedule, over the true density's contours."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _ in panels],
                        horizontal_spacing=0.04)
    for i, (title, pts) in enumerate(panels, start=1):
        if density is not None:
            grid, logp = density
            fig.add_trace(go.Contour(x=f32(grid), y=f32(grid), z=f32(np.exp(logp)), showscale=False,
                                     colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(120,120,120,0.55)"]],
                                     contours=dict(coloring="fill", showlines=False), hoverinfo="skip",
                                     name="true density", showlegend=False), 1, i)
        fig.add_trace(go.Scattergl(x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="markers", showlegend=False,
                                   name=title, marker=dict(size=3, color=PALETTE[(i - 1) % len(PALETTE)])),
                      1, i)
        fig.update_xaxes(range=[-limit, limit], row=1, col=i, constrain="domain")
        fig.update_yaxes(range=[-limit, limit], row=1, col=i, scaleanchor=f"x{'' if i == 1 else i}")
    return _layout(fig, height=380)


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
