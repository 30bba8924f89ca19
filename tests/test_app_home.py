"""The landing page: each explainer's card shows a mini-figure whose numbers are the library's (recomputed
here), and links to its page and to step 1 of its guided lesson."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from devtools import chart_specs, decoded
from explainers import backward_init as B
from explainers import spectral as SN
from explainers.lessons import LESSONS
from explainers.models import load_denoiser2d
from explainers.schedules import make_schedule

PAGES = ("noise_schedule", "backward_noise_init", "spectral_norm")


@pytest.fixture(scope="module")
def home():
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_card_offers_its_page_and_its_lesson(home):
    links = [(link.proto.page, link.proto.query_string, link.proto.label) for link in home.get("page_link")]
    for page in PAGES:
        mine = [(query, label) for p, query, label in links if p == page]
        assert [query for query, _ in mine] == ["", "lesson=1"], mine
        assert mine[1][1] == f"Start the lesson ({len(LESSONS[page])} steps)"


def test_mini_figures_show_the_library_numbers(home):
    figs = chart_specs(home)
    assert len(figs) == 3
    schedule, backward, spectral = figs
    for trace, name in zip(schedule["data"], ("linear", "cosine")):
        expected = make_schedule(name, T=1000).alphas_cumprod
        np.testing.assert_allclose(decoded(trace["y"]), expected, rtol=1e-6)
    # ᾱ halfway, as the schedule lesson's second step says: cosine keeps far more signal than linear.
    assert decoded(schedule["data"][0]["y"])[499] < 0.1 < 0.4 < decoded(schedule["data"][1]["y"])[499]

    sigmas = B.shifted_sigmas(4, 5.0)
    matrices = [decoded(trace["z"]).reshape(8, 4) for trace in backward["data"]]
    for matrix, reading in zip(matrices, B.READINGS):
        np.testing.assert_allclose(matrix, B.noise_level_matrix(reading, 8, sigmas, 0.5), rtol=1e-6)
    # The denoising-step reading fills every slot; the frame-index reading leaves later frames' top slots blank.
    assert not np.isnan(matrices[0]).any() and np.isnan(matrices[1][1:, 0]).all()

    trained, normalized = spectral["data"]
    expected = SN.layer_sigmas(load_denoiser2d("ring8"))
    assert list(trained["x"]) == list(expected)
    np.testing.assert_allclose(decoded(trained["y"]), list(expected.values()), rtol=1e-5)
    assert decoded(trained["y"]).max() > 4  # trained layers stretch inputs ...
    np.testing.assert_allclose(decoded(normalized["y"]), 1.0, atol=0.05)  # ... SN holds each at 1


def test_every_mini_figure_has_a_caption(home):
    captions = [c.value for c in home.caption]
    assert sum(c.startswith(("ᾱ_t", "σ at which", "Largest singular value")) for c in captions) == 3
