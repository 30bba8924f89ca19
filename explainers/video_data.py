"""Procedural videos: a soft-edged ball bouncing in a 32 x 32 grayscale box.

The dynamics are known exactly (constant velocity, mirror reflection off the walls), so the app can
draw the true trajectory next to a generated one and score a rollout in pixels, not by eye.

Conventions used everywhere in Noise Lab's video code:
- a frame is a float32 tensor (1, 32, 32) with values in [-1, 1]: background -1, ball centre +1;
- a position is (x, y) in pixels, x = column index, y = row index, (0, 0) the top-left pixel centre;
- a velocity is (vx, vy) in pixels per frame.
"""

from __future__ import annotations

import math

import numpy as np
import torch

SIZE = 32
BALL_RADIUS = 3.5  # pixels, where brightness crosses one half
EDGE_SOFTNESS = 0.6  # pixels; a soft edge keeps sub-pixel motion visible in the frames
# The ball's centre bounces between these bounds, so the whole disc (and most of its soft edge) stays inside.
POS_MIN = BALL_RADIUS + 1.0
POS_MAX = SIZE - 1 - POS_MIN
SPEED_RANGE = (1.0, 2.5)  # pixels per frame


def _check_count(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def reflect(p: torch.Tensor, low: float = POS_MIN, high: float = POS_MAX) -> torch.Tensor:
    """Fold an unbounded coordinate into [low, high] as a mirror would (a triangle wave).

    A ball moving at constant speed between two walls is, unfolded, a ball moving in a straight
    line through mirror copies of the box; folding back gives the bounced position in closed form.
    """
    width = high - low
    q = torch.remainder(p - low, 2 * width)
    return low + torch.where(q <= width, q, 2 * width - q)


def true_trajectory(start_pos, velocity, n_frames: int) -> torch.Tensor:
    """Ball centre at frames 0 .. n_frames-1: reflect(start_pos + k * velocity), as (n_frames, 2) float32.

    start_pos and velocity: (2,) or batched (..., 2); the result then has shape (..., n_frames, 2).
    """
    n_frames = _check_count("n_frames", n_frames, 1, 100_000)
    start = torch.as_tensor(start_pos, dtype=torch.float64)
    vel = torch.as_tensor(velocity, dtype=torch.float64)
    k = torch.arange(n_frames, dtype=torch.float64)[:, None]  # (n, 1)
    return reflect(start[..., None, :] + k * vel[..., None, :]).to(torch.float32)


def render(positions: torch.Tensor) -> torch.Tensor:
    """Draw a ball at each position: (..., 2) positions -> (..., 1, 32, 32) frames in [-1, 1].

    Brightness is a sigmoid of the distance to the centre, 1/2 exactly at BALL_RADIUS.
    """
    positions = torch.as_tensor(positions, dtype=torch.float32)
    coords = torch.arange(SIZE, dtype=torch.float32)
    dx = coords[None, :] - positions[..., 0, None, None]  # columns vary along the last axis
    dy = coords[:, None] - positions[..., 1, None, None]
    distance = torch.sqrt(dx**2 + dy**2)
    brightness = torch.sigmoid((BALL_RADIUS - distance) / EDGE_SOFTNESS)
    return (2 * brightness - 1).unsqueeze(-3)


def random_start(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """batch random (start_pos, velocity) pairs: position uniform in the box, speed uniform in
    SPEED_RANGE, direction uniform on the circle. Both (batch, 2) float32."""
    start = POS_MIN + (POS_MAX - POS_MIN) * torch.rand(batch, 2, generator=generator)
    speed = SPEED_RANGE[0] + (SPEED_RANGE[1] - SPEED_RANGE[0]) * torch.rand(batch, generator=generator)
    angle = 2 * math.pi * torch.rand(batch, generator=generator)
    velocity = speed[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return start, velocity


def make_batch(batch: int, n_frames: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """batch independent clips: frames (batch, n_frames, 1, 32, 32) and positions (batch, n_frames, 2)."""
    batch = _check_count("batch", batch, 1, 100_000)
    n_frames = _check_count("n_frames", n_frames, 1, 100_000)
    start, velocity = random_start(batch, generator)
    positions = true_trajectory(start, velocity, n_frames)
    return render(positions), positions


def make_clip_with_motion(n_frames: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like make_clip, and also the start position and velocity that generated it."""
    n_frames = _check_count("n_frames", n_frames, 1, 100_000)
    generator = torch.Generator().manual_seed(int(seed))
    start, velocity = random_start(1, generator)
    positions = true_trajectory(start[0], velocity[0], n_frames)
    return render(positions), positions, start[0], velocity[0]


def make_clip(n_frames: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One clip, the same for the same seed: frames (n_frames, 1, 32, 32) float32 in [-1, 1] and
    the true ball positions (n_frames, 2) as (x, y) pixels."""
    frames, positions, _, _ = make_clip_with_motion(n_frames, seed)
    return frames, positions
