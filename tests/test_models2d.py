"""The 2D denoiser: conditioning on clipped log-SNR, named layers, the shipped checkpoints (they load
safely, and their samples beat an untrained model by a wide margin), and the training entry points."""

import numpy as np
import pytest
import torch

from explainers import models
from explainers.data2d import DATASETS, get_dataset, quality_score
from explainers.models import Denoiser2D, load_denoiser2d
from explainers.sampling import sample_ddim, step_alphas_cumprod
from explainers.schedules import make_schedule
from explainers.train2d import TrainConfig, evaluate, train_denoiser2d


COSINE = make_schedule("cosine", T=1000).alphas_cumprod


def fixed_model(hidden: int = 64) -> Denoiser2D:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Denoiser2D(hidden=hidden).eval()


def test_log_snr_is_clipped_so_infinities_are_fine():
    model, x = fixed_model(), torch.randn(10, 2)
    with torch.no_grad():
        at_minus_20 = model(x, -20.0)
        assert torch.equal(model(x, float("-inf")), at_minus_20)
        assert torch.equal(model(x, -1e6), at_minus_20)
        assert torch.equal(model(x, float("inf")), model(x, 20.0))
        assert not torch.allclose(model(x, 0.0), at_minus_20)


def test_one_level_for_all_points_equals_one_level_per_point():
    model, x = fixed_model(), torch.randn(50, 2)
    with torch.no_grad():
        shared = model(x, torch.tensor(1.5))
        per_point = model(x, torch.full((50,), 1.5))
    assert torch.allclose(shared, per_point, atol=1e-6)
    assert shared.shape == (50, 2)


def test_gradients_flow_in_training_mode():
    model = Denoiser2D(hidden=8)
    model(torch.randn(4, 2), torch.randn(4)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_linear_layers_are_named_in_order():
    layers = fixed_model().linear_layers()
    assert [name for name, _ in layers] == ["in_x", "in_noise", "hidden1", "hidden2", "out"]
    assert all(isinstance(m, torch.nn.Linear) for _, m in layers)
    assert layers[0][1].in_features == 2 and layers[-1][1].out_features == 2


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_checkpoint_loads_small_and_read_only(name):
    path = models.checkpoint_path(name)
    assert path.stat().st_size < 300 * 1024
    state = torch.load(path, weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values())
    model = load_denoiser2d(name)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_checkpoint_beats_an_untrained_model(name):
    trained = evaluate(load_denoiser2d(name), name)  # cosine schedule, 50 DDIM steps, 2,000 points
    untrained = evaluate(fixed_model(), name)
    true = quality_score(get_dataset(name).sample(2000, torch.Generator().manual_seed(1)), name)
    assert trained["mean_log_density"] > untrained["mean_log_density"] + 5
    assert trained["mean_log_density"] > true["mean_log_density"] - 0.5
    assert trained["mode_coverage"] == 1.0
    assert trained["energy_distance"] < 0.01 < untrained["energy_distance"]


def test_ring8_samples_cover_every_mode_with_any_schedule():
    model = load_denoiser2d("ring8")
    for schedule in ("linear", "scaled_linear", "sigmoid"):
        for zero_snr in (False, True):
            abar = step_alphas_cumprod(make_schedule(schedule, zero_terminal_snr=zero_snr).alphas_cumprod, 25)
            out = sample_ddim(model, torch.randn(1000, 2, generator=torch.Generator().manual_seed(0)), abar)
            assert quality_score(out, "ring8")["mode_coverage"] == 1.0, (schedule, zero_snr)


def test_missing_checkpoint_names_the_file_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        load_denoiser2d("moons")
    assert "denoiser2d_moons.pt" in str(err.value)
    assert "python -m explainers.train toy2d --dataset moons" in str(err.value)


def test_corrupt_checkpoint_names_the_file_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(tmp_path))
    (tmp_path / "denoiser2d_ring8.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=r"denoiser2d_ring8\.pt.*python -m explainers\.train toy2d --dataset ring8"):
        load_denoiser2d("ring8")
    torch.save({"in_x.weight": torch.zeros(3, 3)}, tmp_path / "denoiser2d_ring8.pt")  # wrong contents
    with pytest.raises(RuntimeError, match="python -m explainers.train toy2d --dataset ring8"):
        load_denoiser2d("ring8")


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_denoiser2d("mnist")


def test_training_is_deterministic_given_the_seed():
    config = TrainConfig(batch_size=64, hidden=16, warmup=5)
    a = train_denoiser2d("moons", steps=20, seed=1, config=config)
    b = train_denoiser2d("moons", steps=20, seed=1, config=config)
    c = train_denoiser2d("moons", steps=20, seed=2, config=config)
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.hidden1.weight, c.hidden1.weight)


def test_train_command_writes_a_loadable_checkpoint(tmp_path, monkeypatch, capsys):
    from explainers import train

    monkeypatch.setenv("NOISE_LAB_CHECKPOINTS", str(tmp_path))  # written where the loader reads
    threads = torch.get_num_threads()
    try:
        assert train.main(["toy2d", "--dataset", "checkerboard", "--steps", "10", "--batch-size", "32",
                           "--hidden", "16"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert "mode_coverage" in capsys.readouterr().out
    model = load_denoiser2d("checkerboard")
    assert model.hidden1.in_features == 16
    assert np.isfinite(model(torch.zeros(3, 2), 0.0).numpy()).all()
    assert train.main(["nonsense"]) == 2
