"""The backward-noise-initialization page's claims, one test each (explainers/prose/backward_init.py, CLAIMS).

Mathematical claims are checked on random cases with hypothesis; claims about the shipped frame model
on its rollouts, cached per module so the file stays fast.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explainers import backward_init as B
from explainers import backward_view as V
from explainers import schedules as S
from explainers.frame_model import load_frame_model, x0_from_v
from explainers.video_data import SIZE

MATH = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
MODEL = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SIGMA = st.floats(1e-3, 0.999)
SEED = st.integers(0, 2**31 - 1)


def pair(seed: int, n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """A random clean sample x0 and noise eps, float64 so the identities hold to ~1e-12."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, n, generator=g, dtype=torch.float64).unbind(0)


@pytest.fixture(scope="module")
def model():
    return load_frame_model()


@pytest.fixture(scope="module")
def speeds(model):
    """Mean ball speed (px/frame) of 24-frame frame-index rollouts, by sigma_init, and the true video's."""
    context, _, _ = B.reference_clip(24, 0)
    out = {si: np.nanmean(B.ball_speed(B.rollout(model, 24, "temporal_index", sigma_init=si, seed=0,
                                                 context=context).frames, previous=context))
           for si in (0.05, 0.2, 0.5, 1.0)}
    context, frames, _ = B.reference_clip(24, 0)
    out["true"] = np.nanmean(B.ball_speed(frames, previous=context))
    return out


# --- Eq. 1 as printed and as run ------------------------------------------------------------------------

@MATH
@given(seed=SEED, sigma=SIGMA)
def test_x0_from_velocity_is_exact(seed, sigma):
    """x = (1 - σ) x0 + σ ε and v = ε - x0 give x - σ v = x0: the flow form recovers x0 exactly."""
    x0, eps = pair(seed)
    x = B.add_noise(x0, eps, sigma)
    torch.testing.assert_close(x0_from_v(x[None, None, None], (eps - x0)[None, None, None], sigma)[0, 0, 0], x0,
                               rtol=0, atol=1e-12)


@MATH
@given(seed=SEED, sigma=SIGMA, v_seed=SEED)
def test_eps_form_and_v_form_of_eq1_agree(seed, sigma, v_seed):
    """ε̂ = x + (1 - σ) v̂ turns the ε-form x̂0 = (x - σ ε̂)/(1 - σ) into the v-form x - σ v̂, for ANY network
    output v̂; with the true velocity, ε̂ is the true noise."""
    x0, eps = pair(seed)
    x = B.add_noise(x0, eps, sigma)
    v_hat = pair(v_seed)[0]  # an arbitrary network output, not the true velocity
    eps_hat = B.eps_from_v(x, v_hat, sigma)
    torch.testing.assert_close(B.x0_from_eps(x, eps_hat, sigma), x - sigma * v_hat, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(B.eps_from_v(x, eps - x0, sigma), eps, rtol=0, atol=1e-12)


def test_x0_from_eps_refuses_pure_noise():
    with pytest.raises(ValueError, match="sigma"):
        B.x0_from_eps(torch.zeros(3), torch.zeros(3), 1.0)


def test_shift5_list_is_self_forcings():
    """Timesteps 1000, 750, 500, 250 over 1000, shifted with s = 5: 1, 0.9375, 0.8333, 0.625."""
    np.testing.assert_allclose(B.shifted_sigmas(4, 5.0), [1.0, 0.9375, 5 / 6, 0.625], rtol=0, atol=1e-12)


@MATH
@given(seed=SEED, sigma=st.floats(0.0, 1.0))
def test_vp_state_is_the_flow_state_times_a_factor(seed, sigma):
    """The VP state √ᾱ x0 + √(1-ᾱ) ε is the flow state times √ᾱ + √(1-ᾱ), ᾱ = (1-σ)²/((1-σ)² + σ²)."""
    x0, eps = pair(seed)
    abar = S.flow_equivalent_alpha_bar(sigma)
    torch.testing.assert_close(B.add_noise(x0, eps, sigma, "vp"),
                               B.add_noise(x0, eps, sigma, "flow") * (np.sqrt(abar) + np.sqrt(1 - abar)),
                               rtol=1e-6, atol=1e-6)


@MODEL
@given(seed=SEED, reading=st.sampled_from(B.READINGS), sigma_init=st.floats(0.05, 1.0))
def test_flow_and_vp_forms_give_the_same_frames(model, seed, reading, sigma_init):
    flow = B.rollout(model, 3, reading, sigma_init=sigma_init, seed=seed, form="flow").frames
    vp = B.rollout(model, 3, reading, sigma_init=sigma_init, seed=seed, form="vp").frames
    torch.testing.assert_close(vp, flow, rtol=1e-4, atol=1e-4)  # float32 rounding only


# --- the two readings --------------------------------------------------------------------------------

@MODEL
@given(seed=SEED, steps=st.integers(1, 6), shift=st.floats(1.0, 10.0))
def test_every_denoising_step_frame_starts_from_pure_noise(model, seed, steps, shift):
    """Each frame's first model call is at σ = 1 on that frame's own fresh noise, never on an earlier frame."""
    sigmas = B.shifted_sigmas(steps, shift)
    starts = []
    out = B.rollout(model, 4, "denoising_step", sigmas, seed=seed,
                    callback=lambda info: starts.append(info) if info["step"] == 0 else None)
    noise = torch.randn(4, steps, 1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    assert [s["frame"] for s in starts] == [0, 1, 2, 3] and all(s["sigma"] == 1.0 for s in starts)
    for n, s in enumerate(starts):
        torch.testing.assert_close(s["x"], noise[n, 0], rtol=0, atol=0)
    assert (out.noise_levels[:, 0] == 1.0).all()


def test_denoising_step_frames_are_coupled_only_through_the_context(model):
    """Frame 2, recomputed from its own noise and the two frames before it as context, is the rollout's frame 2."""
    sigmas = B.shifted_sigmas()
    out = B.rollout(model, 3, "denoising_step", sigmas, seed=7)
    noise = torch.randn(3, len(sigmas), 1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
    context = torch.cat([out.frames[1:2], out.frames[0:1]], dim=1)  # newest first
    x = noise[2, 0]
    with torch.no_grad():
        for k, sigma in enumerate(sigmas):
            x0_hat = x0_from_v(x, model(x, context, float(sigma)), float(sigma))
            if k + 1 < len(sigmas):
                x = B.add_noise(x0_hat, noise[2, k + 1], float(sigmas[k + 1]))
    torch.testing.assert_close(x0_hat[0], out.frames[2], rtol=0, atol=1e-6)


@MODEL
@given(seed=SEED, steps=st.integers(1, 6), shift=st.floats(1.0, 10.0))
def test_both_readings_agree_exactly_at_sigma_init_one(model, seed, steps, shift):
    sigmas = B.shifted_sigmas(steps, shift)
    a = B.rollout(model, 3, "denoising_step", sigmas, seed=seed).frames
    b = B.rollout(model, 3, "temporal_index", sigmas, sigma_init=1.0, seed=seed).frames
    assert torch.equal(a, b)


def test_tiny_sigma_init_copies_the_previous_frame(model):
    frames = B.rollout(model, 8, "temporal_index", sigma_init=1e-3, seed=0).frames
    assert (frames[1:] - frames[:-1]).abs().max().item() < 0.05  # on a scale of -1 .. 1


def test_small_sigma_init_freezes_motion(speeds):
    """Ball speed falls as σ_init goes to 0; at 0.05 it is a small fraction of the true video's."""
    by_sigma = [speeds[si] for si in (0.05, 0.2, 0.5, 1.0)]
    assert all(a < b for a, b in zip(by_sigma, by_sigma[1:])), speeds
    assert speeds[0.05] < 0.15 * speeds["true"], speeds


@MATH
@given(n_frames=st.integers(2, 40), steps=st.integers(1, 8), shift=st.floats(1.0, 10.0),
       sigma_init=st.floats(0.01, 1.0))
def test_constant_sigma_init_is_one_construction_and_the_literal_variant_indexes_by_frame(n_frames, steps, shift,
                                                                                       sigma_init):
    """constant: every later frame enters at σ_init. frame_indexed: frame n enters at level n of the list
    (the last level once past the end) and runs the list from slot n on: a staircase."""
    sigmas = B.shifted_sigmas(steps, shift)
    const = B.entry_levels(n_frames, sigmas, sigma_init, "constant")
    literal = B.entry_levels(n_frames, sigmas, sigma_init, "frame_indexed")
    assert const[0] == literal[0] == 1.0 and (const[1:] == sigma_init).all()
    n = np.arange(n_frames)
    np.testing.assert_array_equal(literal, sigmas[np.minimum(n, steps - 1)])
    m = B.noise_level_matrix("temporal_index", n_frames, sigmas, sigma_init, "frame_indexed")
    for row, k in zip(m, np.minimum(n, steps - 1)):
        assert np.isnan(row[:k]).all()
        np.testing.assert_array_equal(row[k:], sigmas[k:])


def test_literal_variant_rollout_enters_each_frame_at_its_level(model):
    seen = []
    B.rollout(model, 6, "temporal_index", seed=1, init_schedule="frame_indexed",
              callback=lambda info: seen.append((info["frame"], info["sigma"])))
    entries = [next(s for f, s in seen if f == n) for n in range(6)]
    np.testing.assert_allclose(entries, B.shifted_sigmas()[[0, 1, 2, 3, 3, 3]], rtol=0, atol=1e-12)


# --- long rollouts and training windows -------------------------------------------------------------------

def test_position_error_grows_past_the_training_horizon(model):
    errors = []
    for seed in (0, 1, 2):
        _, _, positions = B.reference_clip(64, seed)
        errors.append(B.position_error(B.rollout(model, 64, "denoising_step", seed=seed).frames, positions))
    first, last = np.nanmean(np.array(errors)[:, :V.HORIZON]), np.nanmean(np.array(errors)[:, -V.HORIZON:])
    assert last > 2.5 * first, (first, last)


@pytest.mark.parametrize("step_sigma", list(B.shifted_sigmas()[1:]))
def test_renoised_window_is_recovered_better_than_pure_noise(model, step_sigma):
    """Section 4: from the Eq. 1 re-noised window the one-step prediction is closer to the rollout's own
    frames than from pure noise."""
    long = B.rollout(model, 24, "denoising_step", seed=3).frames
    w = B.training_window(model, long, 8, 8, float(step_sigma), seed=3)
    renoised = (w["x0_hat_renoised"] - w["clean"]).pow(2).mean().item()
    pure = (w["x0_hat_pure_noise"] - w["clean"]).pow(2).mean().item()
    assert renoised < 0.7 * pure, (renoised, pure)


# --- what the figures say ----------------------------------------------------------------------------------

@MATH
@given(reading=st.sampled_from(B.READINGS), schedule=st.sampled_from(B.INIT_SCHEDULES), steps=st.integers(1, 8),
       shift=st.floats(1.0, 10.0), sigma_init=st.floats(0.01, 1.0), n_frames=st.integers(17, 128))
def test_matrix_rows_past_the_shown_ones_repeat_the_last_shown(reading, schedule, steps, shift, sigma_init, n_frames):
    """The caption's "every later row repeats frame 15's" is checked on the matrix, and true for every setting."""
    m = B.noise_level_matrix(reading, n_frames, B.shifted_sigmas(steps, shift), sigma_init, schedule)
    note = V.matrix_rows_note([m], V.MATRIX_ROWS)
    assert note == f"The first {V.MATRIX_ROWS} of the {n_frames} frames; every later row repeats frame 15's."
    np.testing.assert_array_equal(m[V.MATRIX_ROWS:], np.broadcast_to(m[V.MATRIX_ROWS - 1], m[V.MATRIX_ROWS:].shape))
    changed = m.copy()
    changed[-1, -1] = 0.123  # a row that differs is not called a repeat
    assert "repeats" not in V.matrix_rows_note([changed], V.MATRIX_ROWS)


def test_brightness_is_on_the_0_to_255_scale_of_the_pictures():
    frames = torch.tensor([-1.0, 0.0, 1.0, 3.0]).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    np.testing.assert_allclose(B.mean_gray_level(frames), [0, 127.5, 255, 255])  # clipped like the images
