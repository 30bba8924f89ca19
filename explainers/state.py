"""Page state as URL query parameters: typed specs, validation with readable notices, URL form.

Every control that changes what a page shows is a `Param`. The same spec gives the widget its
range, checks a hand-edited URL before the widget sees it, and writes a shareable link. A bad
value never raises: it falls back to the default and produces a notice that names the parameter
and its valid range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
        return Param(self.key, self.label, self.kind, self.default if default is None else default,
                     low, high, self.step, self.choices, self.max_count, self.help)

    def parse(self, raw: Sequence[str]) -> tuple[Any, str | None]:
        """Return (value, None) for a valid URL value, or (default, notice) for an invalid one."""
        try:
            return self._parse(list(raw)), None
        except (ValueError, TypeError):
            notice = (
                f"URL parameter '{self.key}' ({self.label}) must be {self.range_text()}; "
                f"got {quote_value(','.join(raw))}, so the default {self.format(self.default)} is used."
            )
            return self.default, notice

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
        value, notice = p.parse([raw] if isinstance(raw, str) else raw)
        values[p.key] = value
        if notice:
            notices.append(notice)
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
