"""Backward noise initialization, Eq. 1 of Self-Forcing++ (Cui et al. 2025, arXiv 2510.02283).

As printed:  x_t = (1 - sigma_t) * x0_hat + sigma_t * eps,   x0_hat = x_{t-1} - sigma_{t-1} * epshat_theta(x_{t-1}, t-1)

The equation re-noises a clean prediction x0_hat to a noise level sigma_t with fresh Gaussian noise.
The paper names the network a noise prediction epshat_theta; the frame model here is a flow-matching
model whose output is a velocity v = eps - x0, and x0_hat = x - sigma * v_hat is exact for it
(x0_from_eps and eps_from_v show that the two are one network written two ways).
What "t" counts is ambiguous in the paper's text, and the two readings give different generators:

- reading="denoising_step" (Algorithm 1 and the appendix of Self-Forcing++, and the Self-Forcing
  codebase it builds on; the Self-Forcing++ code is not released): t is a denoising step. Every frame
  starts from pure noise; after each step the prediction x0_hat is re-noised with fresh noise to the
  next, lower level. Frames are coupled only through the context (the clean frames before them).
- reading="temporal_index" (the literal reading of "t = 1 .. N"): t is the frame index. Frame n
  starts from add_noise(x0_hat of frame n-1, eps, sigma) and is denoised from that sigma on.
  Which sigma is `init_schedule` (entry_levels): "constant" is this app's own construction, the same
  sigma_init for every frame; "frame_indexed" indexes the few-step list by the frame, as Eq. 1 read
  literally does. A small sigma copies the previous frame (motion freezes); sigma = 1 ignores it.

Schedules produce arrays, `rollout` consumes them, and a callback lets a figure watch every step
(the k-diffusion pattern). Metrics at the end score a rollout against the known ball trajectory.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch

from explainers.checks import check_int
from explainers.frame_model import N_CONTEXT, x0_from_v
from explainers.schedules import SHIFT_RANGE, flow_equivalent_alpha_bar, flow_shift
from explainers.video_data import SIZE, make_clip

READINGS = ("denoising_step", "temporal_index")
FORMS = ("flow", "vp")
INIT_SCHEDULES = ("constant", "frame_indexed")
SELF_FORCING_TIMESTEPS = (1000, 750, 500, 250)


# --- noise levels -----------------------------------------------------------------------------------

def shifted_sigmas(steps: int = 4, shift: float = 5.0) -> np.ndarray:
    """The few-step sigma list: timesteps 1000, 750, 500, 250 (for steps=4) over 1000, shifted.

    steps evenly spaced timesteps from 1000 down (1000 - 1000 k / steps), divided by 1000 and warped
    by schedules.flow_shift. Shift 5 gives [1, 0.9375, 0.8333, 0.625], Self-Forcing's denoising_step_list.
    Returned as float64, highest (pure noise, sigma = 1) first. shift must lie in schedules.SHIFT_RANGE.
    """
    steps = check_int("steps", steps, 1, 1000)
    if isinstance(shift, bool) or not isinstance(shift, (int, float)):
        raise ValueError(f"shift must be a number in [{SHIFT_RANGE[0]:g}, {SHIFT_RANGE[1]:g}], got {shift!r}")
    timesteps = 1000 - 1000 * np.arange(steps) / steps
    return flow_shift(timesteps / 1000, float(shift))


def _check_sigmas(sigmas) -> np.ndarray:
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or not 1 <= len(sigmas) <= 1000:
        raise ValueError(f"sigmas must be a 1-D list of 1 to 1000 noise levels, got shape {sigmas.shape}")
    # Every frame of the denoising-step reading starts from pure noise, which is sigma = 1.
    if not np.isclose(sigmas[0], 1.0, atol=1e-6):
        raise ValueError(f"sigmas must start at 1 (pure noise), got sigmas[0] = {sigmas[0]}")
    if not (np.all(np.diff(sigmas) < 0) and sigmas[-1] > 0):
        raise ValueError(f"sigmas must be strictly decreasing and stay in (0, 1], got {sigmas.tolist()}")
    return sigmas


def _check_sigma(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def temporal_levels(sigmas, sigma_init: float) -> np.ndarray:
    """The levels a frame passes through in the temporal-index reading when it enters at sigma_init.

    Our choice (the paper does not fix it): start at sigma_init, then continue with the levels of
    the few-step list that lie strictly below sigma_init. sigma_init = 1 gives the full list back;
    sigma_init = 0.7 with the shift-5 list gives [0.7, 0.625]: one step skipped at the top and
    replaced by sigma_init, two steps skipped entirely.
    """
    sigmas = _check_sigmas(sigmas)
    sigma_init = _check_sigma("sigma_init", sigma_init)
    # sigma_init takes the place of the first (pure-noise) slot; the later slots below it follow.
    later = sigmas[1:]
    return np.concatenate([[sigma_init], later[later < sigma_init]])


def entry_levels(n_frames: int, sigmas, sigma_init: float = 0.5, init_schedule: str = "constant") -> np.ndarray:
    """The sigma at which each frame starts in the temporal-index reading, (n_frames,).

    Frame 0 has no earlier prediction and starts from pure noise, sigmas[0] = 1. For frame n >= 1:
    - "constant" (this app's own construction): sigma_init for every frame.
    - "frame_indexed" (Eq. 1 read literally, sigma_t with t the frame index): sigmas[n] of the
      few-step list, held at its last level once n runs past the list. With the shift-5 list:
      1, 0.9375, 0.8333, 0.625, 0.625, ... Frame n then runs the list from slot n on, so the
      noise-level matrix is a staircase.
    """
    n_frames = check_int("n_frames", n_frames, 1, 10_000)
    sigmas = _check_sigmas(sigmas)
    sigma_init = _check_sigma("sigma_init", sigma_init)
    _check_choice("init_schedule", init_schedule, INIT_SCHEDULES)
    if init_schedule == "constant":
        levels = np.full(n_frames, sigma_init)
    else:
        levels = sigmas[np.minimum(np.arange(n_frames), len(sigmas) - 1)].copy()
    levels[0] = sigmas[0]
    return levels


def noise_level_matrix(reading: str, n_frames: int, sigmas, sigma_init: float = 0.5,
                       init_schedule: str = "constant") -> np.ndarray:
    """The sigma at which each frame is denoised at each step: (n_frames, steps), NaN where none.

    Columns are the slots of the few-step list. In the denoising-step reading every row is the
    whole list. In the temporal-index reading frame 0 has no earlier prediction to start from, so
    it runs the whole list from pure noise; each later frame enters at its entry level (entry_levels)
    and then uses the levels below it (temporal_levels) in the last slots; skipped top slots are NaN.
    """
    _check_choice("reading", reading, READINGS)
    n_frames = check_int("n_frames", n_frames, 1, 10_000)
    sigmas = _check_sigmas(sigmas)
    sigma_init = _check_sigma("sigma_init", sigma_init)
    _check_choice("init_schedule", init_schedule, INIT_SCHEDULES)
    matrix = np.tile(sigmas, (n_frames, 1))
    if reading == "temporal_index" and n_frames > 1:
        entries = entry_levels(n_frames, sigmas, sigma_init, init_schedule)
        matrix[1:] = np.nan
        for entry in np.unique(entries[1:]):  # few distinct entry levels: one row pattern each
            levels = temporal_levels(sigmas, float(entry))
            rows = 1 + np.flatnonzero(entries[1:] == entry)
            matrix[rows[:, None], np.arange(len(sigmas) - len(levels), len(sigmas))] = levels
    return matrix


# --- the forward process in both notations ----------------------------------------------------------

def vp_to_flow_scale(sigma):
    """The factor c with x_flow = c * x_vp at the same level: c = 1 / (sqrt(abar) + sqrt(1 - abar)).

    Derivation: sqrt(abar) = (1-sigma) / r and sqrt(1-abar) = sigma / r with r = sqrt((1-sigma)^2 + sigma^2),
    so x_vp = ((1-sigma) x0 + sigma eps) / r = x_flow / r, and sqrt(abar) + sqrt(1-abar) = 1 / r.
    The two states hold the same picture at different overall scales (r <= 1 shrinks the flow state
    mid-way, VP keeps unit variance); the model was trained on flow states, so VP states are
    rescaled by c = r before every model call. c = 1 at sigma = 0 and sigma = 1.
    """
    return math.sqrt((1 - sigma) ** 2 + sigma**2)


def add_noise(x0: torch.Tensor, eps: torch.Tensor, sigma: float, form: str = "flow") -> torch.Tensor:
    """Noise x0 to level sigma (Eq. 1's re-noising step).

    form="flow": (1 - sigma) x0 + sigma eps (Wan, Self-Forcing).
    form="vp":   sqrt(abar) x0 + sqrt(1 - abar) eps with abar = flow_equivalent_alpha_bar(sigma)
                 (the VP form of Eq. 1); equals the flow state divided by vp_to_flow_scale(sigma).
    """
    _check_choice("form", form, FORMS)
    sigma = float(sigma)
    if not 0 <= sigma <= 1:
        raise ValueError(f"sigma must be a number in [0, 1], got {sigma!r}")
    if form == "flow":
        return (1 - sigma) * x0 + sigma * eps
    abar = flow_equivalent_alpha_bar(sigma)
    return math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps


def to_flow_state(x: torch.Tensor, sigma: float, form: str) -> torch.Tensor:
    """The flow-matching state the model expects, from a state written in `form`."""
    return x * vp_to_flow_scale(sigma) if form == "vp" else x


def eps_from_v(x, v_hat, sigma):
    """The noise prediction of a velocity network at state x: eps_hat = x + (1 - sigma) v_hat.

    From x = (1 - sigma) x0 + sigma eps and v = eps - x0: x + (1 - sigma) v = eps. A network that
    outputs v_hat and one that outputs eps_hat = eps_from_v(x, v_hat, sigma) are the same network.
    """
    return x + (1 - sigma) * v_hat


def x0_from_eps(x, eps_hat, sigma):
    """Clean prediction from a noise prediction in flow form: x0_hat = (x - sigma eps_hat) / (1 - sigma).

    Equals x - sigma v_hat (frame_model.x0_from_v) when eps_hat = eps_from_v(x, v_hat, sigma), for any
    v_hat. Undefined at sigma = 1, where x holds no x0 at all.
    """
    if not sigma < 1:
        raise ValueError(f"sigma must be below 1 for an x0 from a noise prediction, got {sigma!r}")
    return (x - sigma * eps_hat) / (1 - sigma)


# --- rollouts -----------------------------------------------------------------------------------------

class Rollout(NamedTuple):
    frames: torch.Tensor  # (n_frames, 1, 32, 32): the final x0_hat of each generated frame
    noise_levels: np.ndarray  # (n_frames, steps): sigma of every model call, NaN where a slot is skipped


def reference_clip(n_frames: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The true video a seeded rollout continues: (context, frames, positions).

    context: the first N_CONTEXT frames, what `rollout` is given by default; frames and positions:
    the n_frames that truly follow, to compare a rollout with.
    """
    frames, positions = make_clip(N_CONTEXT + n_frames, seed)
    return frames[:N_CONTEXT], frames[N_CONTEXT:], positions[N_CONTEXT:]


def _initial_context(context, seed: int, device) -> list[torch.Tensor]:
    """The last N_CONTEXT clean frames, newest first, each (1, 1, 32, 32)."""
    if context is None:
        context = make_clip(N_CONTEXT, seed)[0]
    context = torch.as_tensor(context, dtype=torch.float32)
    if context.ndim == 3:
        context = context[None]
    if context.ndim != 4 or context.shape[1:] != (1, SIZE, SIZE) or len(context) < 1:
        raise ValueError(f"context must be clean frames of shape (k, 1, {SIZE}, {SIZE}) with k >= 1, "
                         f"got {tuple(context.shape)}")
    frames = [f[None].to(device) for f in context]
    # With a single frame the model sees the ball standing still (n-2 = n-1).
    while len(frames) < N_CONTEXT:
        frames.insert(0, frames[0])
    return frames[::-1][:N_CONTEXT]


@torch.no_grad()
def rollout(model, n_frames: int, reading: str, sigmas=None, sigma_init: float = 0.5, seed: int = 0,
            form: str = "flow", context=None, callback: Callable[[dict], None] | None = None,
            init_schedule: str = "constant") -> Rollout:
    """Generate n_frames frames one after another with a few denoising steps each.

    Every step: x0_hat = x - sigma_k * v_theta(x, context, sigma_k); then Eq. 1 re-noises x0_hat
    with fresh noise to the next level. The last step's x0_hat is the frame, and it becomes
    context for the next frame. `reading` decides where a frame starts (module docstring,
    noise_level_matrix): pure noise, or the previous frame's x0_hat re-noised to its entry level
    (sigma_init for init_schedule="constant", the frame-indexed list level for "frame_indexed").

    sigmas: defaults to shifted_sigmas(4, 5.0). context: clean frames (k, 1, 32, 32), oldest
    first; default: the first frames of make_clip(N_CONTEXT, seed). form="vp" runs the same
    sampler with states written in VP form (converted to flow form for each model call), and
    gives the same frames up to rounding.

    Randomness: all noise is one (n_frames, steps, 1, 32, 32) draw from a CPU Generator seeded with
    seed. Frame n starts from noise[n, 0] and is re-noised into slot k with noise[n, k], in both
    readings: with sigma_init = 1 (and init_schedule="constant") the two readings give identical frames.

    callback: called after every model call with {'frame', 'step' (slot index), 'sigma', 'x'
    (the flow-form state the model saw), 'x0_hat'}.
    """
    n_frames = check_int("n_frames", n_frames, 1, 10_000)
    _check_choice("reading", reading, READINGS)
    _check_choice("form", form, FORMS)
    sigmas = _check_sigmas(shifted_sigmas() if sigmas is None else sigmas)
    sigma_init = _check_sigma("sigma_init", sigma_init)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    device = next(model.parameters()).device
    levels = noise_level_matrix(reading, n_frames, sigmas, sigma_init, init_schedule)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n_frames, len(sigmas), 1, 1, SIZE, SIZE, generator=generator).to(device)
    recent = _initial_context(context, seed, device)
    frames = []
    for n in range(n_frames):
        slots = np.flatnonzero(~np.isnan(levels[n]))
        if reading == "temporal_index" and n > 0:
            x = add_noise(frames[-1], noise[n, 0], levels[n, slots[0]], form)  # Eq. 1 across frames
        else:
            x = noise[n, 0]  # pure noise: the same in flow and VP form
        context_frames = torch.cat(recent, dim=1)  # (1, N_CONTEXT, 32, 32), newest first
        for i, k in enumerate(slots):
            sigma = float(levels[n, k])
            x_flow = to_flow_state(x, sigma, form)
            x0_hat = x0_from_v(x_flow, model(x_flow, context_frames, sigma), sigma)
            if callback is not None:
                callback({"frame": n, "step": int(k), "sigma": sigma, "x": x_flow, "x0_hat": x0_hat})
            if i + 1 < len(slots):
                k_next = slots[i + 1]
                x = add_noise(x0_hat, noise[n, k_next], levels[n, k_next], form)  # Eq. 1 within a frame
        frames.append(x0_hat)
        recent = [x0_hat] + recent[:-1]
    return Rollout(torch.cat(frames).cpu(), levels)


@torch.no_grad()
def training_window(model, long_rollout: torch.Tensor, window_start: int, window_len: int,
                    step_sigma: float | None = None, seed: int = 0) -> dict:
    """What the student is given at training time in Self-Forcing++, next to what it would get otherwise.

    A window of a long self-generated rollout is re-noised with Eq. 1 to a denoising-step level
    step_sigma (None: one level of shifted_sigmas() drawn with the seed, as training samples one).
    The same eps alone is the "pure noise" start. For both starts the model makes one prediction
    x0_hat with the rollout's own previous frames as context: from the re-noised start it can
    recover the rollout's (possibly drifted) content, from pure noise only what the context implies.

    Returns {'sigma', 'clean', 'renoised', 'pure_noise', 'x0_hat_renoised', 'x0_hat_pure_noise'},
    each frame stack (window_len, 1, 32, 32).
    """
    long_rollout = torch.as_tensor(long_rollout, dtype=torch.float32)
    if long_rollout.ndim != 4 or long_rollout.shape[1:] != (1, SIZE, SIZE):
        raise ValueError(f"long_rollout must be frames (n, 1, {SIZE}, {SIZE}), got {tuple(long_rollout.shape)}")
    n = len(long_rollout)
    if n < N_CONTEXT + 1:
        raise ValueError(f"long_rollout must have at least {N_CONTEXT + 1} frames, got {n}")
    window_len = check_int("window_len", window_len, 1, n - N_CONTEXT)
    # Each window frame needs the N_CONTEXT rollout frames before it as context.
    window_start = check_int("window_start", window_start, N_CONTEXT, n - window_len)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    generator = torch.Generator().manual_seed(seed)
    if step_sigma is None:
        levels = shifted_sigmas()
        step_sigma = float(levels[torch.randint(len(levels), (1,), generator=generator).item()])
    step_sigma = _check_sigma("step_sigma", step_sigma)
    eps = torch.randn(window_len, 1, SIZE, SIZE, generator=generator)

    device = next(model.parameters()).device
    idx = torch.arange(window_start, window_start + window_len)
    clean = long_rollout[idx]
    # Channel 0 is frame t-1, channel 1 is frame t-2, as in rollout().
    context = torch.cat([long_rollout[idx - j] for j in range(1, N_CONTEXT + 1)], dim=1).to(device)
    renoised = add_noise(clean, eps, step_sigma)

    def predict(x, sigma):
        x = x.to(device)
        return x0_from_v(x, model(x, context, sigma), sigma).cpu()

    return {"sigma": step_sigma, "clean": clean, "renoised": renoised, "pure_noise": eps,
            "x0_hat_renoised": predict(renoised, step_sigma), "x0_hat_pure_noise": predict(eps, 1.0)}


# --- metrics: per frame, numpy out ------------------------------------------------------------------

def _as_frames(frames) -> np.ndarray:
    x = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    x = x.astype(np.float64)
    if x.ndim == 4:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"frames must have shape (n, 1, H, W) or (n, H, W), got {x.shape}")
    return x


def ball_position(frames) -> np.ndarray:
    """Intensity-weighted centroid of each frame, (n, 2) as (x, y) pixels.

    Weights are the brightness above the frame's median: the ball covers a few percent of the
    frame, so the median is the background level, and a background that drifts brighter (or
    carries faint noise) does not drag the centroid to the middle. A frame with no pixel above
    its median gives NaN.
    """
    x = _as_frames(frames)
    weights = np.clip(x - np.median(x, axis=(1, 2), keepdims=True), 0, None)
    total = weights.sum(axis=(1, 2))
    rows, cols = np.mgrid[0:x.shape[1], 0:x.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (weights * cols).sum(axis=(1, 2)) / total
        cy = (weights * rows).sum(axis=(1, 2)) / total
    return np.stack([cx, cy], axis=1)


def position_error(frames, true_positions) -> np.ndarray:
    """Distance in pixels between each frame's ball_position and the true ball centre, (n,)."""
    true_positions = np.asarray(torch.as_tensor(true_positions).cpu(), dtype=np.float64)
    return np.linalg.norm(ball_position(frames) - true_positions, axis=1)


def motion_magnitude(frames, previous=None) -> np.ndarray:
    """Mean absolute difference of each frame to the one before it, (n,).

    Frame 0 compares with `previous` (e.g. the last context frame) when given, else it is NaN.
    Values near zero over many frames are motion stagnation.
    """
    x = _as_frames(frames)
    first = np.nan if previous is None else np.abs(x[0] - _as_frames(previous)[-1]).mean()
    return np.concatenate([[first], np.abs(np.diff(x, axis=0)).mean(axis=(1, 2))])


def ball_speed(frames, previous=None) -> np.ndarray:
    """How far the ball's centroid moved since the frame before, in pixels per frame, (n,).

    Unlike motion_magnitude it ignores faint background noise, so motion stagnation (a ball
    that slows to a stop) shows as speeds falling below the data's 1 to 2.5 pixels per frame.
    Frame 0 compares with `previous` when given, else it is NaN.
    """
    positions = ball_position(frames)
    if previous is not None:
        positions = np.concatenate([ball_position(previous)[-1:], positions])
    else:
        positions = np.concatenate([np.full((1, 2), np.nan), positions])
    return np.linalg.norm(np.diff(positions, axis=0), axis=1)


def mean_brightness(frames) -> np.ndarray:
    """Mean pixel value of each frame in frame units [-1, 1], (n,). The data's is about -0.92;
    a rising curve is the over-exposure drift of long rollouts."""
    return _as_frames(frames).mean(axis=(1, 2))


def mean_gray_level(frames) -> np.ndarray:
    """Mean brightness of each frame on the 0 (black) to 255 (white) scale of the pictures, (n,).

    The same mapping as the frame images and the GIF: frame values are clipped to [-1, 1] and mapped
    linearly, -1 -> 0, 1 -> 255. The data's dark background with one bright ball averages about 10.
    """
    return ((np.clip(_as_frames(frames), -1, 1) + 1) * 127.5).mean(axis=(1, 2))


def frames_to_gif(frames, fps: float = 8.0, scale: int = 4) -> bytes:
    """An animated, looping GIF of the frames (values clipped from [-1, 1] to gray levels), encoded by
    imageio's Pillow plugin. Each pixel becomes a scale x scale block so a 32 x 32 frame stays sharp.

    Pillow merges identical consecutive frames into one longer frame, so a frozen video decodes to
    fewer frames with the same total duration.
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.5 <= fps <= 50:
        raise ValueError(f"fps must be a number in [0.5, 50], got {fps!r}")
    scale = check_int("scale", scale, 1, 32)
    import imageio.v3 as iio  # imported here: only the GIF export needs it

    x = _as_frames(frames)
    gray = np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8)
    gray = gray.repeat(scale, axis=1).repeat(scale, axis=2)
    return iio.imwrite("<bytes>", gray, extension=".gif", duration=1000 / fps, loop=0)
