"""The 2D datasets: exact densities that integrate to 1 and agree with the samplers, unit variance,
determinism, and scores that tell true samples from a Gaussian blob."""

import math

import numpy as np
import pytest
import torch

from explainers import data2d as D



LIMIT, N_GRID = 4.0, 161  # spacing 0.05: a Riemann sum of a blur this wide is exact to ~1e-8
_grid_cache = {}


def grid_log_p(name: str):
    """log p on a grid over [-4, 4]^2 (all data lies within 2.3 of the origin) and the area of one
    grid cell, cached per dataset."""
    if name not in _grid_cache:
        axis = torch.linspace(-LIMIT, LIMIT, N_GRID, dtype=torch.float64)
        xx, yy = torch.meshgrid(axis, axis, indexing="xy")
        points = torch.stack([xx.ravel(), yy.ravel()], 1)
        _grid_cache[name] = D.get_dataset(name).log_prob(points), (2 * LIMIT / (N_GRID - 1)) ** 2
    return _grid_cache[name]


def samples(name: str, n: int, seed: int = 0) -> torch.Tensor:
    return D.get_dataset(name).sample(n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", D.DATASETS)
def test_density_integrates_to_one(name):
    log_p, cell = grid_log_p(name)
    mass = float(log_p.exp().sum() * cell)
    assert mass == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", D.DATASETS)
def test_log_prob_matches_the_sampler(name):
    # Mean log p over samples (Monte Carlo) must equal the integral of p log p on the grid:
    # both are minus the entropy, one from sample(), one from log_prob() alone.
    log_p, cell = grid_log_p(name)
    data = D.get_dataset(name)
    grid_value = float((log_p.exp() * log_p).sum() * cell)
    mc_value = float(data.log_prob(samples(name, 20_000)).mean())
    assert mc_value == pytest.approx(grid_value, abs=0.05)


@pytest.mark.parametrize("name", D.DATASETS)
def test_unit_variance_and_zero_mean(name):
    data = D.get_dataset(name)
    assert data.mean == pytest.approx([0, 0], abs=1e-12)
    assert data.variance == pytest.approx([1, 1], abs=1e-12)
    x = samples(name, 200_000)
    assert x.dtype == torch.float32 and x.shape == (200_000, 2)
    assert x.mean(0).abs().max() < 0.01
    assert (x.var(0) - 1).abs().max() < 0.01
    assert x.var(0).tolist() == pytest.approx(D.MEASURED_VARIANCE[name], abs=1e-4)  # the documented figures


@pytest.mark.parametrize("name", D.DATASETS)
def test_sampling_is_deterministic_given_the_generator(name):
    assert torch.equal(samples(name, 500, seed=3), samples(name, 500, seed=3))
    assert not torch.equal(samples(name, 500, seed=3), samples(name, 500, seed=4))


@pytest.mark.parametrize("name", D.DATASETS)
def test_true_samples_score_near_perfect_and_a_gaussian_blob_scores_worse(name):
    true = D.quality_score(samples(name, 2000, seed=1), name)
    blob = D.quality_score(torch.randn(2000, 2, generator=torch.Generator().manual_seed(1)), name)
    assert true["mode_coverage"] == 1.0
    assert true["off_mode_fraction"] < 0.02
    assert true["energy_distance"] < 0.006
    assert blob["mean_log_density"] < true["mean_log_density"] - 8
    assert blob["energy_distance"] > 3 * true["energy_distance"]
    assert blob["off_mode_fraction"] > 0.3


def test_ring8_coverage_separates_modes():
    # mode_coverage counts a mode once it has min_share of its fair share n / 8 (here 0.2 * 80 / 8 = 2)
    assert D.mode_coverage(torch.tensor([0, 0, 1, -1] + [2] * 76), 80) == pytest.approx(2 / 8)
    assert D.mode_coverage(np.array([0, 0, 1, -1] + [2] * 76), 80, min_share=0.1) == pytest.approx(3 / 8)
    blob = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    assert D.quality_score(blob, "ring8")["mode_coverage"] == 0.0  # the blob sits between the modes
    data = D.get_dataset("ring8")
    x = samples("ring8", 2000)
    one_mode = x[D.assign_modes(x, data) == 0]
    score = D.quality_score(one_mode, data)  # a dataset object works as well as its name
    assert score["mode_coverage"] == pytest.approx(1 / 8)
    # A mode counts as covered from 20% of its fair share n / 8 on: about 44 of ~1,770 samples here.
    modes = D.assign_modes(x, data)
    others, mode3 = x[modes != 3], x[modes == 3]
    assert D.quality_score(torch.cat([others, mode3[:20]]), "ring8")["mode_coverage"] == pytest.approx(7 / 8)
    assert D.quality_score(torch.cat([others, mode3[:60]]), "ring8")["mode_coverage"] == 1.0


def test_modes_of_ring8_are_its_centres():
    data = D.get_dataset("ring8")
    centres = torch.tensor([m["center"] for m in data.modes])
    assert torch.equal(D.assign_modes(centres, data), torch.arange(8))
    assert centres.norm(dim=1) == pytest.approx([math.sqrt(2 * 0.99)] * 8)
    assert int(D.assign_modes(torch.zeros(1, 2), data)[0]) == -1  # the centre of the ring is off-data


def test_checkerboard_density_is_exact_inside_and_finite_far_away():
    data = D.get_dataset("checkerboard")
    centre = torch.tensor([data.modes[0]["center"]])
    # Deep inside a square the blur has no effect: density 1 / (8 cell^2).
    assert float(data.log_prob(centre)) == pytest.approx(-math.log(8 * data.cell**2), abs=1e-6)
    far = data.log_prob(torch.tensor([[12.0, 0.0], [0.0, -30.0], [40.0, 40.0]]))
    assert torch.isfinite(far).all()
    # 12 is about 10.3 from the board's edge; Gaussian tail: about -(10.3 / 0.05)^2 / 2
    assert float(far[0]) == pytest.approx(-((12 - 2 * data.cell) / 0.05) ** 2 / 2, rel=0.02)


def test_energy_distance_is_small_for_true_and_grows_with_a_shift():
    x = samples("moons", 2000, seed=5)
    assert D.energy_distance(x, "moons") < 0.006
    assert D.energy_distance(x + 0.5, "moons") > 0.1


def test_non_finite_samples_score_as_infinitely_bad():
    x = samples("ring8", 100)
    x[0, 0] = float("nan")
    score = D.quality_score(x, "ring8")
    assert score["mean_log_density"] == -math.inf and score["energy_distance"] == math.inf
    assert score["off_mode_fraction"] >= 0.01


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="dataset must be one of ring8, moons, swiss_roll, checkerboard"):
        D.get_dataset("spiral")
    with pytest.raises(ValueError, match="n must be"):
        D.get_dataset("ring8").sample(0, torch.Generator())
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        D.get_dataset("ring8").log_prob(torch.zeros(3))
    with pytest.raises(ValueError, match="samples must hold at least one point"):
        D.quality_score(torch.zeros(0, 2), "ring8")


def test_numpy_input_is_accepted():
    x = samples("swiss_roll", 50).numpy().astype(np.float64)
    assert torch.allclose(D.get_dataset("swiss_roll").log_prob(x),
                          D.get_dataset("swiss_roll").log_prob(torch.tensor(x)))
