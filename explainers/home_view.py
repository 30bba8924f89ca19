"""The landing page's mini-figures: one small picture per explainer, computed by the same library
functions its page calls, so a card can never show something the page no longer does (and there is no
screenshot to regenerate). Each costs a few milliseconds.

Each function returns (figure, caption): the caption says in one line what the picture shows.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainers import backward_init as B
from explainers import spectral as SN
from explainers.backward_view import READING_LABELS
from explainers.figures import CIVIDIS, GREY, PALETTE, f32
from explainers.schedules import make_schedule

HEIGHT = 170  # px: small enough that three cards and their links fit on a 720-pixel-high projector
FONT = dict(size=11)
MARGIN = dict(l=44, r=6, t=6, b=40)


def _figure(traces: list, **layout) -> go.Figure:
    # Plain dicts without validation, as in explainers/figures.py: validation is most of a figure's cost.
    base = dict(height=HEIGHT, margin=MARGIN, font=FONT, showlegend=False)
    return go.Figure(data=traces, layout={**base, **layout}, _validate=False)


def schedule_thumbnail(T: int = 1000) -> tuple[go.Figure, str]:
    """ᾱ_t of the linear (DDPM) and cosine schedules: the first comparison of the schedule lesson."""
    t = np.arange(T)
    traces = [dict(type="scatter", mode="lines", x=f32(t), y=f32(make_schedule(name, T=T).alphas_cumprod), name=name,
                   line=dict(color=PALETTE[i], width=2.5), hovertemplate=f"{name}: t=%{{x}}, ᾱ=%{{y:.3f}}<extra></extra>")
              for i, name in enumerate(("linear", "cosine"))]
    labels = [dict(x=x, y=y, xref="x", yref="y", text=name, showarrow=False, font=dict(color=PALETTE[i], size=12),
                   xanchor="left") for i, (name, x, y) in enumerate((("linear", 0.16 * T, 0.22), ("cosine", 0.55 * T, 0.62)))]
    fig = _figure(traces, annotations=labels, xaxis=dict(title=dict(text="step t", standoff=4), range=[0, T - 1]),
                  yaxis=dict(title=dict(text="ᾱ_t", standoff=4), range=[0, 1.02]))
    return fig, "ᾱ_t, the signal left after t steps: the linear schedule destroys it far sooner than cosine."


def backward_thumbnail(n_frames: int = 8, steps: int = 4, shift: float = 5.0,
                       sigma_init: float = 0.5) -> tuple[go.Figure, str]:
    """The noise-level matrix (frames x denoising slots) under both readings of t in Eq. 1."""
    sigmas = B.shifted_sigmas(steps, shift)
    traces, layout = [], {}
    for i, reading in enumerate(B.READINGS):
        matrix = B.noise_level_matrix(reading, n_frames, sigmas, sigma_init)
        sx = "" if i == 0 else "2"
        traces.append(dict(type="heatmap", z=f32(matrix), x=np.arange(1, steps + 1), y=np.arange(n_frames),
                           colorscale=CIVIDIS, zmin=0, zmax=1, showscale=False, xaxis=f"x{sx}", yaxis=f"y{sx}",
                           hovertemplate="frame %{y}, slot %{x}: σ=%{z:.2f}<extra></extra>"))
        layout[f"xaxis{sx}"] = dict(domain=[0, 0.46] if i == 0 else [0.54, 1], anchor=f"y{sx}", dtick=1,
                                    title=dict(text=READING_LABELS[reading], standoff=4))
        layout[f"yaxis{sx}"] = dict(anchor=f"x{sx}", autorange="reversed", dtick=2,
                                    title=dict(text="frame" if i == 0 else "", standoff=4))
    fig = _figure(traces, plot_bgcolor="white", **layout)
    return fig, "σ at which each frame is denoised at each step (dark: little noise; blank: skipped), both readings."


def spectral_thumbnail() -> tuple[go.Figure, str]:
    """The largest singular value of each layer of the shipped 2D denoiser, as trained and with SN."""
    from explainers.models import load_denoiser2d

    net = load_denoiser2d("ring8")
    trained = SN.layer_sigmas(net)
    normalized = SN.layer_sigmas(SN.apply_layer_modes(net, {name: "sn" for name in trained}))
    names = list(trained)
    traces = [dict(type="bar", x=names, y=f32([sigmas[n] for n in names]), name=label, marker=dict(color=PALETTE[i]),
                   hovertemplate=f"%{{x}} ({label}): σ=%{{y:.2f}}<extra></extra>")
              for i, (label, sigmas) in enumerate((("trained", trained), ("SN", normalized)))]
    one = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=1, y1=1, line=dict(color=GREY, dash="dot"))
    fig = _figure(traces, barmode="group", shapes=[one], showlegend=True,
                  legend=dict(orientation="h", x=1, xanchor="right", y=1, yanchor="top", font=FONT),
                  xaxis=dict(tickangle=0), yaxis=dict(title=dict(text="σ", standoff=4)))
    return fig, "Largest singular value σ of each layer of the trained 2D denoiser: spectral normalization holds it at 1."


THUMBNAILS = {"noise_schedule": schedule_thumbnail, "backward_noise_init": backward_thumbnail,
              "spectral_norm": spectral_thumbnail}
