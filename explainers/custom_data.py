"""Your own 2D data: points from an uploaded CSV file or painted on a grid, made ready for the shipped
denoiser, scored honestly without a known density, and a live fine-tune of the denoiser on them.

Three steps, one per part of this module:

1. **Read** the points. ``parse_points`` turns the bytes of an uploaded file into an (n, 2) float64
   array or raises ``UploadError``, whose message names the problem in words a student understands
   (the page prints it as it is). ``PaintedDensity`` / ``painted_points`` do the same for a
   distribution sketched on a grid: uniform over the painted cells, so its density is known exactly.
2. **Standardise** them the way explainers.data2d standardises its datasets (mean 0, variance exactly 1
   per coordinate), because the shipped denoiser and the VP schedules assume data at that scale
   (REFERENCE.md section 1). ``UploadedDataset`` and ``PaintedDataset`` live in those standardised
   units, with ``to_original`` to show results in the file's own units. They have what scoring and
   training use from a data2d dataset: ``name``, ``description``, ``sample(n, generator)``, ``mean``,
   ``variance``.
3. **Score and fine-tune.** An upload is only a sample of an unknown distribution: no density, no
   modes. ``quality_score_upload`` therefore gives the energy distance to the points themselves, with
   the score of the data itself beside it, and names the numbers it cannot give and why.
   ``FinetuneOnPointsRun`` fine-tunes a private copy of the shipped ring8 denoiser on the points with
   the loss it was trained with, one step at a time, as the spectral page's ``FinetuneRun`` does.

Nothing here imports streamlit; the page reads the files, shows the messages and draws the points.
"""

from __future__ import annotations

import codecs
import copy
import csv
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, ClassVar

import numpy as np
import torch
from torch import nn

from explainers.checks import check_int
from explainers.data2d import REFERENCE_SEED, REFERENCE_SIZE
from explainers.spectral_training import TrainingRun, v_prediction_step

MAX_BYTES = 5 * 1024 * 1024  # 5 MiB: 100,000 rows of two long numbers fit with room to spare
MAX_ROWS = 100_000  # more points teach the model nothing more, and cost memory in every session
MIN_POINTS = 2  # one point has no spread to standardise; the file must hold at least two
FEW_POINTS = 20  # below this, the summary warns that the model can learn little more than blobs
# Each point is spread by N(0, JITTER^2 I) in standardised units when training on it, as every data2d
# dataset is a set of centres blurred by a small Gaussian (std 0.05 for the checkerboard, 0.1 for the
# rest). See UploadedDataset for why.
JITTER = 0.05
MAX_GRID = 512  # cells per side of a painted grid
_SNIFF_LINES = 50  # lines looked at to choose the delimiter
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", None: "spaces"}
# Recognised by their first bytes, so the message can say what the file is instead.
_SIGNATURES = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
               (b"%PDF", "a PDF document"), (b"PK\x03\x04", "an Excel workbook or another zip archive"),
               (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Word file"))


class UploadError(ValueError):
    """A file (or painting) that cannot be used as 2D points. The message says what is wrong and what to
    do, in words meant for the person who made the file; the page shows it unchanged."""


# ---------------------------------------------------------------------------------------------
# 1. Reading a CSV file of points
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsUpload:
    """What ``parse_points`` read: the points in the file's own units, and how it read them."""

    points: np.ndarray  # (n, 2) float64, finite, with spread in both coordinates
    columns: tuple[str, str]  # the names of the two columns used (from the header, else "column 1"…)
    delimiter: str  # "comma", "semicolon", "tab" or "spaces"
    header: bool
    notes: tuple[str, ...] = ()  # anything else worth telling: skipped lines, decimal commas, few points…
    filename: str = ""

    @property
    def summary(self) -> str:
        """One or two sentences for the page, e.g. "Read 250 points from columns x and y (comma-separated,
        with a header)." followed by the notes."""
        layout = f"{self.delimiter}-separated, {'with a header' if self.header else 'no header'}"
        text = f"Read {len(self.points):,} points from columns {self.columns[0]} and {self.columns[1]} ({layout})."
        return " ".join([text, *self.notes])


def parse_points(data: bytes, filename: str = "") -> PointsUpload:
    """The 2D points in an uploaded CSV file, or an UploadError naming what is wrong with it.

    The rules, in order:

    * At most MAX_BYTES, checked before anything is read. Text in UTF-8 (with or without BOM) or UTF-16
      with a BOM; other text is read as Latin-1 (only the header can hold letters, and a note says so).
      Images, PDFs, spreadsheets and other binary files are refused by name.
    * Blank lines and lines starting with ``#`` are skipped. The delimiter is a tab, semicolon or comma
      when it appears on every line looked at (the first line may be a header, so it does not count), in
      that order of preference; otherwise runs of spaces. (csv.Sniffer is not used: on files of numbers
      it can pick "." or a digit as the delimiter.) With tabs or semicolons a decimal comma is read as a
      decimal point ("1,5" is 1.5), as spreadsheets in those locales write it.
    * The first line is a header when it holds text where the other rows hold numbers.
    * Columns: those named x and y when the header has both; else the first two columns of numbers (at
      least half their values are numbers). A column that only numbers the rows (unnamed, as pandas'
      to_csv writes its index, or named "index" or "id"; holding 0, 1, 2, … or 1, 2, 3, …) is skipped.
    * Every other row must hold a finite number in both columns: a row with text, an empty cell, NaN or
      inf there is an error naming its row (the line number in the file, which is also the row number a
      spreadsheet shows). Such rows are not skipped silently: a dropped row changes the distribution the
      model learns, and is usually a sign of the wrong file or the wrong columns.
    * At least MIN_POINTS and at most MAX_ROWS points, with spread in both x and y.
    """
    label = f"“{filename}”" if filename else "The file"
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        size = math.ceil(len(data) / 2**20 * 10) / 10  # rounded up, so it never reads as the limit itself
        raise UploadError(f"{label} is {size:.1f} MB, more than the {MAX_BYTES / 2**20:.0f} MB limit for uploads "
                          f"(at most {MAX_ROWS:,} points). Keep a random subset of the rows.")
    if not data.strip():
        raise UploadError(f"{label} is empty: it holds no points.")
    text, notes = _decode(data, label)
    lines = text.splitlines()
    content = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    comments = sum(1 for line in lines if line.lstrip().startswith("#"))
    if not content:
        raise UploadError(f"{label} holds only comment lines (starting with #) and no points.")
    if len(content) - 1 > MAX_ROWS:  # cheap early check: even if the first line is a header
        raise UploadError(f"{label} has {len(content):,} lines; at most {MAX_ROWS:,} points (and a header line) "
                          f"can be used. Keep a random subset of the rows.")
    delimiter = _choose_delimiter([line for _, line in content[:_SNIFF_LINES]])
    records = _split(content, delimiter, label)
    decimal_comma = delimiter in (";", "\t")
    parsed = [(line_no, [_to_number(f, decimal_comma) for f in fields], fields) for line_no, fields in records]

    header = _is_header(parsed)
    names = [f.strip() for f in records[0][1]] if header else []
    rows = parsed[1:] if header else parsed
    if not rows:
        raise UploadError(f"{label} has a header line but no rows of numbers under it.")
    if len(rows) > MAX_ROWS:
        raise UploadError(f"{label} has {len(rows):,} rows of points; at most {MAX_ROWS:,} points can be used. "
                          f"Keep a random subset of the rows.")
    n_columns = max(len(values) for _, values, _ in rows)

    def name(j: int) -> str:
        return names[j] if j < len(names) and names[j] else f"column {j + 1}"

    numeric = [j for j in range(n_columns)
               if 2 * sum(j < len(values) and values[j] is not None for _, values, _ in rows) >= len(rows)]
    index_columns = [j for j in numeric if header and _is_row_index(name(j), j, rows)]
    if index_columns:
        numeric = [j for j in numeric if j not in index_columns]
        notes.append(f"Skipped {name(index_columns[0])}: it only numbers the rows.")
    if len(numeric) < 2:
        found = "no column" if not numeric else f"only one ({name(numeric[0])})"
        if n_columns < 2:
            raise UploadError(f"{label} has only one column. It needs two columns of numbers, x and y, "
                              f"separated by commas, semicolons or tabs.")
        raise UploadError(f"{label} needs two columns of numbers (x and y), but {found} holds numbers. "
                          f"Columns found: {', '.join(name(j) for j in range(n_columns))}.")
    by_name = {name(j).lower(): j for j in numeric}
    jx, jy = (by_name["x"], by_name["y"]) if "x" in by_name and "y" in by_name else numeric[:2]
    if n_columns > 2:
        notes.append(f"Used {name(jx)} and {name(jy)} of {n_columns} columns.")

    points = _row_values(rows, (jx, jy), (name(jx), name(jy)), label)
    if decimal_comma and any("," in fields[j] for _, _, fields in rows for j in (jx, jy) if j < len(fields)):
        notes.append("Read decimal commas as decimal points.")
    if comments:
        notes.append(f"Skipped {comments} comment line{'s' if comments != 1 else ''} (starting with #).")
    _check_points(points, label)
    if len(points) < FEW_POINTS:
        notes.append(f"Only {len(points)} points: the model can learn little more than a blob around each.")
    return PointsUpload(points, (name(jx), name(jy)), _DELIMITER_NAMES[delimiter], header, tuple(notes), filename)


def _decode(data: bytes, label: str) -> tuple[str, list[str]]:
    """The file as text, and a note when it was not UTF-8; UploadError for anything that is not text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            raise UploadError(f"{label} starts like UTF-16 text but is not readable as it. "
                              f"Save it as CSV (UTF-8) and upload it again.") from None
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            raise UploadError(f"{label} is {kind}, not a CSV file. Save or export your points as CSV "
                              f"(two columns of numbers, x and y) and upload that.")
    head = data[:65536]
    controls = sum(b < 32 and b not in b"\t\n\r\f\v" for b in head)
    if b"\x00" in head or controls > 0.01 * len(head):
        raise UploadError(f"{label} is not a text file, so it cannot be a CSV file of points. "
                          f"Save or export your points as CSV (two columns of numbers, x and y).")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        # Only the header can hold letters: reading it as Latin-1 can at worst garble a column name.
        return data.decode("latin-1"), ["The file is not UTF-8; it was read as Latin-1 text."]


def _choose_delimiter(lines: list[str]) -> str | None:
    """Tab, semicolon or comma when it is on every line (after the first, which may be a header), else
    None for runs of spaces. Tab and semicolon come first because their files may hold decimal commas."""
    body = lines[1:] or lines
    for delimiter in ("\t", ";", ","):
        if all(delimiter in line for line in body):
            return delimiter
    if all(len(line.split()) >= 2 for line in body):
        return None
    return ","


def _split(content: list[tuple[int, str]], delimiter: str | None, label: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) per non-blank line; the csv module handles quoted fields."""
    if delimiter is None:
        return [(line_no, line.split()) for line_no, line in content]
    try:
        reader = csv.reader((line for _, line in content), delimiter=delimiter)
        return [(content[i][0], fields) for i, fields in enumerate(reader)]
    except csv.Error as err:
        raise UploadError(f"{label} is not a CSV file that can be read ({err}).") from None


def _to_number(field: str, decimal_comma: bool) -> float | None:
    """The number in a field (nan and inf included: they are reported later with their row), else None."""
    text = field.strip()
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _is_header(parsed: list[tuple[int, list, list[str]]]) -> bool:
    """The first line is a header when it has text in a column that holds numbers in the other rows
    (or, in a file of one line, when it has any text at all)."""
    first = parsed[0][1]
    rest = parsed[1:]
    if not rest:
        return any(v is None for v in first)
    for j, value in enumerate(first):
        numbers_below = sum(j < len(values) and values[j] is not None for _, values, _ in rest)
        if value is None and 2 * numbers_below >= len(rest):
            return True
    return False


def _is_row_index(name: str, j: int, rows) -> bool:
    """A column that only numbers the rows: unnamed (pandas' to_csv writes its index so), "index" or "id",
    holding 0, 1, 2, … or 1, 2, 3, …"""
    if name.lower() not in (f"column {j + 1}", "unnamed: 0", "index", "id"):
        return False
    values = [values[j] if j < len(values) else None for _, values, _ in rows]
    return any(all(v == i + start for i, v in enumerate(values)) for start in (0, 1))


def _row_values(rows, columns: tuple[int, int], names: tuple[str, str], label: str) -> np.ndarray:
    """(n, 2) float64 from the two columns; UploadError naming the first bad rows otherwise."""
    problems: dict[str, list[tuple[int, str, str]]] = {  # kind: [(row, column name, its text)]
        "text": [], "empty": [], "nan": [], "inf": []}
    points = np.empty((len(rows), 2))
    for i, (line_no, values, fields) in enumerate(rows):
        for k, j in enumerate(columns):
            value = values[j] if j < len(values) else None
            if value is None:
                raw = fields[j].strip() if j < len(fields) else ""
                problems["text" if raw else "empty"].append((line_no, names[k], raw))
            elif math.isnan(value):
                problems["nan"].append((line_no, names[k], fields[j].strip()))
            elif math.isinf(value):
                problems["inf"].append((line_no, names[k], fields[j].strip()))
            else:
                points[i, k] = value
    what = {"text": "text where a number should be", "empty": "an empty cell", "nan": "a NaN (not a number) value",
            "inf": "an infinite value (or a number too large to store)"}
    for kind, found in problems.items():
        if found:
            line_no, column, raw = found[0]
            shown = f" (“{raw[:30]}”)" if raw and kind != "empty" else ""
            others = sorted({line for line, _, _ in found[1:]} - {line_no})
            also = ""
            if others:
                listed = ", ".join(map(str, others[:3])) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
                also = f" Row {listed} has the same problem." if len(others) == 1 else \
                    f" Rows {listed} have the same problem."
            these = "these rows" if others else "this row"
            raise UploadError(f"{label}: row {line_no} has {what[kind]} in column {column}{shown}.{also} "
                              f"Every row needs a finite number for both x and y: fix or delete {these}.")
    return points


def _check_points(points: np.ndarray, label: str = "The data") -> None:
    """UploadError unless there are MIN_POINTS or more finite points with spread in both coordinates."""
    if len(points) < MIN_POINTS:
        raise UploadError(f"{label} holds only {len(points)} point{'s' if len(points) != 1 else ''}; "
                          f"at least {MIN_POINTS} are needed (and a few hundred show a shape).")
    if not np.isfinite(points).all():
        raise UploadError(f"{label} holds NaN or infinite values; every point needs finite x and y.")
    with np.errstate(over="ignore", invalid="ignore"):
        std = points.std(axis=0)
    if not np.isfinite(std).all():
        raise UploadError(f"{label} holds numbers too large to work with (up to {np.abs(points).max():.3g}); "
                          f"rescale them, e.g. to thousands instead of units.")
    # Relative to the numbers' size: 1e9 + 1e-7 and 1e9 are the same number to a float64 computation.
    flat = std <= 1e-12 * max(1.0, float(np.abs(points).max()))
    x, y = points[0]
    if flat.all():
        raise UploadError(f"All {len(points):,} points are the same point ({x:g}, {y:g}): "
                          f"there is no spread for the model to learn.")
    if flat.any():
        axis, value, line = ("x", x, "vertical") if flat[0] else ("y", y, "horizontal")
        raise UploadError(f"Every point has the same {axis} ({value:g}), so they all lie on one {line} line. "
                          f"The points need spread in both x and y.")


def standardise_like_data2d(points, sigma: float = JITTER) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points_std, mean, scale) with points_std = (points - mean) / scale, as data2d standardises its
    datasets: the points are the centres of Gaussians of std `sigma`, and the scale makes that mixture
    have mean 0 and variance exactly 1 per coordinate, Var(centres) + sigma^2 = 1 (data2d._standardise).

    The default sigma is the JITTER that UploadedDataset adds, so the data it trains on has variance
    exactly 1, the scale the shipped denoiser learned. Use sigma=0 for points used as they are.
    Results in the file's units: points_std * scale + mean. Arrays are float64; UploadError (a
    ValueError) when the points have no spread in x or in y.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating)) or not 0 <= sigma < 1:
        raise ValueError(f"sigma must be a number in [0, 1), got {sigma!r}")
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {x.shape}")
    _check_points(x)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) / math.sqrt(1 - sigma**2)
    return (x - mean) / scale, mean, scale


# ---------------------------------------------------------------------------------------------
# 1b. A distribution painted on a grid
# ---------------------------------------------------------------------------------------------


class PaintedDensity:
    """The uniform density on the painted cells of an (H, W) grid laid over [-extent, extent]^2.

    `mask`: bool or numbers; a cell with a value above 0 is painted. `origin`: "upper" when row 0 of the
    mask is the top row, as in an image or a drawing canvas; "lower" when row 0 is the bottom row, as in a
    Plotly heatmap. Every painted cell has the same area, so a uniform point is a uniformly chosen
    painted cell and then a uniform point inside it; its density is 1 / (painted area) there, 0 elsewhere.
    """

    def __init__(self, mask, extent: float, origin: str = "upper"):
        grid = np.asarray(mask)
        if grid.ndim != 2 or not (1 <= grid.shape[0] <= MAX_GRID and 1 <= grid.shape[1] <= MAX_GRID):
            raise ValueError(f"mask must be a 2-D grid of 1 to {MAX_GRID} cells per side, got shape {grid.shape}")
        if grid.dtype != bool and not (np.issubdtype(grid.dtype, np.number) and np.isfinite(grid).all()):
            raise ValueError("mask must hold booleans or finite numbers (a cell above 0 is painted)")
        if isinstance(extent, bool) or not isinstance(extent, (int, float, np.number)) \
                or not math.isfinite(extent) or not 0 < extent <= 1e6:
            raise ValueError(f"extent must be a number in (0, 1e6], got {extent!r}")
        if origin not in ("upper", "lower"):
            raise ValueError(f"origin must be 'upper' (row 0 at the top) or 'lower' (row 0 at the bottom); "
                             f"got {origin!r}")
        painted = grid > 0
        if not painted.any():
            raise UploadError("Nothing is painted yet: paint at least one cell of the grid.")
        # From here on row 0 is the bottom row (smallest y), so row i covers y in [-e + i h, -e + (i + 1) h].
        self.painted = painted[::-1].copy() if origin == "upper" else painted.copy()
        self.extent = float(extent)
        rows, cols = self.painted.shape
        self.cell = np.array([2 * self.extent / cols, 2 * self.extent / rows])  # (width, height)
        r, c = np.nonzero(self.painted)
        self.lows = torch.tensor(np.stack([c, r], 1) * self.cell - self.extent, dtype=torch.float64)  # (K, 2)
        self.n_cells = len(r)
        self.area = float(self.n_cells * self.cell.prod())
        # Equal-weight mixture of uniform cells: Var = Var(cell centres) + cell side^2 / 12, exactly.
        centres = self.lows.numpy() + self.cell / 2
        self.mean = centres.mean(axis=0)
        self.variance = centres.var(axis=0) + self.cell**2 / 12

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n uniform points on the painted cells: (n, 2) float64."""
        check_int("n", n, 1, 10_000_000)
        k = torch.randint(self.n_cells, (n,), generator=generator)
        inside = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        return self.lows[k] + inside * torch.as_tensor(self.cell)

    def contains(self, x) -> torch.Tensor:
        """(n,) bool: whether each point lies on a painted cell (a NaN or infinite point does not)."""
        x = _points_tensor(x)
        finite = torch.isfinite(x).all(dim=1)
        col_row = torch.floor((torch.where(finite[:, None], x, 0.0) + self.extent) / torch.as_tensor(self.cell)).long()
        rows, cols = self.painted.shape
        on_grid = finite & (col_row[:, 0] >= 0) & (col_row[:, 0] < cols) & (col_row[:, 1] >= 0) & (col_row[:, 1] < rows)
        c, r = col_row[:, 0].clamp(0, cols - 1), col_row[:, 1].clamp(0, rows - 1)
        return on_grid & torch.as_tensor(self.painted)[r, c]

    def log_prob(self, x) -> torch.Tensor:
        """(n,) float64: -log(painted area) on the painted cells, -inf elsewhere."""
        inside = self.contains(x)
        return torch.full(inside.shape, -math.inf, dtype=torch.float64).masked_fill(inside, -math.log(self.area))


def painted_points(mask, extent: float, n: int, seed: int, origin: str = "upper") -> np.ndarray:
    """n points drawn uniformly from the painted cells of `mask` over [-extent, extent]^2: (n, 2) float64,
    the same for the same seed (PaintedDensity says how the grid is read)."""
    check_int("seed", seed, 0, 2**63 - 1)
    return PaintedDensity(mask, extent, origin).sample(n, torch.Generator().manual_seed(seed)).numpy()


# ---------------------------------------------------------------------------------------------
# 2. Datasets in standardised units, and their scores
# ---------------------------------------------------------------------------------------------


def _points_tensor(x) -> torch.Tensor:
    x = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {tuple(x.shape)}")
    return x


class UserDataset:
    """What UploadedDataset and PaintedDataset share: standardised units (mean 0 and variance 1 per
    coordinate, like every data2d dataset), the way back to the original units, and a fixed reference
    sample for the energy distance.

    ``original_mean`` and ``original_scale`` map back: x = z * original_scale + original_mean.
    ``reference``: at most REFERENCE_SIZE points of the data (float64), fixed, so scores are reproducible
    and cost what data2d's cost.
    """

    name: str
    description: str
    original_mean: np.ndarray
    original_scale: np.ndarray
    reference: torch.Tensor

    mean = (0.0, 0.0)
    variance = (1.0, 1.0)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points in standardised units, (n, 2) float32, as data2d's ``sample``."""
        check_int("n", n, 1, 10_000_000)
        return self._draw(n, generator).float()

    def _draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def to_original(self, z) -> np.ndarray:
        """Standardised points back in the units of the file (or grid): (n, 2) float64."""
        return _points_tensor(z).numpy() * self.original_scale + self.original_mean

    def from_original(self, x) -> np.ndarray:
        """Points in the file's units, standardised as this dataset is: (n, 2) float64."""
        return (_points_tensor(x).numpy() - self.original_mean) / self.original_scale

    @cached_property
    def reference_spread(self) -> float:
        """E|Y - Y'| over all pairs of the reference points, computed once (float32, as the scores use)."""
        ref = self.reference.float()
        return float(torch.cdist(ref, ref).mean())


class UploadedDataset(UserDataset):
    """Uploaded points as a dataset: ``sample`` resamples them with replacement and adds N(0, jitter^2 I).

    Why the jitter (JITTER = 0.05 by default, in standardised units; 0 turns it off): the best denoiser
    for a finite set of points maps every noisy point back onto one of them, i.e. it memorises; the jitter
    makes the training target a smooth density around the points (a kernel density estimate), what
    "the distribution behind these points" means, and the kind of data the shipped model was trained on
    (every data2d dataset is centres blurred by a Gaussian of std 0.05 or 0.1). At 5% of the data's
    spread it moves the energy distance by less than the score's own noise. The standardisation counts
    it (``standardise_like_data2d`` with sigma = jitter), so the training data has variance exactly 1.

    The energy distance is measured to the points themselves, not jittered: they are what was uploaded.
    """

    def __init__(self, points, name: str = "your points", jitter: float = JITTER, description: str | None = None):
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2), got {x.shape}")
        if len(x) > MAX_ROWS:
            raise UploadError(f"{len(x):,} points is too many; at most {MAX_ROWS:,} can be used.")
        z, self.original_mean, self.original_scale = standardise_like_data2d(x, sigma=jitter)
        self.name, self.jitter = str(name), float(jitter)
        self.points = torch.as_tensor(z)  # (n, 2) float64, standardised
        self.n_points = len(z)
        self.description = description or f"{self.n_points:,} uploaded points, each blurred by std {self.jitter:g}"
        if self.n_points <= REFERENCE_SIZE:
            self.reference = self.points
        else:  # a fixed random subset: every point scored against 100,000 would cost 50 times more
            keep = torch.randperm(self.n_points, generator=torch.Generator().manual_seed(REFERENCE_SEED))
            self.reference = self.points[keep[:REFERENCE_SIZE]]

    @classmethod
    def from_upload(cls, upload: PointsUpload, jitter: float = JITTER) -> UploadedDataset:
        name = upload.filename or "your points"
        return cls(upload.points, name=name, jitter=jitter)

    def _draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        pick = torch.randint(self.n_points, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.points[pick] + self.jitter * noise


class PaintedDataset(UserDataset):
    """A painted distribution as a dataset: ``sample`` draws fresh points from the exact density (no
    jitter needed: it is already a smooth density, not a finite set of points), standardised exactly
    with its exact mean and variance. Its energy-distance reference is REFERENCE_SIZE fresh points
    drawn with a fixed seed, as data2d's is. Being exact, it can also say which samples landed on the
    painting (``inside_fraction``) and give their log-density."""

    def __init__(self, density: PaintedDensity, name: str = "your sketch", description: str | None = None):
        self.density = density
        self.name = str(name)
        self.original_mean = np.asarray(density.mean, dtype=np.float64)
        self.original_scale = np.sqrt(density.variance)
        self.description = description or f"uniform on {density.n_cells:,} painted cells"
        self.reference = self._draw(REFERENCE_SIZE, torch.Generator().manual_seed(REFERENCE_SEED))

    @classmethod
    def from_painting(cls, mask, extent: float, origin: str = "upper", name: str = "your sketch") -> PaintedDataset:
        return cls(PaintedDensity(mask, extent, origin), name=name)

    def _draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        x = self.density.sample(n, generator)
        return (x - torch.as_tensor(self.original_mean)) / torch.as_tensor(self.original_scale)

    def inside_fraction(self, samples) -> float:
        """The fraction of (standardised) samples that land on a painted cell: 1 for the data itself."""
        return float(self.density.contains(self.to_original(samples)).double().mean())

    def log_prob(self, z) -> torch.Tensor:
        """Exact log-density in standardised units: log p(x) + sum log scale (the change of variables)."""
        return self.density.log_prob(self.to_original(z)) + float(np.log(self.original_scale).sum())


def energy_distance_to(samples, dataset: UserDataset) -> float:
    """Energy distance (Szekely & Rizzo 2013) from samples to the dataset's reference points,

        D = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,

    over all pairs, the same estimator and float32 arithmetic as data2d.energy_distance (which can only
    score its named datasets). 0 only when the distributions are equal; lower is better; inf when a sample
    is not finite."""
    x = _points_tensor(samples)
    if len(x) == 0:
        raise ValueError("samples must hold at least one point, got shape (0, 2)")
    if not bool(torch.isfinite(x).all()):
        return math.inf
    x, ref = x.float(), dataset.reference.float()
    return float(2 * torch.cdist(x, ref).mean()) - float(torch.cdist(x, x).mean()) - dataset.reference_spread


def data_energy_distance(dataset: UserDataset, n: int) -> float:
    """What n draws from the dataset itself score (fixed seed): the floor a perfect model reaches with n
    samples, so a page can say whether a score is near it."""
    return energy_distance_to(dataset.sample(n, torch.Generator().manual_seed(REFERENCE_SEED + 1)), dataset)


UNAVAILABLE_UPLOAD = {
    "mode_coverage": "your points come without modes: nobody has split them into regions to count",
    "log_density_gap": "it needs the exact density of your data, and a file only holds a sample of it",
}
UNAVAILABLE_PAINTED = {
    "mode_coverage": "a painting comes without modes: nobody has split it into regions to count",
    "log_density_gap": "a uniform density gives every point on the painting the same value; "
                       "inside_fraction says what it would",
}


def quality_score_upload(samples, dataset: UserDataset) -> dict:
    """What can be said honestly about samples of data without a known density (in standardised units).

    * ``energy_distance`` to the data's reference points (``energy_distance_to``); lower is better.
    * ``data_energy_distance``: what as many draws from the data itself score, the floor.
    * ``inside_fraction`` (painted data only): the share of samples on the painted cells; the data: 1.
    * ``unavailable``: {score name: why it cannot be given}, for data2d's scores that need known modes or
      an exact density; ``note``: one line the page can print about it.
    """
    if not isinstance(dataset, UserDataset):
        raise TypeError(f"dataset must be an UploadedDataset or PaintedDataset, got {type(dataset).__name__}; "
                        f"score data2d's datasets with data2d.quality_score")
    x = _points_tensor(samples)
    score = {"energy_distance": energy_distance_to(x, dataset),
             "data_energy_distance": data_energy_distance(dataset, len(x))}
    if isinstance(dataset, PaintedDataset):
        score["inside_fraction"] = dataset.inside_fraction(x)
        score["unavailable"] = dict(UNAVAILABLE_PAINTED)
        score["note"] = ("Scored by energy distance to your painting and by the share of samples that land on it; "
                         "mode coverage needs modes, which a painting does not have.")
    else:
        n_ref = len(dataset.reference)
        against = "your points" if n_ref == dataset.n_points else f"{n_ref:,} of your points (a fixed random subset)"
        score["unavailable"] = dict(UNAVAILABLE_UPLOAD)
        score["note"] = (f"Scored only by energy distance to {against}: mode coverage and log-density need a "
                         f"known density and modes, which an uploaded file does not have.")
    return score


# ---------------------------------------------------------------------------------------------
# 3. Fine-tuning the shipped denoiser on the points
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsFinetuneConfig:
    """A fine-tune of a shipped 2D denoiser on your data. The loss (v-prediction), the noise levels it
    trains at and the gradient clipping are the ones the denoiser was trained with (explainers.train2d);
    the learning rate is half the one it was trained with at its peak, so the first steps move it to the
    new shape without throwing away what it learned about denoising."""

    base: str = "ring8"  # the shipped checkpoint to start from
    lr: float = 1e-3
    batch_size: int = 256
    sample_every: int = 100
    n_eval_samples: int = 1000
    eval_steps: int = 50  # DDIM (eta = 0) steps on the cosine schedule, T = 1000, for the snapshots


@dataclass
class PointsFinetuneHistory:
    """What a fine-tune on your data recorded. Per step (1..n): the loss and the gradient norm before
    clipping. Per snapshot (step 0 = the shipped model before any step, then every sample_every steps
    and the last): samples (standardised units; dataset.to_original maps them back) and their energy
    distance to the data."""

    PER_STEP: ClassVar[tuple[str, ...]] = ("step", "loss", "grad_norm")
    PER_LAYER: ClassVar[tuple[str, ...]] = ()
    PER_SNAPSHOT: ClassVar[tuple[str, ...]] = ("samples", "energy_distance")

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    sample_steps: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # each (n_eval_samples, 2) float32
    energy_distance: list[float] = field(default_factory=list)
    stopped: str = "completed"
    elapsed_s: float = 0.0


class FinetuneOnPointsRun(TrainingRun):
    """Fine-tunes a private copy of a shipped 2D denoiser on `dataset` (an UploadedDataset or
    PaintedDataset), one Adam step per ``step()``.

    `model` (default: the shipped checkpoint config.base) is never changed: it is deep-copied and only the
    copy trains. The opening snapshot (step 0) is the untouched model's samples, so a page can show
    "before" at once. Every draw (data, noise levels, noise, the evaluation start points) comes from CPU
    generators seeded from `seed`, so the same seed and settings give the same history (and the same
    draws on a GPU as on the CPU).

    With the defaults, 1,000 steps take a few seconds on one CPU thread: far inside the page's 30 s budget
    (docs/PERFORMANCE.md).
    """

    History = PointsFinetuneHistory

    def __init__(self, dataset: UserDataset, config: PointsFinetuneConfig | None = None, seed: int = 0,
                 n_steps: int = 1000, device: str = "cpu", model: nn.Module | None = None):
        from explainers.models import load_denoiser2d
        from explainers.sampling import step_alphas_cumprod
        from explainers.schedules import make_schedule

        config = config or PointsFinetuneConfig()
        super().__init__(config, n_steps, device)
        check_int("eval_steps", config.eval_steps, 1, 1000)
        check_int("seed", seed, 0, 2**63 - 10_001)
        if not isinstance(dataset, UserDataset):
            raise TypeError(f"dataset must be an UploadedDataset or PaintedDataset, got {type(dataset).__name__}")
        self.data = dataset
        base = load_denoiser2d(config.base) if model is None else model
        self.net = copy.deepcopy(base).to(device).train().requires_grad_(True)
        self.params = list(self.net.parameters())
        self.opt = torch.optim.Adam(self.params, lr=config.lr)
        self.rng = torch.Generator().manual_seed(seed)
        self.abar_steps = step_alphas_cumprod(make_schedule("cosine", T=1000).alphas_cumprod, config.eval_steps)
        # The same start noise at every snapshot, so the plotted samples move smoothly as the model learns.
        self.z_eval = torch.randn(config.n_eval_samples, 2, generator=torch.Generator().manual_seed(seed + 10_000))
        self.opening = self._take_snapshot(0)

    def _train_step(self) -> dict:
        loss, grad_norm = v_prediction_step(self.net, self.params, self.opt, self.data, self.rng,
                                            self.config.batch_size, self.device)
        return {"loss": loss, "grad_norm": grad_norm}

    def _snapshot(self) -> dict:
        from explainers.sampling import sample_ddim

        self.net.eval()
        samples = sample_ddim(self.net, self.z_eval.to(self.device), self.abar_steps).cpu()
        self.net.train()
        return {"samples": samples.numpy().astype(np.float32),
                "energy_distance": energy_distance_to(samples, self.data)}


def finetune_on_points(dataset: UserDataset, config: PointsFinetuneConfig | None = None, seed: int = 0,
                       n_steps: int = 1000, callback: Callable[[int, dict], None] | None = None,
                       should_stop: Callable[[], bool] | None = None, time_budget_s: float | None = None,
                       device: str = "cpu", model: nn.Module | None = None) -> PointsFinetuneHistory:
    """Fine-tune a copy of the shipped denoiser on `dataset` for up to n_steps steps (FinetuneOnPointsRun,
    driven to the end); callback sees step 0 (the snapshot before training) and every step."""
    return FinetuneOnPointsRun(dataset, config, seed, n_steps, device, model).run(callback, should_stop, time_budget_s)
