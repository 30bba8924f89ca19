"""Everything the schedule page's "your own 2D data" section computes: read an upload or a sketch, show it,
and sample the fine-tuned denoiser under the page's schedule (explainers/custom_data.py does the work)."""

from __future__ import annotations

import numpy as np
import torch

from explainers import custom_data as C
from explainers import figures as F
from explainers import schedules as S

SKETCH_CELLS = 12  # the sketch grid: cells per side
SKETCH_EXTENT = 3.0  # it spans [-3, 3]² in the sketch's own units (standardised afterwards, like any data)
N_SAMPLES = 2000
SOURCES = ("upload", "sketch")
SOURCE_LABELS = {"upload": "Upload a CSV of points", "sketch": "Sketch on a grid"}
# A starting sketch: two blobs and a bar, so "Fine-tune" does something visible before anyone paints.
_STARTER = ((2, 2), (2, 3), (3, 2), (3, 3), (8, 8), (8, 9), (9, 8), (9, 9), (5, 5), (5, 6), (6, 5), (6, 6))


def starter_sketch() -> list[list[bool]]:
    """The grid shown before anyone edits it, as rows of ticks (row 0 at the top)."""
    grid = [[False] * SKETCH_CELLS for _ in range(SKETCH_CELLS)]
    for r, c in _STARTER:
        grid[r][c] = True
    return grid


def dataset_from_upload(data: bytes, filename: str) -> tuple[C.UploadedDataset, str]:
    """The uploaded file as a dataset and the line saying what was read; UploadError names what is wrong."""
    upload = C.parse_points(data, filename)
    return C.UploadedDataset.from_upload(upload), upload.summary


def dataset_from_sketch(grid) -> C.PaintedDataset:
    """The ticked cells as a density (UploadError when none is ticked)."""
    mask = np.asarray(grid, dtype=bool)
    return C.PaintedDataset.from_painting(mask, SKETCH_EXTENT, origin="upper")


def data_shown(dataset: C.UserDataset, seed: int) -> F.Shown:
    """The data the model will learn, in the standardised units the model sees."""
    points = dataset.sample(N_SAMPLES, torch.Generator().manual_seed(seed)).numpy()
    return F.Shown(F.scatter_2d(points, dataset.name, limit=4.0),
                   f"{N_SAMPLES:,} draws from {dataset.name}, standardised to mean 0 and variance 1 per axis as the "
                   f"shipped datasets are. {dataset.description}")


def sample_with(net, dataset: C.UserDataset, schedule: S.Schedule, sampler: str, steps: int, eta: float,
                seed: int) -> tuple[np.ndarray, dict]:
    """Samples of `net` under the page's schedule and sampler, and what can be scored without a density."""
    from explainers import sampling

    abar = sampling.step_alphas_cumprod(schedule.alphas_cumprod, steps)
    g = torch.Generator().manual_seed(seed)
    device = next(net.parameters()).device
    x = torch.randn(N_SAMPLES, 2, generator=g).to(device)
    net = net.eval()
    if sampler == "ddim":
        out = sampling.sample_ddim(net, x, abar, eta=eta, generator=g)
    else:
        out = sampling.sample_ddpm(net, x, abar, generator=g)
    points = out.float().cpu().numpy()
    return points, C.quality_score_upload(points, dataset)


def samples_shown(before: tuple[np.ndarray, dict], after: tuple[np.ndarray, dict], schedule_name: str,
                  sampler: str, steps: int) -> tuple[F.Shown, str]:
    """The shipped model's samples and the fine-tuned one's, side by side, and the scores that exist here."""
    fig = F.generation_panels([("shipped denoiser (ring8)", before[0]), ("fine-tuned on your data", after[0])])
    b, a = before[1], after[1]
    caption = (f"{N_SAMPLES:,} samples each, {sampler.upper()} with {steps} steps on the {schedule_name} schedule, "
               f"from the same noise. Energy distance to your data: {b['energy_distance']:.4f} before, "
               f"{a['energy_distance']:.4f} after (draws from the data itself score {a['data_energy_distance']:.4f}).")
    if "inside_fraction" in a:
        caption += (f" On the painted cells: {100 * b['inside_fraction']:.0f}% before, "
                    f"{100 * a['inside_fraction']:.0f}% after.")
    return F.Shown(fig, caption), a["note"]


def progress_detail(record: dict) -> str:
    return f"loss {record['loss']:.3f}"


def fingerprint(dataset: C.UserDataset) -> str:
    """Which data a fine-tuned model learned: a hash of the data's fixed reference points."""
    import hashlib

    return hashlib.sha256(dataset.reference.numpy().tobytes()).hexdigest()[:16]
