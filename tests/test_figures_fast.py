"""Figure builders build plain dicts and skip Plotly's validation (explainers/figures.py), so this file is
where their output gets validated: every public builder, with sample inputs like the pages pass, must
give a figure that Plotly's validating constructor accepts unchanged. Fast: no server, no browser."""

from __future__ import annotations

import ast
import copy
import csv
import inspect
import io

import numpy as np
import plotly.graph_objects as go
import plotly.subplots
import pytest

from explainers import figures as F
from explainers.exports import figure_csv

RNG = np.random.default_rng(0)
T = np.arange(50)
ABAR = np.cumprod(1 - np.linspace(1e-4, 0.2, 50))
LOG_SNR = np.log(ABAR) - np.log1p(-ABAR)
LOG_SNR_ZERO = np.append(LOG_SNR[:-1], -np.inf)  # zero terminal SNR
POINTS = RNG.normal(size=(40, 2))
FRAMES = [(name, RNG.uniform(-1.2, 1.2, (6, 8, 8))) for name in ("true video", "t = denoising step", "t = frame index")]
SIGMAS = np.where(RNG.random((6, 4)) < 0.3, np.nan, RNG.random((6, 4)))
GRID = np.linspace(-4, 4, 9)

# Builder name -> sample calls (several where a branch changes the figure's structure).
SAMPLES = {
    "schedule_curves": [lambda: F.schedule_curves(T, [("linear", np.diff(ABAR, prepend=1), ABAR),
                                                       ("cosine", np.full(50, 0.01), ABAR ** 2)])],
    "variance_split": [lambda: F.variance_split(T, "linear", ABAR, 1 - ABAR),
                       lambda: F.variance_split(T, "linear", ABAR, 1 - ABAR, ("VE", ABAR, 1 + T / 10))],
    "snr_curves": [lambda: F.snr_curves(T, [("linear", LOG_SNR), ("zero SNR", LOG_SNR_ZERO),
                                             ("VE (not VP)", LOG_SNR + 1, F.CONTRAST)])],
    "measured_vs_theory": [lambda: F.measured_vs_theory(T, [("linear", np.ones(50))],
                                                        [("linear", T[::10], RNG.random(5))], log_y=True),
                           lambda: F.measured_vs_theory(T, [("VE (not VP)", 1 + T / 10.0, F.CONTRAST)],
                                                        [("VE (not VP)", T[::10], RNG.random(5), F.CONTRAST)])],
    "scatter_2d": [lambda: F.scatter_2d(POINTS, "x_t"),
                   lambda: F.scatter_2d(POINTS, "samples", reference=POINTS[:8] * 2, limit=3.0,
                                        reference_name="the 8 true mode centres")],
    "image": [lambda: F.image(RNG.normal(size=(8, 8)), "Image at t = 10")],
    "generation_panels": [lambda: F.generation_panels([("linear", POINTS), ("cosine", POINTS[::-1])]),
                          lambda: F.generation_panels([("linear", POINTS)],
                                                      density=(GRID, -0.5 * (GRID[None] ** 2 + GRID[:, None] ** 2))),
                          lambda: F.generation_panels([("linear", POINTS)], level=-2.0,
                                                      density=(GRID, -0.5 * (GRID[None] ** 2 + GRID[:, None] ** 2)))],
    "step_curve": [lambda: F.step_curve(T[:5], [("mode coverage", RNG.random(5))], "step", "fraction"),
                   lambda: F.step_curve(T[:5], [("a", RNG.random(5)), ("b", RNG.random(5))], "step", "y",
                                        marker=2.5, log_y=True)],
    "noise_level_matrices": [lambda: F.noise_level_matrices([("denoising step", SIGMAS), ("frame index", SIGMAS)],
                                                            max_frames=4)],
    "frame_strips": [lambda: F.frame_strips(FRAMES, [0, 2, 5])],
    "frames_animation": [lambda: F.frames_animation(FRAMES[:2], fps=4)],
    "per_frame_curves": [lambda: F.per_frame_curves(np.arange(6), [
        ("position error", [("reading a", RNG.random(6))]),
        ("speed", [("reading a", RNG.random(6)), ("true video", RNG.random(6), F.REFERENCE)])], horizon=3)],
    "image_grid": [lambda: F.image_grid(FRAMES, col_labels=[f"n={i}" for i in range(6)]),
                   lambda: F.image_grid(FRAMES[:1])],
    "spectra_grid": [lambda: F.spectra_grid([(f"layer{i} [SN]", np.sort(RNG.random(5))[::-1] + 0.1,
                                              np.sort(RNG.random(5))[::-1] + 0.1) for i in range(5)], cols=3)],
    "power_trace": [lambda: F.power_trace(np.linspace(0.5, 1.9, 12), np.float64(1.95), "conv1")],
    "sigma_bars": [lambda: F.sigma_bars(["l1", "l2"], [2.5, 0.7], [1.0, 0.7])],
    "conv_norm_bars": [lambda: F.conv_norm_bars(["c1", "c2"], [("reshaped σ", [1.0, 2.0]), ("operator", [1.2, 2.4])])],
    "coverage_curve": [lambda: F.coverage_curve(np.arange(0, 500, 100), np.array([0.0, 1, 3, 8, 8]), 8)],
    "training_curves": [lambda: F.training_curves(np.arange(0, 100, 10), [
        ("loss", [("loss", list(RNG.random(10)))], True),
        ("σ", [("l1", list(RNG.random(8) + 1)), ("l2", list(RNG.random(8) + 1))], False)])],
    "with_pinned": [lambda: F.with_pinned(F.sigma_bars(["l1", "l2"], [2.5, 0.7], [1.0, 0.7]),
                                          F.sigma_bars(["l1", "l2"], [2.5, 0.7], [0.9, 0.6])),
                    lambda: F.with_pinned(F.image(RNG.normal(size=(8, 8)), "B"), F.image(RNG.normal(size=(8, 8)), "A")),
                    lambda: F.with_pinned(F.scatter_2d(POINTS, "B"), F.scatter_2d(POINTS[::-1], "A"))],
    "frequency_power": [lambda: F.frequency_power(np.arange(1.0, 25), [
        ("cosine", 1 / np.arange(1.0, 25) ** 2, 0.3, 4.5, F.SERIES),
        ("flow matching", 0.5 / np.arange(1.0, 25) ** 2, 0.4, None, F.CONTRAST)], 300)],
    "score_fields": [lambda: F.score_fields(POINTS[:9, 0], POINTS[:9, 1], [("exact", POINTS[:9] * 0.1, F.REFERENCE),
                                                                          ("model", POINTS[9:18] * 0.1, F.SERIES)],
                                            (GRID, RNG.random((9, 9))), "error", 3.0)],
    "step_rug": [lambda: F.step_rug([("linear", LOG_SNR[::5], "gap 0.1"), ("zero SNR", LOG_SNR_ZERO[::5], "gap 2")])],
    "discriminator_surface": [lambda: F.discriminator_surface(GRID, RNG.normal(size=(9, 9)), POINTS, POINTS[:8],
                                                              "D at step 100")],
    "prediction_bars": [lambda: F.prediction_bars(["linear", "cosine"], [3, 12], "the class predicts"),
                        lambda: F.prediction_bars(["0.0–0.1", "0.1–0.2"], [0, 2], "revealed", right=[True, False])],
}
CASES = [pytest.param(call, id=f"{name}-{k}") for name, calls in SAMPLES.items() for k, call in enumerate(calls)]


def same(a, b, path="") -> list[str]:
    """Where two figure dicts differ (arrays by dtype and value, NaN equal to NaN); [] if nowhere."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in same(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        ok = a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        return [] if ok else [f"{path}: arrays {a.dtype}{a.shape} vs {b.dtype}{b.shape}"]
    return [] if type(a) is type(b) and a == b else [f"{path}: {a!r} vs {b!r}"]


def public_builders() -> set[str]:
    return {name for name, fn in vars(F).items() if inspect.isfunction(fn) and not name.startswith("_")
            and fn.__module__ == F.__name__ and fn.__annotations__.get("return") in ("go.Figure", go.Figure)}


def test_every_public_builder_has_samples():
    assert public_builders() == set(SAMPLES)
    assert {"f32", "clip_log_snr"}.isdisjoint(SAMPLES)


def test_a_traces_role_not_its_label_decides_its_colour():
    snr = F.snr_curves(T, [("a (not VP)", LOG_SNR), ("b", LOG_SNR, F.CONTRAST)])
    assert [t.line.color for t in snr.data] == [F.PALETTE[0]] * 2 + [F.CONTRAST_COLOR] * 2
    truth = F.per_frame_curves(np.arange(6), [("speed", [("true video", RNG.random(6)),
                                                         ("data", RNG.random(6), F.REFERENCE)])], horizon=3)
    assert [(t.line.color, t.line.dash) for t in truth.data] == [(F.PALETTE[0], "solid"), (F.GREY, "dot")]
    var = F.measured_vs_theory(T, [("VE", 1 + T / 10.0, F.CONTRAST)], [("VE", T[::10], RNG.random(5), F.CONTRAST)])
    assert {t.line.color if t.mode != "markers" else t.marker.color for t in var.data} == {F.CONTRAST_COLOR}
    with pytest.raises(ValueError, match="^role "):
        F.snr_curves(T, [("a", LOG_SNR, "truth")])


@pytest.mark.parametrize("call", CASES)
def test_builder_output_is_valid_plotly(call):
    fig = call()
    assert isinstance(fig, go.Figure) and len(fig.data) >= 1
    # Raw property dicts (numpy arrays as they are, not base64) through Plotly's validating constructor:
    # an unknown property, a bad value or a bad enum raises here.
    raw = dict(data=[trace.to_plotly_json() for trace in fig.data], layout=fig.layout.to_plotly_json(),
               frames=[frame.to_plotly_json() for frame in fig.frames])
    validated = go.Figure(raw)
    assert same(validated.to_dict(), fig.to_dict()) == []
    # and the serialised figure (what Streamlit sends) is accepted and kept as well
    assert same(go.Figure(fig.to_dict()).to_dict(), fig.to_dict()) == []


@pytest.mark.parametrize("call", CASES)
def test_builders_skip_plotly_object_machinery(call, monkeypatch):
    """No make_subplots and no add_* / update_* on the figure while it is built; built unvalidated."""

    def forbidden(*args, **kwargs):
        raise AssertionError("figure builders build plain dicts, not figure-object calls")

    monkeypatch.setattr(plotly.subplots, "make_subplots", forbidden)
    for method in ("add_trace", "add_traces", "add_hline", "add_vline", "add_annotation", "add_shape",
                   "update_layout", "update_xaxes", "update_yaxes", "update_traces", "for_each_xaxis",
                   "for_each_yaxis"):
        monkeypatch.setattr(go.Figure, method, forbidden)
    fig = call()
    assert fig._validate is False  # the speed-up itself: _figure passes _validate=False


def test_module_source_uses_no_figure_objects():
    """Static check: no make_subplots, no add_* / update_* calls, no go.<Trace>(...) apart from go.Figure."""
    tree = ast.parse(inspect.getsource(F))
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert all("subplots" not in alias.name for alias in node.names) and "subplots" not in (
                getattr(node, "module", "") or "")
        if isinstance(node, ast.Name):
            assert node.id != "make_subplots"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls.add(node.func.attr)
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "go":
                assert node.func.attr == "Figure", f"go.{node.func.attr}(...) builds a validated object"
    assert not {c for c in calls if c.startswith(("add_", "update_", "for_each_"))}


def test_frames_stay_readable():
    fig = F.frames_animation(FRAMES, fps=4)
    assert [f.name for f in fig.frames] == [str(k) for k in range(6)]
    assert all(f.data[0].type == "heatmap" and f.data[0].z.dtype == np.float32 for f in fig.frames)
    assert list(fig.layout.sliders[0].steps[5].args[0]) == ["5"]


def test_presenter_mode_and_csv_export_work_on_unvalidated_figures():
    """What ui.figure does to a returned figure: read height and titles, enlarge it, export its data."""
    constants = copy.deepcopy((F.BASE_LAYOUT, F.FONT, F.SUBPLOT_TITLE_FONT, F.GRAY, F.CIVIDIS))
    for name, calls in SAMPLES.items():
        for call in calls:
            fig = call()
            height = fig.layout.height
            assert isinstance(height, int) and height >= 150, name
            title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else None
            assert title or all(a.text for a in fig.layout.annotations) or not fig.layout.annotations, name
            fig.update_layout(height=int(height * 1.35), font=dict(size=20))
            assert fig.layout.height == int(height * 1.35) and fig.layout.font.size == 20
            with pytest.raises(ValueError):  # later updates are still validated
                fig.update_layout(no_such_property=1)
            if fig.layout.annotations:
                fig.layout.annotations[0].font.size = 30
            rows = list(csv.DictReader(io.StringIO(figure_csv(fig))))
            n_values = sum(np.size(getattr(tr, attr)) for tr in fig.data for attr in ("x", "y", "z")
                           if attr in tr and getattr(tr, attr) is not None and not isinstance(getattr(tr, attr), str))
            assert rows and len(rows) <= n_values, name
            assert {r["trace"] for r in rows} == {str(i) for i in range(len(fig.data))}, name
    # presenter-mode edits changed the figures, never the module's shared layout pieces
    assert same(constants, (F.BASE_LAYOUT, F.FONT, F.SUBPLOT_TITLE_FONT, F.GRAY, F.CIVIDIS)) == []


def test_csv_has_the_float32_values():
    y = RNG.random(7)
    fig = F.step_curve(np.arange(7), [("a", y)], "x", "y")
    rows = list(csv.DictReader(io.StringIO(figure_csv(fig))))
    np.testing.assert_array_equal([float(r["y"]) for r in rows], y.astype(np.float32))
    assert fig.data[0].y.dtype == np.float32


def test_subplot_grid_matches_make_subplots():
    """_grid is a stand-in for make_subplots: the same axis domains, anchors and title annotations."""
    for rows, cols, hspace, vspace in ((1, 2, 0.08, 0.16), (1, 3, 0.07, 0.16), (1, 4, 0.06, 0.16),
                                       (3, 1, 0.08, 0.24), (5, 1, 0.08, 0.09), (2, 3, 0.05, 0.16),
                                       (2, 4, 0.05, 0.16), (1, 5, 0.04, 0.16)):
        titles = [f"panel {k}" for k in range(rows * cols - (1 if rows * cols > 2 else 0))]
        ref = plotly.subplots.make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=hspace,
                                            vertical_spacing=vspace).to_dict()["layout"]
        ref.pop("template")
        ours = go.Figure(layout=F._grid(titles, cols=cols, rows=rows, hspace=hspace, vspace=vspace,
                                        title_font=F.SUBPLOT_TITLE_FONT)).to_dict()["layout"]
        ours.pop("template")
        assert same(ours, ref) == [], (rows, cols)
    with pytest.raises(ValueError):  # like make_subplots: spacing too large for the number of rows
        F._grid(["a"] * 6, cols=1, rows=6, vspace=0.24)


# Charts a student can read (issue 14, item 15): decade-only log ticks, integer index ticks, a legend.
SCHEDULE_BUILDERS = ("schedule_curves", "variance_split", "snr_curves", "measured_vs_theory")


@pytest.mark.parametrize("name", SCHEDULE_BUILDERS)
def test_schedule_charts_label_log_axes_at_powers_of_ten_and_t_at_integers(name):
    for call in SAMPLES[name]:
        layout = call().to_plotly_json()["layout"]
        axes = {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))}
        for key, axis in axes.items():
            if axis.get("type") == "log":
                # Over a decade or more, ticks an integer number of decades apart: Plotly then labels 10^k only,
                # never a bare "2" or "5"; over less, every label is the full number ("~g": 20, not 2).
                decades = isinstance(axis.get("dtick"), int) and axis["dtick"] >= 1 \
                    and axis.get("exponentformat") == "power"
                assert decades or axis.get("tickformat") == "~g", (name, key, axis)
            if key.startswith("xaxis"):
                assert axis.get("tickformat") == "d" and float(axis["dtick"]).is_integer(), (name, key, axis)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_no_log_axis_labels_a_tick_with_a_bare_digit(name):
    for call in SAMPLES[name]:
        layout = call().to_plotly_json()["layout"]
        for key, axis in layout.items():
            if key.startswith(("xaxis", "yaxis")) and axis.get("type") == "log":
                decades = isinstance(axis.get("dtick"), int) and axis.get("exponentformat") == "power"
                assert decades or axis.get("tickformat") == "~g", (name, key, axis)


@pytest.mark.parametrize("name", SCHEDULE_BUILDERS + ("generation_panels",))
def test_schedule_charts_with_several_traces_name_each_in_a_legend_or_a_title(name):
    for call in SAMPLES[name]:
        fig = call().to_plotly_json()
        traces = fig["data"]
        titles = [a["text"] for a in fig["layout"].get("annotations", [])]
        shown = [t for t in traces if t.get("showlegend", True) and t.get("name")]
        # Each line or marker set is in the legend, or is the only data trace of a titled panel.
        for t in traces:
            if t["type"] == "contour":
                continue
            assert t.get("name"), (name, t["type"])
            assert t in shown or t.get("legendgroup") in {u.get("legendgroup") for u in shown} \
                or (len(titles) >= 1 and name == "generation_panels"), (name, t.get("name"))
        if len(shown) > 1:
            assert fig["layout"].get("showlegend", True) is not False


def test_index_ticks_are_whole_steps_for_short_schedules():
    layout = F.schedule_curves(np.arange(10), [("linear", np.linspace(0.1, 0.2, 10), np.linspace(1, 0.1, 10))]
                               ).to_plotly_json()["layout"]
    assert layout["xaxis"]["dtick"] == 2 and layout["xaxis"]["tick0"] == 0
    long = F.schedule_curves(np.arange(1000), [("linear", np.linspace(1e-4, 0.02, 1000), np.linspace(1, 0, 1000))]
                             ).to_plotly_json()["layout"]
    assert long["xaxis"]["dtick"] == 200
    assert long["yaxis"]["dtick"] == 1  # β from 10^-4 to 2·10^-2: about two decades, one label each
