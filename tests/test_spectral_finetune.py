"""Fine-tuning the shipped 2D denoiser with spectral normalization per layer (REFERENCE.md section 3:
"turning it on everywhere can over-constrain a network"), as the spectral page runs it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers import spectral_view as V
from explainers.device import configure_threads
from explainers.models import load_denoiser2d
from explainers.spectral import SILU_MAX_SLOPE
from explainers.spectral_training import DENOISER_CHAIN, FinetuneConfig, FinetuneRun, finetune_denoiser

configure_threads()

SHORT = dict(batch_size=256, sample_every=50, n_eval_samples=400, eval_steps=25)


@pytest.fixture(scope="module")
def shipped():
    return load_denoiser2d("ring8")


def state_bytes(model: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.detach().cpu().numpy().tobytes() for k, v in model.state_dict().items()}


def test_the_shipped_denoiser_covers_every_mode_and_sn_everywhere_collapses_it(shipped):
    raw = V.denoiser_samples(shipped, seed=0)
    assert raw.coverage == 1.0 and raw.energy_distance < 0.01

    history = finetune_denoiser(FinetuneConfig(modes="sn", n_power_iterations=10, lr=1e-3, **SHORT), 0, 150)
    # Every layer held at sigma ~ 1 (power iteration approaches sigma from below, so the true sigma of
    # the normalized weight is >= 1, and only a little above while W moves slowly).
    for name, sigmas in history.sigmas.items():
        assert 1 - 1e-5 <= min(sigmas) and max(sigmas) <= 1.05, name
    # So the bound in x is at most the SiLU slopes, while the shipped model's is in the hundreds.
    assert max(history.lipschitz_bound) <= 1.05 ** 4 * SILU_MAX_SLOPE ** 3
    # A denoiser must be steep near the data: with every layer at sigma 1 the samples blur into one
    # cloud over the whole ring (about unit variance around 0), and 150 steps do not sharpen it.
    assert history.coverage[0] <= 0.25 and history.coverage[-1] <= 0.25
    blur = history.samples[-1]
    assert np.abs(blur.mean(axis=0)).max() < 0.3 and 0.7 < blur.std(axis=0).min()
    assert history.energy_distance[-1] > 5 * raw.energy_distance


def test_sn_on_two_hidden_layers_loses_the_modes_then_fine_tuning_wins_them_back():
    history = finetune_denoiser(FinetuneConfig(modes={"hidden1": "sn", "hidden2": "sn"}, lr=1e-3, **SHORT), 0, 400)
    assert history.coverage[0] <= 0.25  # the function changed the moment hidden1 and hidden2 were divided
    assert history.coverage[-1] == 1.0
    assert history.energy_distance[-1] < history.energy_distance[0] / 2
    # The unnormalized layers grew to make up for it: the bound in x rises during the fine-tune.
    assert history.lipschitz_bound[-1] > history.lipschitz_bound[0]
    assert max(history.sigmas["hidden1"]) <= 1.1 and max(history.sigmas["in_x"]) > 2


def test_fine_tune_is_deterministic_and_leaves_the_shared_model_alone(shipped):
    before = state_bytes(shipped)
    config = FinetuneConfig(modes={"in_x": "optional", "hidden2": "bsn"}, threshold=2.0, **SHORT)
    records = []
    a = finetune_denoiser(config, 3, 60, callback=lambda step, record: records.append(record), model=shipped)
    b = finetune_denoiser(config, 3, 60, model=shipped)
    c = finetune_denoiser(config, 4, 60, model=shipped)
    assert state_bytes(shipped) == before and not shipped.training
    assert not any(p.requires_grad for p in shipped.parameters())

    assert [r["step"] for r in records] == list(range(61)) and a.step == list(range(1, 61))
    assert a.loss == b.loss and a.sigmas == b.sigmas and a.grad_norm == b.grad_norm
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples))
    assert a.loss != c.loss
    assert a.sample_steps == [0, 50, 60] and a.samples[0].shape == (400, 2) and a.samples[0].dtype == np.float32
    assert set(a.sigmas) == {"in_x", "in_noise", "hidden1", "hidden2", "out"}
    expected_bound = np.prod([a.sigmas[n][-1] for n in DENOISER_CHAIN]) * SILU_MAX_SLOPE ** 3
    assert a.lipschitz_bound[-1] == pytest.approx(expected_bound, rel=1e-12)


def test_a_run_driven_step_by_step_is_the_same_run_and_stops_with_a_last_snapshot(shipped):
    # What the page does: step, show, step…; a Stop keeps everything trained so far.
    config = FinetuneConfig(modes={"in_x": "optional", "hidden2": "bsn"}, threshold=2.0, **SHORT)
    whole = finetune_denoiser(config, 3, 60, model=shipped)
    run = FinetuneRun(config, 3, 60, model=shipped)
    assert run.history.sample_steps == [0] and run.opening["step"] == 0
    records = [run.step() for _ in range(53)]
    assert [r["step"] for r in records] == list(range(1, 54)) and "samples" in records[49]
    history = run.stop("stopped by you")
    assert run.done and history.stopped == "stopped by you" and history.loss == whole.loss[:53]
    assert history.sample_steps == [0, 50, 53]  # before training, every 50 steps, and where it got to
    np.testing.assert_array_equal(history.samples[1], whole.samples[1])
    with pytest.raises(RuntimeError, match="ended"):
        run.step()


def test_step_zero_is_the_picture_the_page_shows_before_training(shipped):
    modes = {"hidden1": "sn", "out": "sn"}
    config = FinetuneConfig(modes=modes, n_eval_samples=V.N_EVAL_SAMPLES, eval_steps=V.EVAL_STEPS, batch_size=64)
    history = finetune_denoiser(config, 2, 1, model=shipped)
    page = V.denoiser_samples(V.normalized(shipped, modes, 1, 1.0, 2), seed=2)
    np.testing.assert_allclose(history.samples[0], page.points, atol=1e-5)
    assert history.coverage[0] == page.coverage


def test_fine_tune_stops_on_request_and_on_its_time_budget():
    calls = []
    h = finetune_denoiser(FinetuneConfig(**SHORT), 0, 100, should_stop=lambda: len(calls) >= 8,
                          callback=lambda step, record: calls.append(step))
    assert h.stopped == "should_stop" and h.step == list(range(1, 8))
    assert h.sample_steps == [0, 7]  # before training, and where it got to
    timed = finetune_denoiser(FinetuneConfig(**SHORT), 0, 100_000, time_budget_s=0.3)
    assert timed.stopped == "time_budget" and 0 < len(timed.step) < 100_000


@pytest.mark.parametrize("config, n_steps, parameter", [
    (FinetuneConfig(modes="spectral"), 5, "modes"),
    (FinetuneConfig(modes={"hidden9": "sn"}), 5, "modes"),
    (FinetuneConfig(eval_steps=0), 5, "eval_steps"),
    (FinetuneConfig(lr=0.0), 5, "lr"),
    (FinetuneConfig(n_power_iterations=0), 5, "n_power_iterations"),
    (FinetuneConfig(dataset="spiral"), 5, "dataset"),
    (FinetuneConfig(), 0, "n_steps"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(config, n_steps, parameter):
    with pytest.raises(ValueError, match=parameter):
        finetune_denoiser(config, 0, n_steps)
