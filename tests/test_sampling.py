"""The samplers: trailing timesteps, exact v-parameterisation (also at zero terminal SNR),
determinism, DDIM(eta=1) == DDPM, agreement with diffusers, and clear errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers.models import Denoiser2D
from explainers.sampling import (ddim_sigma, forward_noise, predicted_eps, predicted_x0, sample_ddim, sample_ddpm,
                                 step_alphas_cumprod, step_timesteps)
from explainers.schedules import make_schedule


LINEAR = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))  # DDPM linear betas, T = 1000
ZERO_SNR = make_schedule("linear", T=1000, zero_terminal_snr=True).alphas_cumprod


def small_model(seed: int = 0) -> Denoiser2D:
    """An untrained but fixed model: the samplers' arithmetic does not depend on training."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Denoiser2D(hidden=16).eval()


class DiracOracle(torch.nn.Module):
    """The exact v for data that is one point x0*: eps = (x - sqrt(abar) x0*) / sqrt(1 - abar)."""

    def __init__(self, point):
        super().__init__()
        self.point = torch.tensor(point)

    def forward(self, x, log_snr):
        abar = torch.sigmoid(torch.as_tensor(log_snr, dtype=x.dtype))
        a, s = abar.sqrt(), (1 - abar).sqrt()
        eps = (x - a * self.point) / s
        return a * eps - s * self.point


def noise(n: int = 256, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


def test_trailing_timesteps_start_at_the_last_index():
    assert step_timesteps(1000, 4).tolist() == [999, 749, 499, 249]  # Lin et al. 2023, Table 2
    assert step_timesteps(1000, 1).tolist() == [999]
    assert step_timesteps(10, 10).tolist() == list(range(9, -1, -1))
    abar = step_alphas_cumprod(LINEAR, 50)
    assert abar[0] == LINEAR[-1] and len(abar) == 50 and np.all(np.diff(abar) > 0)
    assert step_alphas_cumprod(ZERO_SNR, 25)[0] == 0.0


@pytest.mark.parametrize("steps", [1, 3, 7, 50, 333, 1000])
def test_trailing_timesteps_match_diffusers(steps):
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=1000, timestep_spacing="trailing")
    scheduler.set_timesteps(steps)
    assert step_timesteps(1000, steps).tolist() == scheduler.timesteps.tolist()


def test_ddim_matches_diffusers_ddim_scheduler():
    from diffusers import DDIMScheduler

    betas = np.linspace(1e-4, 0.02, 1000)
    scheduler = DDIMScheduler(num_train_timesteps=1000, trained_betas=betas.tolist(), prediction_type="v_prediction",
                              timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False)
    scheduler.set_timesteps(20)
    model, x = small_model(), noise()
    abar = scheduler.alphas_cumprod.double().numpy()
    with torch.inference_mode():
        theirs = x
        for t in scheduler.timesteps:
            log_snr = torch.tensor([np.log(abar[t]) - np.log1p(-abar[t])], dtype=torch.float32)
            theirs = scheduler.step(model(theirs, log_snr), t, theirs).prev_sample
    ours = sample_ddim(model, x, step_alphas_cumprod(LINEAR, 20))
    assert torch.allclose(ours, theirs, atol=1e-4)  # diffusers works in float32


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
@pytest.mark.parametrize("alphas_cumprod", [LINEAR, ZERO_SNR], ids=["linear", "zero_terminal_snr"])
def test_an_exact_denoiser_recovers_the_data_point(sampler, alphas_cumprod):
    # With the exact v, x0_hat is exact at every step, so both samplers land on the point,
    # including from abar = 0 where x0_hat = -v and no division happens.
    point = [0.7, -1.3]
    abar = step_alphas_cumprod(alphas_cumprod, 10)
    g = torch.Generator().manual_seed(0)
    run = sample_ddim if sampler == "ddim" else sample_ddpm
    out = run(DiracOracle(point), noise(), abar, generator=g)
    assert torch.allclose(out, torch.tensor(point).expand_as(out), atol=1e-4)


def test_ddim_eta0_is_deterministic_and_draws_no_noise():
    model, x, abar = small_model(), noise(seed=1), step_alphas_cumprod(LINEAR, 30)
    a = sample_ddim(model, x, abar, eta=0.0, generator=torch.Generator().manual_seed(1))
    b = sample_ddim(model, x, abar, eta=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


def test_ancestral_sampling_is_deterministic_given_the_seed():
    model, x, abar = small_model(), noise(), step_alphas_cumprod(LINEAR, 30)
    runs = [sample_ddpm(model, x, abar, generator=torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert torch.equal(runs[0], runs[1])
    assert (runs[0] - runs[2]).abs().mean() > 1e-3


@pytest.mark.parametrize("alphas_cumprod", [LINEAR, ZERO_SNR], ids=["linear", "zero_terminal_snr"])
def test_ddim_with_eta_one_is_ddpm(alphas_cumprod):
    model, x, abar = small_model(), noise(), step_alphas_cumprod(alphas_cumprod, 40)
    ddim = sample_ddim(model, x, abar, eta=1.0, generator=torch.Generator().manual_seed(3))
    ddpm = sample_ddpm(model, x, abar, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(ddim, ddpm, atol=1e-5)


def test_callback_sees_every_step():
    seen = []
    model, x, abar = small_model(), noise(), step_alphas_cumprod(ZERO_SNR, 12)
    out = sample_ddim(model, x, abar, callback=seen.append)
    assert [info["i"] for info in seen] == list(range(12))
    assert [info["abar"] for info in seen] == abar.tolist()
    assert seen[0]["log_snr"] == -np.inf and seen[-1]["abar_next"] == 1.0
    assert torch.equal(seen[-1]["x"], out)
    assert all(info["x0_hat"].shape == x.shape == info["eps_hat"].shape for info in seen)
    calls = []
    sample_ddpm(model, x, abar, generator=torch.Generator().manual_seed(0), callback=calls.append)
    assert len(calls) == 12


@pytest.mark.parametrize("abar", [0.0, 0.3, 0.97])
def test_x0_hat_and_eps_hat_rebuild_the_state_they_came_from(abar):
    # x = sqrt(abar) x0_hat + sqrt(1 - abar) eps_hat for any v_hat: the two predictions are one rotation of (x, v).
    x, v_hat = noise(seed=4), noise(seed=5)
    x0_hat, eps_hat = predicted_x0(x, v_hat, abar), predicted_eps(x, v_hat, abar)
    assert torch.allclose(np.sqrt(abar) * x0_hat + np.sqrt(1 - abar) * eps_hat, x, atol=1e-6)


def test_ddim_sigma_at_eta_one_is_the_ddpm_posterior_variance():
    abar, abar_next = step_alphas_cumprod(ZERO_SNR, 10), np.append(step_alphas_cumprod(ZERO_SNR, 10)[1:], 1.0)
    beta = 1 - abar / abar_next
    np.testing.assert_allclose(ddim_sigma(abar, abar_next, 1.0) ** 2, (1 - abar_next) / (1 - abar) * beta, rtol=1e-12)
    assert not ddim_sigma(abar, abar_next, 0.0).any()


def test_forward_noise_preserves_unit_variance():
    x0 = noise(200_000, seed=7)  # Var = 1 data
    for abar in (0.0, 0.3, 0.9, 1.0):
        xt = forward_noise(x0, abar, torch.Generator().manual_seed(8))
        assert (xt.var(0) - 1).abs().max() < 0.01
    assert torch.equal(forward_noise(x0[:10], 1.0, torch.Generator().manual_seed(0)), x0[:10])
    per_point = forward_noise(x0[:4], torch.tensor([[0.0], [0.5], [1.0], [0.25]]), torch.Generator().manual_seed(0))
    assert torch.equal(per_point[2], x0[2])


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 60), eta=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1),
       zero_snr=st.booleans(), sampler=st.sampled_from(["ddim", "ddpm"]))
def test_every_output_is_finite(steps, eta, seed, zero_snr, sampler):
    abar = step_alphas_cumprod(ZERO_SNR if zero_snr else LINEAR, steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 2, generator=g)
    model = small_model(seed % 3)
    if sampler == "ddim":
        out = sample_ddim(model, x, abar, eta=eta, generator=g)
    else:
        out = sample_ddpm(model, x, abar, generator=g)
    assert out.shape == (64, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("call,name", [
    (lambda: step_alphas_cumprod(LINEAR, 0), "steps"),
    (lambda: step_alphas_cumprod(LINEAR, 1001), "steps"),
    (lambda: step_alphas_cumprod(LINEAR[:20], 21), "steps"),
    (lambda: step_alphas_cumprod(LINEAR, 2.5), "steps"),
    (lambda: step_alphas_cumprod(LINEAR * 2, 10), "alphas_cumprod"),
    (lambda: sample_ddim(small_model(), noise(), LINEAR[::-100], eta=-0.1), "eta"),
    (lambda: sample_ddim(small_model(), noise(), LINEAR[::-100], eta=1.5), "eta"),
    (lambda: sample_ddim(small_model(), noise(), LINEAR[::-100], eta=float("nan")), "eta"),
    (lambda: sample_ddim(small_model(), noise(), LINEAR[::100]), "abar_steps"),  # clean first: wrong order
    (lambda: sample_ddpm(small_model(), noise(), []), "abar_steps"),
    (lambda: sample_ddpm(small_model(), noise(), [0.5, 1.0]), "abar_steps"),
    (lambda: sample_ddpm(small_model(), noise(), np.linspace(0, 0.9, 1001)), "abar_steps"),
    (lambda: forward_noise(noise(), 1.2), "abar"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


def test_steps_error_states_the_range():
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, 1000\], got 0"):
        step_alphas_cumprod(LINEAR, 0)
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\], got 2"):
        sample_ddim(small_model(), noise(), LINEAR[::-100], eta=2)
