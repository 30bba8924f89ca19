"""Everything the backward-noise-initialization page computes, as plain functions of its view
(state.BackwardView)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from explainers import backward_init as B
from explainers.frame_model import N_CONTEXT  # noqa: F401  (the page's captions name it)
from explainers.schedules import SHIFT_RANGE
from explainers.state import LEVEL, SEED, BackwardView, Param, as_view

HORIZON = 8  # frames per training clip of the shipped model (explainers/train_video.py)
READING_LABELS = {"denoising_step": "t = denoising step", "temporal_index": "t = frame index"}
# What the choice controls show; the URL keeps the identifiers (READINGS, FORMS, INIT_SCHEDULES).
FORM_LABELS = {"flow": "flow matching", "vp": "VP"}
INIT_SCHEDULE_LABELS = {"constant": "constant σ_init", "frame_indexed": "σ indexed by frame"}
MATRIX_ROWS = 16  # rows of the noise-level matrix drawn; matrix_rows_note says what the rest hold

PARAMS = (
    Param("reading", "Reading of t in Eq. 1", "choice", "denoising_step", choices=B.READINGS,
          labels=tuple(READING_LABELS.items())),
    Param("compare", "Side by side: both readings on the same seed", "bool", True),
    Param("n_frames", "Frames to generate", "int", 32, 8, 128, 8),
    Param("steps", "Denoising steps per frame", "int", 4, 1, 8, 1),
    Param("shift", "Time shift s of the sigma list", "float", 5.0, 1.0, 10.0, 0.5, valid=SHIFT_RANGE),
    Param("init_schedule", "Where frame n starts (frame-index reading)", "choice", "constant",
          choices=B.INIT_SCHEDULES, labels=tuple(INIT_SCHEDULE_LABELS.items())),
    Param("sigma_init", "sigma_init (frame-index reading)", "float", 0.5, 0.01, 1.0, 0.01),
    Param("form", "Re-noising form", "choice", "flow", choices=B.FORMS, labels=tuple(FORM_LABELS.items())),
    Param("train_step", "Training: re-noise to step k of the sigma list", "int", 1, 0, 7, 1),
    Param("window_start", "Training: window start frame", "int", 16, 2, 120, 1),
    LEVEL,
    SEED,
)
PARAM = {p.key: p for p in PARAMS}


def window_length(n_frames: int) -> int:
    """Training windows are HORIZON frames long, shorter when the rollout has fewer frames after the
    two it needs as context."""
    return min(HORIZON, n_frames - 2)


def dependent_params(n_frames: int, steps: int) -> dict[str, Param]:
    """window_start must leave a whole window of the rollout; train_step must name a step."""
    high = n_frames - window_length(n_frames)
    return {
        "window_start": PARAM["window_start"].with_range(2, high, default=min(16, high)),
        "train_step": PARAM["train_step"].with_range(0, steps - 1, default=min(1, steps - 1)),
    }


@dataclass(frozen=True)
class ReadingResult:
    reading: str
    frames: np.ndarray  # (n, 32, 32) float32 in [-1, 1]
    noise_levels: np.ndarray  # (n, steps)
    position_error: np.ndarray
    motion: np.ndarray  # ball speed, pixels per frame
    brightness: np.ndarray  # mean gray level, 0 (black) to 255 (white)


@dataclass(frozen=True)
class Truth:
    frames: np.ndarray
    motion: np.ndarray
    brightness: np.ndarray


def rollout_settings(view: BackwardView) -> BackwardView:
    """The view with only what a rollout depends on (the fields the others blank to fixed values), so a
    cache keyed by it is shared by both readings and does not change when the training window moves."""
    v = as_view(BackwardView, view)
    return replace(v, reading=B.READINGS[0], compare=False, train_step=0, window_start=0, level="", notices=())


def training_settings(view: BackwardView) -> BackwardView:
    """rollout_settings with the training window's start and step kept: the key of section 4's images."""
    v = as_view(BackwardView, view)
    return replace(rollout_settings(v), train_step=v.train_step, window_start=v.window_start)


def reading_list(view: BackwardView) -> tuple[str, ...]:
    """Which readings to run: both (chosen one first) in side-by-side mode, else the chosen one."""
    v = as_view(BackwardView, view)
    if v.compare:
        other = [r for r in B.READINGS if r != v.reading]
        return (v.reading, *other)
    return (v.reading,)


def sigma_list(view: BackwardView) -> np.ndarray:
    """The few-step σ list the page runs: steps levels at shift s."""
    v = as_view(BackwardView, view)
    return B.shifted_sigmas(v.steps, v.shift)


def run_reading(model, reading: str, view: BackwardView) -> ReadingResult:
    """One rollout of view.n_frames frames with the chosen reading, scored against the true ball."""
    v = as_view(BackwardView, view)
    sigmas = sigma_list(v)
    context, true_frames, true_positions = B.reference_clip(v.n_frames, v.seed)
    out = B.rollout(model, v.n_frames, reading, sigmas, sigma_init=v.sigma_init, seed=v.seed,
                    form=v.form, context=context, init_schedule=v.init_schedule)
    return ReadingResult(
        reading=reading,
        frames=out.frames[:, 0].numpy().astype(np.float32),
        noise_levels=out.noise_levels,
        position_error=B.position_error(out.frames, true_positions),
        motion=B.ball_speed(out.frames, previous=context),
        brightness=B.mean_gray_level(out.frames),
    )


def truth(view: BackwardView) -> Truth:
    v = as_view(BackwardView, view)
    context, frames, _ = B.reference_clip(v.n_frames, v.seed)
    return Truth(frames[:, 0].numpy().astype(np.float32), B.ball_speed(frames, previous=context),
                 B.mean_gray_level(frames))


def training_start(model, rollout_frames: np.ndarray, view: BackwardView) -> dict:
    """Self-Forcing++ at training time: a window of the student's own long rollout, re-noised to a
    denoising-step level with Eq. 1, next to a start from pure noise (numpy, (HORIZON, 32, 32))."""
    v = as_view(BackwardView, view)
    sigmas = B.shifted_sigmas(v.steps, v.shift)
    frames = torch.as_tensor(rollout_frames)[:, None]
    out = B.training_window(model, frames, v.window_start, window_length(v.n_frames),
                            float(sigmas[v.train_step]), v.seed)
    return {k: (val[:, 0].numpy() if isinstance(val, torch.Tensor) else val) for k, val in out.items()}


def summary_line(results: list[ReadingResult]) -> str:
    """One line that says how the readings differ, with numbers."""
    parts = []
    for r in results:
        within = np.nanmean(r.position_error[:HORIZON])
        late = np.nanmean(r.position_error[-HORIZON:])
        parts.append(f"{READING_LABELS[r.reading]}: position error {within:.1f} px in the first {HORIZON} "
                     f"frames, {late:.1f} px in the last {HORIZON}; ball speed {np.nanmean(r.motion):.2f} px/frame")
    return "; ".join(parts) + "."


def matrix_rows_note(matrices: list[np.ndarray], shown: int) -> str:
    """What the rows of the noise-level matrix past the first `shown` hold, checked, not assumed.

    Every reading's rows settle into one pattern after a few frames (the list again, or the entry
    level and the levels below it). When every row past the shown ones equals the last one shown,
    say so; otherwise only say how many are shown.
    """
    n = len(matrices[0])
    if n <= shown:
        return f"All {n} frames."
    repeat = all(np.array_equal(m[shown:], np.broadcast_to(m[shown - 1], m[shown:].shape), equal_nan=True)
                 for m in matrices)
    tail = f" every later row repeats frame {shown - 1}'s" if repeat else ""
    return f"The first {shown} of the {n} frames" + (f";{tail}." if repeat else ".")
