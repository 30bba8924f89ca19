"""Exports: a figure's CSV holds its plotted numbers; PNG and SVG render through Kaleido + Chromium."""

import csv
import io
import zipfile

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from explainers import figures as F
from explainers.exports import figure_csv, figure_image, figure_pack
from explainers.schedules import make_schedule


def schedule_figure():
    s = make_schedule("linear", T=100)
    return F.schedule_curves(np.arange(100), [(s.name, s.betas, s.alphas_cumprod)]), s


def test_csv_holds_every_trace_value():
    fig, s = schedule_figure()
    rows = list(csv.DictReader(io.StringIO(figure_csv(fig))))
    betas = [float(r["y"]) for r in rows if r["trace"] == "0"]
    abar = [float(r["y"]) for r in rows if r["trace"] == "1"]
    np.testing.assert_allclose(betas, s.betas.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(abar, s.alphas_cumprod.astype(np.float32), rtol=1e-6)


def test_heatmap_csv_flattens_z():
    fig = go.Figure(go.Heatmap(z=np.arange(6, dtype=np.float32).reshape(2, 3)))
    rows = list(csv.DictReader(io.StringIO(figure_csv(fig))))
    assert [float(r["z"]) for r in rows] == [0, 1, 2, 3, 4, 5]


def test_png_and_svg_render():
    fig, _ = schedule_figure()
    png = figure_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(png)).size[0] >= 1000  # scale 2
    svg = figure_image(fig, "svg")
    assert svg.lstrip().startswith(b"<svg") and b"linear" in svg


def test_figure_pack_has_data_images_and_link():
    fig, _ = schedule_figure()
    pack = figure_pack([("schedule", fig, "β and ᾱ")], link="http://host/noise_schedule?T=100",
                       extra={"frames.gif": b"GIF89a"})
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        assert set(zf.namelist()) == {"01_schedule.csv", "01_schedule.png", "01_schedule.svg", "frames.gif",
                                      "captions.txt"}
        assert "noise_schedule?T=100" in zf.read("captions.txt").decode()


def test_pack_extras_given_as_callables_are_made_only_when_the_pack_is_downloaded():
    from ui import classroom as ui

    calls = []

    def gif() -> bytes:
        calls.append(1)
        return b"GIF89a"

    extra = {"frames.gif": gif, "note.txt": b"x"}
    assert not calls  # handing the callable to the page costs nothing
    assert ui._resolved(extra) == {"frames.gif": b"GIF89a", "note.txt": b"x"} and calls == [1]
    assert ui._resolved(None) is None
