"""Page state: typed URL parameters with readable notices, and one frozen view per page.

Every control that changes what a page shows is a `Param`. The same spec gives the widget its
range, checks a hand-edited URL before the widget sees it, and writes a shareable link. A bad
value never raises: it falls back to the default and produces a notice that names the parameter
and its valid range. A number's valid range is the library's (`valid=`, the constant beside the
function that checks it); a slider may narrow it with explicit `low`/`high`.

A page's settings then travel as one frozen dataclass (`ScheduleView`, `BackwardView`,
`SpectralView`) whose fields are the library's parameter names; the URL keeps its short keys through
the one alias table `URL_KEYS`. App-wide settings (seed, explanation level) are defined here too.

This module is longer than the others because it holds both halves of one idea: the URL's
parameters and the typed views built from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlencode

# Query keys Streamlit itself understands; never reported as unknown.
STREAMLIT_KEYS = frozenset({"embed", "embed_options"})
MAX_SHOWN_VALUE = 40  # characters of a bad value quoted back in a notice



@dataclass(frozen=True)
class Param:
    """One URL-bound control. kind: "int", "float", "choice", "bool" or "multi" (repeated key)."""

    key: str
    label: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()
    max_count: int | None = None
    help: str = ""
    bounds: tuple | None = None  # (low, high) before with_range narrowed it: the range a URL value may take
    labels: tuple[tuple[str, str], ...] = ()  # (choice, words): what a person reads; the URL keeps the choice
    valid: tuple | None = None  # the library's valid (low, high); low/high left None take it whole

    def __post_init__(self):
        if self.valid is None:
            return
        if self.low is None and self.high is None:
            object.__setattr__(self, "low", self.valid[0])
            object.__setattr__(self, "high", self.valid[1])
        outer = self.bounds or (self.low, self.high)
        if not self.valid[0] <= outer[0] <= outer[1] <= self.valid[1]:
            raise ValueError(f"{self.key}: the control's range [{outer[0]:g}, {outer[1]:g}] must lie inside the "
                             f"library's [{self.valid[0]:g}, {self.valid[1]:g}]")

    def word(self, choice: str) -> str:
        """How a choice reads on the page ("variance exploding"); the identifier itself when it has no label."""
        return dict(self.labels).get(choice, choice)

    def range_text(self) -> str:
        if self.kind in ("int", "float"):
            return f"a number in [{self.low:g}, {self.high:g}]"
        if self.kind == "bool":
            return "true or false"
        options = ", ".join(map(str, self.choices))
        if self.kind == "multi":
            return f"up to {self.max_count} of: {options}"
        return f"one of: {options}"

    def with_range(self, low: float, high: float, default: Any | None = None) -> "Param":
        """A copy with a range that depends on another parameter (e.g. t in [0, T-1])."""
        return replace(self, default=self.default if default is None else default, low=low, high=high,
                       bounds=self.bounds or (self.low, self.high))

    def parse(self, raw: Sequence[str]) -> tuple[Any, str | None]:
        """Return (value, None) for a valid URL value, or (default, notice) for an invalid one."""
        try:
            return self._parse(list(raw)), None
        except (ValueError, TypeError):
            narrowed = self._narrowed_notice(list(raw))
            if narrowed:
                return self.default, narrowed
            notice = (
                f"URL parameter '{self.key}' ({self.label}) must be {self.range_text()}; "
                f"got {quote_value(','.join(raw))}, so the default {self.format(self.default)} is used."
            )
            return self.default, notice

    def _narrowed_notice(self, raw: list[str]) -> str | None:
        """The notice for a number valid in the usual range but outside the range another control narrowed
        it to (?T=10&t=500). The control then shows its default; when that default is the nearest end of
        the range, as for t at T <= 500, say so: it is the largest (smallest) valid value, not a default."""
        if self.bounds is None or not raw:
            return None
        try:
            value = replace(self, low=self.bounds[0], high=self.bounds[1], bounds=None)._parse(raw)
        except (ValueError, TypeError):
            return None
        if value > self.high and self.default == self.high:
            used = f"the largest valid value, {self.format(self.default)}, is used"
        elif value < self.low and self.default == self.low:
            used = f"the smallest valid value, {self.format(self.default)}, is used"
        else:
            used = f"the default {self.format(self.default)} is used"
        return (f"URL parameter '{self.key}' ({self.label}) must be {self.range_text()} with the current "
                f"settings; got {quote_value(','.join(raw))}, so {used}.")

    def _parse(self, raw: list[str]) -> Any:
        if self.kind == "multi":
            values = [v for v in raw if v != ""]
            if not values or len(values) > (self.max_count or len(values)):
                raise ValueError
            if any(v not in self.choices for v in values) or len(set(values)) != len(values):
                raise ValueError
            return tuple(values)
        if not raw:
            raise ValueError
        text = raw[-1]  # a repeated key: the last value wins, as in Streamlit's URL binding
        if self.kind == "choice":
            if text not in self.choices:  # exact: Streamlit's binding does not strip spaces either
                raise ValueError
            return text
        text = text.strip()
        if self.kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        number = float(text)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise ValueError
        if self.kind == "int":
            if number != int(number):
                raise ValueError
            return int(number)
        return number

    def format(self, value: Any) -> str:
        if self.kind == "multi":
            return ", ".join(value)
        if self.kind == "bool":
            return "true" if value else "false"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def to_url(self, value: Any) -> list[str]:
        if self.kind == "multi":
            return list(value)
        return [self.format(value)]


def url_strings(p: Param, value) -> list[str]:
    """`value` as it is written in the URL: exactly (a float keeps all its digits, not the display format)."""
    return [str(int(value))] if p.kind == "int" else [repr(float(value))] if p.kind == "float" else p.to_url(value)


def repeated_notice(p: Param, times: int, value: Any) -> str:
    """The notice for a scalar key given more than once (?T=10&T=20): the last value is used."""
    return f"URL parameter '{p.key}' ({p.label}) was given {times} times; the last, {p.format(value)}, is used."


def quote_value(text: str) -> str:
    """A URL value as inline code for a notice: shortened, and never rendered as Markdown or HTML."""
    if len(text) > MAX_SHOWN_VALUE:
        text = text[:MAX_SHOWN_VALUE] + "…"
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


@dataclass(frozen=True)
class UrlState:
    values: dict
    notices: tuple[str, ...]


def read_url(params: Iterable[Param], query: Mapping[str, Sequence[str] | str],
             allowed_extra: Iterable[str] = ()) -> UrlState:
    """Validate a page's query parameters: each value parsed, each bad or unknown key noticed."""
    params = list(params)
    known = {p.key for p in params} | STREAMLIT_KEYS | set(allowed_extra)
    values, notices = {}, []
    for p in params:
        raw = query.get(p.key)
        if raw is None:
            values[p.key] = p.default
            continue
        raw = [raw] if isinstance(raw, str) else list(raw)
        value, notice = p.parse(raw)
        values[p.key] = value
        if notice:
            notices.append(notice)
        elif p.kind != "multi" and len(raw) > 1:
            # Streamlit would read a repeated key differently; the page uses the last one: say so.
            notices.append(repeated_notice(p, len(raw), value))
    for key in query:
        if key not in known:
            notices.append(f"Unknown URL parameter {quote_value(key)} was ignored.")
    return UrlState(values, tuple(notices))


def to_query_string(params: Iterable[Param], values: Mapping[str, Any]) -> str:
    """The query string of a view, listing only values that differ from their defaults."""
    pairs = []
    for p in params:
        value = values.get(p.key, p.default)
        if value != p.default:
            pairs.extend((p.key, v) for v in p.to_url(value))
    return urlencode(pairs)


# ---------------------------------------------------------------------------------------------
# App-wide settings: every page has them.
# ---------------------------------------------------------------------------------------------

LEVELS = ("Easy", "Moderate", "Hard")
SEED = Param("seed", "Seed", "int", 0, 0, 9999, 1, help="Every random draw on the page follows this seed.")
LEVEL = Param("level", "Explanation level", "choice", "Moderate", choices=LEVELS)


# ---------------------------------------------------------------------------------------------
# Typed page views. Fields carry the library's names; URL_KEYS is the one place they meet the URL.
# ---------------------------------------------------------------------------------------------

# field name -> URL (and widget) key, where they differ. Links already shared keep working.
URL_KEYS = {
    "schedules": "schedule",
    "zero_terminal_snr": "ztsnr",
    "s": "cosine_s",
    "scaled_linear_beta_start": "sl_beta_start",
    "scaled_linear_beta_end": "sl_beta_end",
    "n_power_iterations": "n_iter",
    "n_steps": "train_steps",
}
MODE_KEY_PREFIX = "m_"  # SpectralView.modes[layer] is the URL's m_<layer> (m_D.hidden1)


def url_key(field_name: str) -> str:
    return URL_KEYS.get(field_name, field_name)


N_KNOTS = 5  # the custom schedule's knots (schedules.KNOT_POSITIONS)


def knot_key(i: int) -> str:
    """ScheduleView.knots[i] is the URL's knot<i+1>."""
    return f"knot{i + 1}"


def mode_key(layer: str) -> str:
    return f"{MODE_KEY_PREFIX}{layer}"


@dataclass(frozen=True)
class ScheduleView:
    """The noise-schedule page: make_schedule's parameters per family, the contrast, t, the sampler."""

    schedules: tuple[str, ...]
    T: int
    beta_start: float  # linear and sigmoid
    beta_end: float
    scaled_linear_beta_start: float
    scaled_linear_beta_end: float
    s: float  # cosine offset
    beta_min: float  # VP SDE
    beta_max: float
    sigma_min: float  # Karras (EDM)
    sigma_max: float
    rho: float
    knots: tuple[float, ...]  # custom: log-SNR at schedules.KNOT_POSITIONS (URL: knot1 .. knot5)
    zero_terminal_snr: bool
    contrast: str
    shift: float  # flow-matching time shift
    t: int
    dataset: str
    sampler: str
    steps: int
    eta: float
    step: int
    seed: int
    level: str
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackwardView:
    """The Eq. 1 page: backward_init.rollout's and shifted_sigmas' parameters, and the training window."""

    reading: str
    compare: bool
    n_frames: int
    steps: int
    shift: float
    init_schedule: str
    sigma_init: float
    form: str
    train_step: int
    window_start: int
    seed: int
    level: str
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpectralView:
    """The spectral page: the model, each layer's mode, apply_layer_modes' settings, the live run's."""

    model: str
    modes: Mapping[str, str]  # every layer of every model -> "off" | "sn" | "bsn" | "optional"
    n_power_iterations: int
    threshold: float
    trace_layer: str
    n_steps: int
    lr: str  # as the URL writes it ("0.0002"); float(view.lr) for the optimizer
    seed: int
    level: str
    notices: tuple[str, ...] = ()

    def __hash__(self):  # modes is a dict: hash its items, so a view can key a cache
        return hash((self.model, tuple(sorted(self.modes.items())), self.n_power_iterations, self.threshold,
                     self.trace_layer, self.n_steps, self.lr, self.seed, self.level, self.notices))


def build_view(cls, values: Mapping[str, Any], notices: Iterable[str] = ()):
    """The view `cls` from URL-keyed values (read_url's, or the controls'), through URL_KEYS."""
    notices = tuple(notices)
    kwargs = {}
    for f in fields(cls):
        if f.name == "notices":
            continue
        if f.name == "modes":
            kwargs["modes"] = {k[len(MODE_KEY_PREFIX):]: v for k, v in values.items() if k.startswith(MODE_KEY_PREFIX)}
            continue
        if f.name == "knots":
            kwargs["knots"] = tuple(values[knot_key(i)] for i in range(N_KNOTS))
            continue
        kwargs[f.name] = values[url_key(f.name)]
    if cls is ScheduleView:
        kwargs["schedules"] = tuple(kwargs["schedules"])
        if not kwargs["schedules"]:  # every schedule deselected: the page shows the default
            kwargs["schedules"] = ("cosine",)
            notices = (*notices, "Pick at least one schedule; showing the default (cosine).")
    return cls(**kwargs, notices=notices)


def as_view(cls, v):
    """`v` itself when it is already a `cls`; a URL-keyed mapping (a script's or test's) built into one."""
    return v if isinstance(v, cls) else build_view(cls, v)
