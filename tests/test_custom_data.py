"""Your own 2D data (explainers.custom_data): every bad file is refused with a message naming its problem,
good files of many shapes are read, painted grids sample where they are painted, and a fine-tune of a copy
of the shipped denoiser learns the uploaded shape without touching the shared model."""

from __future__ import annotations

import codecs

import numpy as np
import pytest
import torch

from explainers import custom_data as C
from explainers import data2d as D
from explainers.device import configure_threads
from explainers.models import load_denoiser2d

configure_threads()


def csv_bytes(points, header: str | None = "x,y", delimiter: str = ",") -> bytes:
    lines = [header] if header is not None else []
    lines += [delimiter.join(f"{v:.6f}" for v in p) for p in points]
    return ("\n".join(lines) + "\n").encode()


def two_blobs(n: int = 300, seed: int = 0) -> np.ndarray:
    """Two Gaussian blobs far from the ring of 8 the shipped model knows, in units of a few metres."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal([-30.0, 10.0], 4.0, (n, 2)), rng.normal([20.0, -10.0], 6.0, (n, 2))])


# ---------------------------------------------------------------------------------------------
# Bad files: an UploadError whose message names the problem
# ---------------------------------------------------------------------------------------------

BAD_FILES = {
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(200), r"PNG image, not a CSV file"),
    "excel": (b"PK\x03\x04" + bytes(200), r"Excel workbook"),
    "binary": (bytes(range(256)) * 4, r"not a text file"),
    "utf16 without BOM": ("x,y\n1,2\n3,4\n".encode("utf-16-le"), r"not a text file"),
    "empty": (b"", r"empty"),
    "one column": (b"x\n1\n2\n3\n", r"only one column"),
    "one numeric column": (b"name,x\nA,1\nB,2\nC,3\n", r"two columns of numbers.*only one \(x\)"),
    "NaN row": (b"x,y\n1,2\n3,4\n5,nan\n7,8\n", r"row 4 has a NaN .* column y"),
    "NaN rows": (b"x,y\n1,nan\n3,4\nNaN,6\n7,nan\n", r"row 2 has a NaN .* column y.* Rows 4, 5 have the same"),
    "inf row": (b"x,y\n1,2\n-inf,4\n5,6\n", r"row 3 has an infinite value .* column x"),
    "overflow": (b"x,y\n1,2\n1e999,4\n5,6\n", r"row 3 has an infinite value"),
    "text in a cell": (b"x,y\n1,2\n3,4\n5,six\n7,8\n9,10\n", r"row 4 has text where a number should be .*six"),
    "empty cell": (b"x,y\n1,2\n3,\n5,6\n", r"row 3 has an empty cell in column y"),
    "header only": (b"x,y\n", r"header line but no rows"),
    "comments only": (b"# x,y\n# nothing yet\n", r"only comment lines"),
    "one point": (b"x,y\n1.5,2\n", r"only 1 point"),
    "all equal": (b"x,y\n" + b"1.5,2\n" * 50, r"All 50 points are the same point \(1\.5, 2\)"),
    "vertical line": (b"x,y\n3,1\n3,2\n3,5\n", r"same x \(3\).*vertical line"),
    "horizontal line": (b"x,y\n1,7\n2,7\n5,7\n", r"same y \(7\).*horizontal line"),
    "too large numbers": (b"x,y\n1e308,1\n-1e308,2\n0,3\n", r"too large"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_each_bad_file_raises_an_upload_error_naming_its_problem(case):
    data, message = BAD_FILES[case]
    with pytest.raises(C.UploadError, match=message) as info:
        C.parse_points(data, "points.csv")
    assert isinstance(info.value, ValueError)


def test_the_file_name_is_in_the_message():
    with pytest.raises(C.UploadError, match="“holiday.png” is a PNG image"):
        C.parse_points(b"\x89PNG\r\n\x1a\n" + bytes(20), "holiday.png")


def test_more_than_max_rows_is_refused_and_exactly_max_rows_is_read():
    rows = np.stack([np.arange(C.MAX_ROWS + 1) % 1000, np.arange(C.MAX_ROWS + 1) % 7], 1)
    body = "".join(f"{x},{y}\n" for x, y in rows)
    with pytest.raises(C.UploadError, match="at most 100,000 points"):
        C.parse_points(("x,y\n" + body).encode())
    with pytest.raises(C.UploadError, match="at most 100,000 points"):
        C.parse_points(body.encode())  # no header: 100,001 points
    upload = C.parse_points(("x,y\n" + body.split("\n", 1)[1]).encode())  # drop one row: exactly the limit
    assert upload.points.shape == (C.MAX_ROWS, 2)


def test_size_is_checked_before_anything_is_read():
    # Over the limit and a PNG besides: the size is what is reported, so nothing was parsed.
    with pytest.raises(C.UploadError, match=r"5\.1 MB, more than the 5 MB limit"):
        C.parse_points(b"\x89PNG" + bytes(C.MAX_BYTES))
    with pytest.raises(C.UploadError, match="MB limit"):
        C.parse_points(b"1,2\n" * (C.MAX_BYTES // 4 + 1))
    assert C.parse_points(b"1,2\n3,5\n" + b" " * (C.MAX_BYTES - 8)).points.shape == (2, 2)  # at the limit: read


# ---------------------------------------------------------------------------------------------
# Good files
# ---------------------------------------------------------------------------------------------

POINTS = np.array([[1.0, 2.0], [3.5, -4.0], [-1.25, 0.5], [0.0, 8.0]])


@pytest.mark.parametrize("data, columns, delimiter, header", [
    (b"x,y\n1,2\n3.5,-4\n-1.25,0.5\n0,8\n", ("x", "y"), "comma", True),
    (b"1,2\n3.5,-4\n-1.25,0.5\n0,8\n", ("column 1", "column 2"), "comma", False),
    (b"x;y\n1;2\n3,5;-4\n-1,25;0,5\n0;8\n", ("x", "y"), "semicolon", True),  # decimal commas
    (b"a\tb\n1\t2\n3.5\t-4\n-1.25\t0.5\n0\t8\n", ("a", "b"), "tab", True),
    (b"1 2\n3.5   -4\n-1.25 0.5\n\n0 8\n", ("column 1", "column 2"), "spaces", False),
    (b"# from numpy.savetxt\n1 2\n3.5 -4\n-1.25 0.5\n0 8\n", ("column 1", "column 2"), "spaces", False),
    (b"x,y\r\n1,2\r\n3.5,-4\r\n-1.25,0.5\r\n0,8\r\n", ("x", "y"), "comma", True),  # Windows line ends
    (codecs.BOM_UTF8 + b"x,y\n1,2\n3.5,-4\n-1.25,0.5\n0,8\n", ("x", "y"), "comma", True),  # Excel's CSV UTF-8
    ("x,y\n1,2\n3.5,-4\n-1.25,0.5\n0,8\n".encode("utf-16"), ("x", "y"), "comma", True),  # with its BOM
    (b'"x","y"\n"1","2"\n"3.5","-4"\n"-1.25","0.5"\n"0","8"\n', ("x", "y"), "comma", True),  # quoted
    # Extra columns: the first two columns of numbers, past a text column…
    (b"label,u,v,w\nA,1,2,9\nB,3.5,-4,9\nC,-1.25,0.5,9\nD,0,8,9\n", ("u", "v"), "comma", True),
    # …or the ones named x and y, wherever they are; a row index (pandas' to_csv) is skipped.
    (b"t,y,z,x\n0,2,5,1\n1,-4,5,3.5\n2,0.5,5,-1.25\n3,8,5,0\n", ("x", "y"), "comma", True),
    (b",x,y\n0,1,2\n1,3.5,-4\n2,-1.25,0.5\n3,0,8\n", ("x", "y"), "comma", True),
    (b"id,u,v\n1,1,2\n2,3.5,-4\n3,-1.25,0.5\n4,0,8\n", ("u", "v"), "comma", True),
])
def test_good_files_are_read(data, columns, delimiter, header):
    upload = C.parse_points(data, "points.csv")
    np.testing.assert_array_equal(upload.points, POINTS)
    assert upload.points.dtype == np.float64
    assert (upload.columns, upload.delimiter, upload.header) == (columns, delimiter, header)
    assert upload.summary.startswith(f"Read 4 points from columns {columns[0]} and {columns[1]}")


def test_the_summary_says_what_was_done():
    semicolons = C.parse_points(b"name;x;y;z\nA;1,5;2;0\nB;3;4;0\nC;0;1;0\n").summary
    assert "decimal commas" in semicolons and "Used x and y of 4 columns" in semicolons
    assert "Only 3 points" in semicolons
    latin = C.parse_points("Höhe,Breite\n1,2\n3,4\n".encode("latin-1"))
    assert latin.columns == ("Höhe", "Breite") and "Latin-1" in latin.summary
    many = C.parse_points(csv_bytes(two_blobs(50)))
    assert many.summary == "Read 100 points from columns x and y (comma-separated, with a header)."


def test_a_first_row_of_numbers_with_a_text_column_is_data_not_a_header():
    upload = C.parse_points(b"1,2,red\n3,4,blue\n5,0,red\n")
    assert not upload.header and upload.points.tolist() == [[1, 2], [3, 4], [5, 0]]


def test_a_large_file_round_trips():
    points = two_blobs(5000)
    upload = C.parse_points(csv_bytes(points, header="east;north", delimiter=";"))
    np.testing.assert_allclose(upload.points, points, atol=5e-7)


# ---------------------------------------------------------------------------------------------
# Standardising as data2d does, and the dataset built from an upload
# ---------------------------------------------------------------------------------------------


def test_standardise_matches_data2d_and_maps_back():
    points = two_blobs()
    for sigma in (0.0, 0.1, C.JITTER):
        z, mean, scale = C.standardise_like_data2d(points, sigma=sigma)
        np.testing.assert_allclose(z, D._standardise(points, sigma), atol=1e-12)
        np.testing.assert_allclose(z * scale + mean, points, atol=1e-10)
        np.testing.assert_allclose(z.var(axis=0) + sigma**2, [1, 1], atol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        C.standardise_like_data2d(points, sigma=1.0)
    with pytest.raises(C.UploadError, match="same point"):
        C.standardise_like_data2d(np.ones((5, 2)))


def test_an_uploaded_dataset_resamples_its_points_at_unit_variance():
    points = C.parse_points(csv_bytes(two_blobs()), "blobs.csv").points
    data = C.UploadedDataset.from_upload(C.parse_points(csv_bytes(points), "blobs.csv"))
    assert data.name == "blobs.csv" and data.n_points == 600 and len(data.reference) == 600
    x = data.sample(200_000, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.shape == (200_000, 2)
    # The jitter is counted in the standardisation: mean 0, variance 1, like every data2d dataset.
    assert x.mean(0).abs().max() < 0.01 and (x.var(0) - 1).abs().max() < 0.01
    assert data.mean == (0.0, 0.0) and data.variance == (1.0, 1.0)
    # Every draw is an uploaded point moved by the jitter only (std 0.05).
    nearest = torch.cdist(x[:2000].double(), data.points).amin(dim=1)
    assert float(nearest.max()) < 6 * C.JITTER
    np.testing.assert_allclose(data.to_original(data.points), points, atol=1e-12)
    np.testing.assert_allclose(data.from_original(points), data.points.numpy(), atol=1e-12)
    assert torch.equal(data.sample(100, torch.Generator().manual_seed(3)),
                       data.sample(100, torch.Generator().manual_seed(3)))
    exact = C.UploadedDataset(points, jitter=0.0).sample(500, torch.Generator().manual_seed(1))
    assert float(torch.cdist(exact.double(), C.UploadedDataset(points, jitter=0.0).points).amin(1).max()) < 1e-6


def test_big_uploads_are_scored_against_a_fixed_subset_of_reference_size():
    data = C.UploadedDataset(two_blobs(3000))
    assert len(data.reference) == D.REFERENCE_SIZE
    assert torch.equal(data.reference, C.UploadedDataset(two_blobs(3000)).reference)
    assert "2,000 of your points" in C.quality_score_upload(data.sample(500, torch.Generator()), data)["note"]


def test_the_upload_score_tells_the_data_from_the_wrong_shape_and_says_what_it_cannot_give():
    data = C.UploadedDataset(two_blobs())
    own = C.quality_score_upload(data.sample(1000, torch.Generator().manual_seed(5)), data)
    assert own["energy_distance"] < 0.01 and own["data_energy_distance"] < 0.01
    ring = D.get_dataset("ring8").sample(1000, torch.Generator().manual_seed(5))
    wrong = C.quality_score_upload(ring, data)
    assert wrong["energy_distance"] > 20 * own["energy_distance"]
    assert set(own["unavailable"]) == {"mode_coverage", "log_density_gap"}
    assert all(isinstance(why, str) and why for why in own["unavailable"].values())
    assert "energy distance to your points" in own["note"]
    # The jitter moves the score by less than the score's own noise: resampling without it scores alike.
    exact = C.UploadedDataset(two_blobs(), jitter=0.0)
    assert abs(C.energy_distance_to(exact.sample(1000, torch.Generator().manual_seed(5)), data)
               - own["energy_distance"]) < 0.005
    broken = ring.clone()
    broken[0, 0] = float("nan")
    assert C.quality_score_upload(broken, data)["energy_distance"] == float("inf")
    with pytest.raises(TypeError, match="quality_score"):
        C.quality_score_upload(ring, D.get_dataset("ring8"))


def test_energy_distance_to_points_agrees_with_data2d_on_its_own_reference():
    # Scoring against data2d's reference points as an upload gives data2d's number.
    class Fixed(C.UserDataset):
        reference = D._reference("ring8")[0]

    samples = D.get_dataset("ring8").sample(700, torch.Generator().manual_seed(9))
    assert C.energy_distance_to(samples, Fixed()) == pytest.approx(D.energy_distance(samples, "ring8"), abs=1e-5)


# ---------------------------------------------------------------------------------------------
# A distribution painted on a grid
# ---------------------------------------------------------------------------------------------

MASK = np.array([[1, 0, 0, 1],
                 [0, 0, 0, 1],
                 [0, 1, 0, 0]], dtype=bool)  # as drawn: the top row first


def cell_of(points: np.ndarray, extent: float, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row from the top, column from the left) of each point, computed here from the grid's geometry."""
    rows, cols = shape
    col = np.floor((points[:, 0] + extent) / (2 * extent / cols)).astype(int)
    row_from_bottom = np.floor((points[:, 1] + extent) / (2 * extent / rows)).astype(int)
    return rows - 1 - row_from_bottom, col


def test_painted_points_stay_inside_painted_cells_and_fill_each_in_proportion():
    n, extent = 40_000, 3.0
    points = C.painted_points(MASK, extent, n, seed=0)
    assert points.shape == (n, 2) and points.dtype == np.float64
    assert np.abs(points).max() <= extent
    row, col = cell_of(points, extent, MASK.shape)
    assert MASK[row, col].all()
    counts = np.zeros(MASK.shape)
    np.add.at(counts, (row, col), 1)
    # Equal cells, so each painted cell gets n / 4 points, within 5 binomial standard deviations.
    expected, std = n / 4, np.sqrt(n * 0.25 * 0.75)
    assert np.all(np.abs(counts[MASK] - expected) < 5 * std) and counts[~MASK].sum() == 0
    # Uniform inside a cell: the points of the top-left cell spread over all of it.
    top_left = points[(row == 0) & (col == 0)]
    assert np.allclose(top_left.min(0), [-3, 1], atol=0.05) and np.allclose(top_left.max(0), [-1.5, 3], atol=0.05)
    np.testing.assert_array_equal(points, C.painted_points(MASK, extent, n, seed=0))
    assert not np.array_equal(points[:10], C.painted_points(MASK, extent, 10, seed=1))


def test_origin_lower_reads_row_zero_as_the_bottom_row():
    upper = C.painted_points(MASK, 1.0, 1000, seed=0)
    lower = C.painted_points(MASK[::-1], 1.0, 1000, seed=0, origin="lower")
    np.testing.assert_array_equal(upper, lower)


def test_painted_density_is_exact():
    density = C.PaintedDensity(MASK, 2.0)
    assert density.n_cells == 4 and density.area == pytest.approx(4 * 1.0 * (4 / 3))
    # log p integrates to 1 over a fine grid (cell edges on the grid lines, so a midpoint sum is exact).
    axis = np.linspace(-2, 2, 241)[:-1] + 2 / 240
    xx, yy = np.meshgrid(axis, axis)
    grid = np.stack([xx.ravel(), yy.ravel()], 1)
    mass = float(density.log_prob(grid).exp().sum()) * (4 / 240) ** 2
    assert mass == pytest.approx(1.0, abs=1e-9)
    assert density.log_prob([[10.0, 0.0], [float("nan"), 0.0]]).tolist() == [-np.inf, -np.inf]
    x = density.sample(400_000, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(x.mean(0), density.mean, atol=0.01)
    np.testing.assert_allclose(x.var(0), density.variance, rtol=0.01)


def test_a_painted_dataset_is_standardised_exactly_and_knows_which_samples_land_on_the_painting():
    data = C.PaintedDataset.from_painting(MASK, 2.0)
    x = data.sample(200_000, torch.Generator().manual_seed(0))
    assert (x.mean(0).abs().max() < 0.01) and ((x.var(0) - 1).abs().max() < 0.01)
    assert data.inside_fraction(x) == 1.0
    score = C.quality_score_upload(x[:1000], data)
    assert score["inside_fraction"] == 1.0 and score["energy_distance"] < 0.01
    assert set(score["unavailable"]) == {"mode_coverage", "log_density_gap"}
    blob = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    assert C.quality_score_upload(blob, data)["inside_fraction"] < 0.6
    # Its density in standardised units still integrates to 1 (the change of variables is in log_prob).
    assert float(data.log_prob(x[:5]).exp()[0]) == pytest.approx(np.prod(data.original_scale) / data.density.area)


@pytest.mark.parametrize("mask, extent, parameter", [
    (np.zeros((4, 4)), 1.0, "Nothing is painted"),
    (np.ones(4), 1.0, "mask"),
    (np.ones((4, C.MAX_GRID + 1)), 1.0, "mask"),
    (np.full((2, 2), np.nan), 1.0, "mask"),
    (np.ones((2, 2)), 0.0, "extent"),
    (np.ones((2, 2)), float("inf"), "extent"),
])
def test_bad_paintings_raise_value_error_naming_the_problem(mask, extent, parameter):
    with pytest.raises(ValueError, match=parameter):
        C.painted_points(mask, extent, 10, seed=0)


# ---------------------------------------------------------------------------------------------
# Fine-tuning a copy of the shipped denoiser on the points
# ---------------------------------------------------------------------------------------------

SHORT = C.PointsFinetuneConfig(batch_size=256, sample_every=50, n_eval_samples=500, eval_steps=25)


@pytest.fixture(scope="module")
def shipped():
    return load_denoiser2d("ring8")


@pytest.fixture(scope="module")
def blobs():
    return C.UploadedDataset.from_upload(C.parse_points(csv_bytes(two_blobs()), "blobs.csv"))


def state_bytes(model: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.detach().cpu().numpy().tobytes() for k, v in model.state_dict().items()}


def test_fine_tuning_learns_the_uploaded_shape_and_leaves_the_shared_model_alone(shipped, blobs):
    before = state_bytes(shipped)
    history = C.finetune_on_points(blobs, SHORT, seed=0, n_steps=200, model=shipped)
    assert state_bytes(shipped) == before and not shipped.training
    assert not any(p.requires_grad for p in shipped.parameters())
    # Step 0 is the ring the shipped model knows: far from two blobs. 200 steps bring it near the data's
    # own score (two draws of 500 points from the data itself score about 0.003).
    assert history.sample_steps == [0, 50, 100, 150, 200]
    assert history.energy_distance[0] > 0.1
    assert history.energy_distance[-1] < history.energy_distance[0] / 10
    assert history.energy_distance[-1] < 0.02
    # In the file's units the samples sit on the two blobs: half on each, around their centres.
    final = blobs.to_original(history.samples[-1])
    left = final[:, 0] < -5
    assert 0.35 < left.mean() < 0.65
    np.testing.assert_allclose(final[left].mean(0), [-30, 10], atol=2.0)  # blob std 4
    np.testing.assert_allclose(final[~left].mean(0), [20, -10], atol=3.0)  # blob std 6: learned last
    assert history.samples[0].dtype == np.float32 and history.samples[0].shape == (500, 2)
    assert len(history.loss) == 200 and all(np.isfinite(history.loss))


def test_fine_tune_is_deterministic_per_seed(shipped, blobs):
    records = []
    a = C.finetune_on_points(blobs, SHORT, seed=3, n_steps=60, model=shipped,
                             callback=lambda step, record: records.append(step))
    b = C.finetune_on_points(blobs, SHORT, seed=3, n_steps=60, model=shipped)
    c = C.finetune_on_points(blobs, SHORT, seed=4, n_steps=60, model=shipped)
    assert records == list(range(61)) and a.step == list(range(1, 61))
    assert a.loss == b.loss and a.grad_norm == b.grad_norm and a.energy_distance == b.energy_distance
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples))
    assert a.loss != c.loss


def test_a_run_driven_step_by_step_is_the_same_run_and_stops_with_a_last_snapshot(shipped, blobs):
    whole = C.finetune_on_points(blobs, SHORT, seed=1, n_steps=60, model=shipped)
    run = C.FinetuneOnPointsRun(blobs, SHORT, seed=1, n_steps=60, model=shipped)
    assert run.history.sample_steps == [0] and run.opening["step"] == 0
    records = [run.step() for _ in range(53)]
    assert "samples" in records[49] and "samples" not in records[50]
    history = run.stop("stopped by you")
    assert history.stopped == "stopped by you" and history.loss == whole.loss[:53]
    assert history.sample_steps == [0, 50, 53]
    np.testing.assert_array_equal(history.samples[1], whole.samples[1])
    with pytest.raises(RuntimeError, match="ended"):
        run.step()
    timed = C.finetune_on_points(blobs, SHORT, seed=1, n_steps=100_000, time_budget_s=0.3, model=shipped)
    assert timed.stopped == "time_budget" and 0 < len(timed.step) < 100_000


def test_fine_tuning_on_a_painting_runs_from_the_shipped_checkpoint():
    data = C.PaintedDataset.from_painting(MASK, 2.0)
    history = C.finetune_on_points(data, SHORT, seed=0, n_steps=100)  # loads the shipped ring8 itself
    assert history.energy_distance[-1] < history.energy_distance[0]
    assert data.inside_fraction(history.samples[-1]) > data.inside_fraction(history.samples[0])


@pytest.mark.parametrize("config, n_steps, parameter", [
    (C.PointsFinetuneConfig(lr=0.0), 5, "lr"),
    (C.PointsFinetuneConfig(batch_size=0), 5, "batch_size"),
    (C.PointsFinetuneConfig(eval_steps=0), 5, "eval_steps"),
    (C.PointsFinetuneConfig(sample_every=0), 5, "sample_every"),
    (C.PointsFinetuneConfig(base="spiral"), 5, "dataset"),
    (C.PointsFinetuneConfig(), 0, "n_steps"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(blobs, config, n_steps, parameter):
    with pytest.raises(ValueError, match=parameter):
        C.FinetuneOnPointsRun(blobs, config, seed=0, n_steps=n_steps)
    with pytest.raises(TypeError, match="UploadedDataset"):
        C.FinetuneOnPointsRun(D.get_dataset("ring8"), SHORT, seed=0, n_steps=5)
