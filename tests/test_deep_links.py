"""Saved deep links reproduce the same figures: the data of every trace each link draws is compared with
what the same link drew when tests/data/deep_links.json was written (before the page-state redesign).
The schedule page has since shown one section at a time: a saved link now opens its first section, and the
same link with ?section=all draws every figure the saved link drew.

Regenerate only when a figure's data is meant to change, and say why in the commit:
    .venv/bin/python tests/test_deep_links.py
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAVED = ROOT / "tests" / "data" / "deep_links.json"

LINKS = [
    ("noise_schedule", {}),
    ("noise_schedule", {"schedule": ["linear", "cosine", "sigmoid"], "ztsnr": "true", "contrast": "variance_exploding"}),
    ("noise_schedule", {"schedule": ["scaled_linear", "vp_sde"], "T": "500", "t": "120", "contrast": "flow_matching",
                        "shift": "3", "dataset": "moons", "sampler": "ddpm", "steps": "20", "step": "10", "seed": "3"}),
    ("noise_schedule", {"schedule": "cosine", "cosine_s": "0.02", "dataset": "checkerboard", "eta": "0.5"}),
    ("backward_noise_init", {}),
    ("backward_noise_init", {"reading": "temporal_index", "compare": "false", "sigma_init": "0.2", "n_frames": "16"}),
    ("backward_noise_init", {"steps": "3", "shift": "2.5", "form": "vp", "n_frames": "24", "train_step": "2",
                             "window_start": "8"}),
    ("backward_noise_init", {"reading": "temporal_index", "init_schedule": "frame_indexed", "n_frames": "16"}),
    ("spectral_norm", {}),
    ("spectral_norm", {"m_D.hidden1": "sn", "m_D.hidden2": "bsn", "m_D.out": "optional", "threshold": "0.5",
                       "n_iter": "5"}),
    ("spectral_norm", {"model": "denoiser2d", "m_hidden1": "sn", "m_hidden2": "sn", "trace_layer": "hidden1"}),
    ("spectral_norm", {"model": "frame_model", "m_conv_in": "bsn", "m_conv_down": "sn", "trace_layer": "conv_in"}),
]


def _array(value) -> np.ndarray | None:
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(np.float64)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr.ravel() if arr.size else None


def digest(spec: dict) -> list[list]:
    """Per trace, per data axis: length and summary statistics of the finite values (NaN positions counted)."""
    out = []
    for trace in spec["data"]:
        row = []
        for axis in ("x", "y", "z"):
            arr = _array(trace.get(axis)) if axis in trace else None
            if arr is None:
                continue
            finite = arr[np.isfinite(arr)]
            stats = [float(finite.mean()), float(finite.std()), float(finite.min()), float(finite.max())] \
                if finite.size else []
            row.append([axis, int(arr.size), int(arr.size - finite.size), *stats])
        out.append(row)
    return out


def figures_of(page: str, query: dict) -> list[list]:
    from devtools import chart_specs, run_page_file

    return [digest(spec) for spec in chart_specs(run_page_file(page, query))]


def every_figure(page: str, query: dict) -> dict:
    """The query that draws every figure of the page: the schedule page's sections all open."""
    return {**query, "section": "all"} if page == "noise_schedule" else query


def assert_same_figures(now: list, saved: list) -> None:
    assert len(now) == len(saved), "a figure was added or removed"
    for k, (a, b) in enumerate(zip(now, saved)):
        assert len(a) == len(b), f"figure {k}: number of traces"
        for ta, tb in zip(a, b):
            assert [x[:3] for x in ta] == [x[:3] for x in tb], f"figure {k}: trace shape"
            np.testing.assert_allclose([x[3:] for x in ta], [x[3:] for x in tb], rtol=1e-4, atol=1e-6,
                                       err_msg=f"figure {k}")


@pytest.mark.parametrize("index", range(len(LINKS)), ids=[f"{p}?{'&'.join(q)}"[:60] for p, q in LINKS])
def test_saved_deep_link_draws_the_same_figures(index):
    page, query = LINKS[index]
    saved = json.loads(SAVED.read_text())[index]
    assert saved["page"] == page and saved["query"] == query
    assert_same_figures(figures_of(page, every_figure(page, query)), saved["figures"])


SCHEDULE_LINKS = [i for i, (page, _) in enumerate(LINKS) if page == "noise_schedule"]


@pytest.mark.parametrize("index", SCHEDULE_LINKS)
def test_a_saved_schedule_link_opens_its_first_section_with_the_same_figures(index):
    """Figures 1-3 (the schedule, variance split, SNR) are the first three the saved link drew."""
    page, query = LINKS[index]
    saved = json.loads(SAVED.read_text())[index]
    assert_same_figures(figures_of(page, query), saved["figures"][:3])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run as a script, Python puts tests/ on the path, not the repo root
    from explainers.device import configure_threads

    configure_threads(1)  # one torch thread, as tests/conftest.py sets it

    SAVED.parent.mkdir(exist_ok=True)
    SAVED.write_text(json.dumps([{"page": p, "query": q, "figures": figures_of(p, every_figure(p, q))}
                                 for p, q in LINKS]))
    print("wrote", SAVED)
