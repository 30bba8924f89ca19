"""Backward noise initialization (REFERENCE.md section 2): noise levels, both readings, metrics, GIF."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from explainers import backward_init as B
from explainers import schedules as S
from explainers.frame_model import CheckpointError, FrameDenoiser, load_frame_model
from explainers.video_data import POS_MAX, POS_MIN, make_clip, true_trajectory

SHIFT5 = [1.0, 0.9375, 0.8333, 0.625]  # REFERENCE.md: Self-Forcing's 4 steps at shift 5
NAN = np.nan


@pytest.fixture(scope="module")
def model():
    return load_frame_model()


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return FrameDenoiser().eval().requires_grad_(False)


# --- noise levels -----------------------------------------------------------------------------------

def test_shifted_sigmas_match_self_forcing():
    np.testing.assert_allclose(B.shifted_sigmas(4, 5.0), SHIFT5, atol=1e-4)
    np.testing.assert_allclose(B.shifted_sigmas(4, 1.0), [1.0, 0.75, 0.5, 0.25])  # no shift: timesteps / 1000


def test_noise_level_matrix_denoising_step_reading_repeats_the_list_for_every_frame():
    m = B.noise_level_matrix("denoising_step", 3, B.shifted_sigmas(), sigma_init=0.7)
    np.testing.assert_allclose(m, [SHIFT5] * 3, atol=1e-4)


@pytest.mark.parametrize("sigma_init, later_row", [
    (0.7, [NAN, NAN, 0.7, 0.625]),  # enters at 0.7, keeps the levels below it
    (0.9, [NAN, 0.9, 0.8333, 0.625]),
    (0.625, [NAN, NAN, NAN, 0.625]),  # equal to a level: that level, once
    (0.3, [NAN, NAN, NAN, 0.3]),  # below every level: a single step
    (1.0, SHIFT5),  # from pure noise: the full list, like the denoising-step reading
])
def test_noise_level_matrix_temporal_index_reading(sigma_init, later_row):
    m = B.noise_level_matrix("temporal_index", 3, B.shifted_sigmas(), sigma_init)
    np.testing.assert_allclose(m[0], SHIFT5, atol=1e-4)  # frame 0 has no earlier prediction
    np.testing.assert_allclose(m[1:], [later_row] * 2, atol=1e-4)


def test_rollout_records_the_levels_it_used(model):
    seen = []
    out = B.rollout(model, 3, "temporal_index", sigma_init=0.7, seed=1,
                    callback=lambda info: seen.append((info["frame"], info["step"], info["sigma"])))
    np.testing.assert_array_equal(out.noise_levels, B.noise_level_matrix("temporal_index", 3, B.shifted_sigmas(), 0.7))
    assert seen[:4] == [(0, k, pytest.approx(s, abs=1e-4)) for k, s in enumerate(SHIFT5)]
    assert seen[4:] == [(1, 2, 0.7), (1, 3, 0.625), (2, 2, 0.7), (2, 3, 0.625)]


# --- the forward process in flow and VP form ----------------------------------------------------------

def test_vp_form_is_the_flow_state_rescaled():
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 10_000, generator=g)
    for sigma in (0.0, 0.3, 0.5, 0.9375, 1.0):
        flow, vp = B.add_noise(x0, eps, sigma, "flow"), B.add_noise(x0, eps, sigma, "vp")
        torch.testing.assert_close(vp * B.vp_to_flow_scale(sigma), flow)
        abar = S.flow_equivalent_alpha_bar(sigma)
        torch.testing.assert_close(vp / (np.sqrt(abar) + np.sqrt(1 - abar)), flow, rtol=1e-5, atol=1e-6)
        assert vp.var().item() == pytest.approx(1.0, abs=0.05)  # VP keeps unit variance ...
    assert B.add_noise(x0, eps, 0.5, "flow").var().item() == pytest.approx(0.5, abs=0.03)  # ... flow does not


def test_vp_and_flow_rollouts_give_the_same_frames(model):
    for reading in B.READINGS:
        flow = B.rollout(model, 6, reading, sigma_init=0.6, seed=3, form="flow").frames
        vp = B.rollout(model, 6, reading, sigma_init=0.6, seed=3, form="vp").frames
        torch.testing.assert_close(vp, flow, rtol=1e-4, atol=1e-4)


# --- the two readings ------------------------------------------------------------------------------------

def test_temporal_reading_with_tiny_sigma_init_copies_the_previous_frame(model):
    frozen = B.rollout(model, 8, "temporal_index", sigma_init=1e-3, seed=0).frames
    moving = B.rollout(model, 8, "denoising_step", seed=0).frames
    assert (frozen[1:] - frozen[:-1]).abs().max().item() < 0.05  # each frame ~ x0_hat of the one before
    assert B.motion_magnitude(frozen)[1:].max() < 0.005
    assert B.motion_magnitude(moving)[1:].mean() > 10 * B.motion_magnitude(frozen)[1:].mean()
    np.testing.assert_allclose(B.ball_position(frozen)[1:], B.ball_position(frozen)[:-1], atol=0.05)


def test_temporal_reading_with_sigma_init_one_ignores_the_previous_frame(model):
    starts = []
    temporal = B.rollout(model, 6, "temporal_index", sigma_init=1.0, seed=4,
                         callback=lambda info: starts.append(info["x"]) if info["step"] == 0 else None)
    # add_noise(anything, eps, 1) is eps itself: the same start as the denoising-step reading
    generator = torch.Generator().manual_seed(4)
    noise = torch.randn(6, 4, 1, 1, 32, 32, generator=generator)
    for n, start in enumerate(starts):
        torch.testing.assert_close(start, noise[n, 0], rtol=0, atol=0)
    torch.testing.assert_close(temporal.frames, B.rollout(model, 6, "denoising_step", seed=4).frames, rtol=0, atol=0)


def test_intermediate_sigma_init_moves_less_than_fresh_noise(model):
    """Motion stagnation: re-noising the previous frame only part-way keeps the ball near where it was."""
    motion = {si: np.mean([B.motion_magnitude(B.rollout(model, 8, "temporal_index", sigma_init=si, seed=s).frames)[1:]
                           for s in range(3)]) for si in (0.05, 0.3, 1.0)}
    assert motion[0.05] < motion[0.3] < motion[1.0]


def test_rollouts_are_deterministic_under_a_seed(model):
    for reading in B.READINGS:
        a = B.rollout(model, 4, reading, sigma_init=0.8, seed=11).frames
        b = B.rollout(model, 4, reading, sigma_init=0.8, seed=11).frames
        c = B.rollout(model, 4, reading, sigma_init=0.8, seed=12).frames
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_long_rollouts_stay_finite(model):
    for reading in B.READINGS:
        frames = B.rollout(model, 64, reading, sigma_init=0.5, seed=2).frames
        assert frames.shape == (64, 1, 32, 32)
        assert torch.isfinite(frames).all()


def test_trained_model_tracks_the_ball_within_the_training_horizon(model, untrained):
    trained_err, untrained_err = [], []
    for seed in range(4):
        context, _, positions = B.reference_clip(8, seed)
        trained_err.append(B.position_error(B.rollout(model, 8, "denoising_step", seed=seed).frames, positions))
        untrained_err.append(B.position_error(B.rollout(untrained, 8, "denoising_step", seed=seed).frames, positions))
    trained, baseline = np.nanmean(trained_err), np.nanmean(untrained_err)
    assert trained < 3.0, trained  # pixels, over 8 frames
    assert trained < 0.5 * baseline, (trained, baseline)
    assert np.nanmean(np.array(trained_err)[:, 0]) < 1.5  # the first frame, from true context


def test_training_window_renoises_the_rollout(model):
    long = B.rollout(model, 12, "denoising_step", seed=0).frames
    w = B.training_window(model, long, window_start=4, window_len=3, step_sigma=0.625, seed=0)
    torch.testing.assert_close(w["clean"], long[4:7])
    torch.testing.assert_close(w["renoised"], 0.375 * long[4:7] + 0.625 * w["pure_noise"])
    # From the re-noised start the model recovers the rollout's own frames better than from noise.
    err_renoised = (w["x0_hat_renoised"] - w["clean"]).pow(2).mean()
    err_pure = (w["x0_hat_pure_noise"] - w["clean"]).pow(2).mean()
    assert err_renoised < err_pure
    sampled = B.training_window(model, long, 4, 3, step_sigma=None, seed=5)["sigma"]
    assert min(abs(sampled - s) for s in SHIFT5) < 1e-4


# --- bad arguments ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda m: B.shifted_sigmas(steps=0), "steps"),
    (lambda m: B.shifted_sigmas(shift=-1.0), "shift"),
    (lambda m: B.rollout(m, 4, "frame_index"), "reading"),
    (lambda m: B.rollout(m, 0, "denoising_step"), "n_frames"),
    (lambda m: B.rollout(m, 4, "temporal_index", sigma_init=0.0), "sigma_init"),
    (lambda m: B.rollout(m, 4, "temporal_index", sigma_init=1.5), "sigma_init"),
    (lambda m: B.rollout(m, 4, "denoising_step", sigmas=[0.9, 0.5]), "sigmas"),
    (lambda m: B.rollout(m, 4, "denoising_step", sigmas=[1.0, 0.5, 0.7]), "sigmas"),
    (lambda m: B.rollout(m, 4, "denoising_step", form="ve"), "form"),
    (lambda m: B.rollout(m, 4, "denoising_step", seed=-1), "seed"),
    (lambda m: B.noise_level_matrix("temporal_index", 4, SHIFT5, sigma_init=-0.1), "sigma_init"),
    (lambda m: B.training_window(m, torch.zeros(10, 1, 32, 32), 0, 3, 0.5), "window_start"),
    (lambda m: B.training_window(m, torch.zeros(10, 1, 32, 32), 2, 9, 0.5), "window_len"),
    (lambda m: B.frames_to_gif(torch.zeros(2, 1, 32, 32), fps=0), "fps"),
])
def test_bad_arguments_name_the_parameter(untrained, call, name):
    with pytest.raises(ValueError, match=name):
        call(untrained)


# --- data, metrics, checkpoint, GIF ---------------------------------------------------------------------

def test_ball_bounces_off_the_walls_and_the_centroid_finds_it():
    positions = true_trajectory([10.0, 20.0], [2.0, -1.5], 64).numpy()
    assert positions.min() >= POS_MIN - 1e-5 and positions.max() <= POS_MAX + 1e-5
    vx = np.diff(positions[:, 0])
    assert (vx > 0).any() and (vx < 0).any()  # it came back
    assert np.isclose(np.abs(vx), 2.0, atol=1e-4).mean() > 0.8  # speed kept, except across a bounce
    frames, true = make_clip(32, seed=7)
    assert frames.shape == (32, 1, 32, 32) and frames.min() >= -1 and frames.max() <= 1
    assert B.position_error(frames, true).max() < 0.05
    assert torch.equal(make_clip(5, seed=7)[0], frames[:5])


def test_metrics_per_frame():
    frames, _ = make_clip(6, seed=0)
    assert B.mean_brightness(frames) == pytest.approx(np.full(6, frames[0].mean().item()), abs=0.01)
    still = frames[:1].repeat(4, 1, 1, 1)
    np.testing.assert_allclose(B.motion_magnitude(still, previous=still[:1]), 0.0)
    assert np.isnan(B.motion_magnitude(frames)[0]) and (B.motion_magnitude(frames)[1:] > 0.01).all()
    assert np.isnan(B.ball_position(torch.full((1, 1, 32, 32), -1.0))).all()  # no ball, no position


def test_missing_or_corrupt_checkpoint_says_how_to_rebuild(tmp_path):
    with pytest.raises(CheckpointError, match="python -m explainers.train video") as missing:
        load_frame_model(path=tmp_path / "frame_model.pt")
    assert "frame_model.pt" in str(missing.value)
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt.*python -m explainers.train video"):
        load_frame_model(path=corrupt)


def test_model_names_its_conv_layers(model):
    names = [name for name, _ in model.conv_layers()]
    assert names[0] == "conv_in" and names[-1] == "conv_out" and len(names) == len(set(names)) == 7
    assert all(isinstance(layer, torch.nn.Conv2d) for _, layer in model.conv_layers())
    assert not model.training


def test_gif_decodes_to_the_frames():
    frames, _ = make_clip(10, seed=3)
    gif = B.frames_to_gif(frames, fps=10, scale=2)
    decoded = iio.imread(gif, index=None)
    assert decoded.shape[:3] == (10, 64, 64)
    # Identical frames are merged by the encoder but keep the video's total duration.
    still = B.frames_to_gif(frames[:1].repeat(5, 1, 1, 1), fps=10)
    durations = [iio.immeta(still, index=i)["duration"] for i in range(len(iio.imread(still, index=None)))]
    assert sum(durations) == pytest.approx(500, abs=10)


def test_training_is_seeded_and_its_checkpoint_loads(tmp_path):
    from explainers.train_video import main, train_frame_model

    a, info = train_frame_model(n_steps=3, seed=5, log_every=0, batch=4)
    b, _ = train_frame_model(n_steps=3, seed=5, log_every=0, batch=4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert len(info["losses"]) == 3 and np.isfinite(info["losses"]).all()
    out = tmp_path / "frame_model.pt"
    threads = torch.get_num_threads()
    try:
        assert main(["--steps", "2", "--seed", "1", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # the CLI pins one thread; do not leak that into other tests
    assert not load_frame_model(path=out).training
