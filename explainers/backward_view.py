"""Everything the backward-noise-initialization page computes, as plain functions of its view
(state.BackwardView)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from explainers import backward_init as B
from explainers import figures as F
from explainers.frame_model import N_CONTEXT
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


# ---- figures and their captions, in page order ---------------------------------------------------

def matrix_shown(results: list) -> F.Shown:
    """Figure 1: the σ of every model call, one matrix per reading (the first MATRIX_ROWS frames)."""
    matrices = [(READING_LABELS[r.reading], r.noise_levels) for r in results]
    shown = min(len(results[0].noise_levels), MATRIX_ROWS)
    return F.Shown(F.noise_level_matrices(matrices, max_frames=shown),
                   "Rows are frames n, columns the denoising-step slots k; colour and number are σ. Blank cells are "
                   f"skipped steps. σ list: {', '.join(f'{s:.4f}' for s in results[0].noise_levels[0])}. "
                   + matrix_rows_note([m for _, m in matrices], shown))


def frame_rows(results: list, truth) -> list[tuple[str, np.ndarray]]:
    """(name, frames) of the true video and each reading's rollout, top to bottom."""
    return [("true video", truth.frames)] + [(READING_LABELS[r.reading], r.frames) for r in results]


def strip_shown(rows: list[tuple[str, np.ndarray]], n_frames: int, most: int = 12) -> F.Shown:
    """Figure 2: `most` evenly spaced frames of every row."""
    ids = list(np.linspace(0, n_frames - 1, min(n_frames, most)).round().astype(int))
    return F.Shown(F.frame_strips(rows, ids),
                   f"{len(ids)} of the {n_frames} frames, evenly spaced: the true video (top) and each reading's "
                   f"rollout from the same {N_CONTEXT} context frames and the same noise.")


def gif_of(rows: list[tuple[str, np.ndarray]]) -> bytes:
    """Every row side by side as one animated GIF (encoded only when asked for: a fifth of the page's time)."""
    return B.frames_to_gif(np.concatenate([f for _, f in rows], axis=2), fps=6)


def scores_shown(results: list, truth, n_frames: int) -> F.Shown:
    """Figure 3: position error, ball speed and brightness per frame, with the training horizon."""
    label = READING_LABELS
    panels = [
        ("position error vs true ball (px)", [(label[r.reading], r.position_error) for r in results]),
        ("ball speed (px per frame)",
         [(label[r.reading], r.motion) for r in results] + [("true video", truth.motion, F.REFERENCE)]),
        ("mean brightness (0–255)",
         [(label[r.reading], r.brightness) for r in results] + [("true video", truth.brightness, F.REFERENCE)]),
    ]
    return F.Shown(F.per_frame_curves(np.arange(n_frames), panels, HORIZON),
                   f"Per-frame scores; the dashed line is the {HORIZON}-frame training horizon. Brightness is the "
                   "mean gray level of the pictures, 0 black to 255 white. " + summary_line(results))


def training_window_shown(tw: dict, window_start: int, n_frames: int) -> F.Shown:
    """Figure 4: the student's window, re-noised by Eq. 1, against a start from pure noise."""
    ids = [f"n={window_start + i}" for i in range(window_length(n_frames))]
    return F.Shown(F.image_grid([
        ("the student's own rollout (clean)", tw["clean"]),
        (f"Eq. 1: re-noised to σ = {tw['sigma']:.4f} (what Self-Forcing++ trains from)", tw["renoised"]),
        ("the model's one-step prediction from it", tw["x0_hat_renoised"]),
        ("pure noise start (σ = 1)", tw["pure_noise"]),
        ("the model's one-step prediction from pure noise", tw["x0_hat_pure_noise"]),
    ], col_labels=ids), f"A window of {len(ids)} frames starting at frame {window_start} of the denoising-step "
        "rollout. Re-noising keeps the rollout's own (possibly drifted) content visible under the noise, so the "
        "student learns to repair its own errors; from pure noise only the context says where the ball is.")


def key_numbers(results: list[ReadingResult], truth: Truth) -> list[tuple[str, float, str]]:
    """The numbers the pin-and-compare table sets side by side, per reading of t."""
    rows = []
    for r in results:
        name = READING_LABELS[r.reading]
        rows += [(f"mean position error, px ({name})", float(np.nanmean(r.position_error)), ".2f"),
                 (f"mean ball speed, px/frame ({name})", float(np.nanmean(r.motion)), ".3f")]
    return rows + [("mean ball speed, px/frame (true video)", float(np.nanmean(truth.motion)), ".3f")]
