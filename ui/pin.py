"""Pin and compare: "Pin this view as A", then every figure draws A faded under the current view (B),
and a small table gives the key numbers of both and their difference.

Pinning keeps the figures and key numbers the page has just drawn, since at that moment they *are* A's.
The link carries A's settings (`pin=`, the query string of A's controls), so a student who opens it
gets both: the page first draws A once, out of sight of the overlays, keeps it, then draws B over it.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import streamlit as st

PIN_KEY = "pin"
MAX_PIN_CHARS = 2000  # a pin longer than any page's full query string is a hand-edited one
NO_CHANGE = "defaults"  # the pin of a view whose every control is at its default


def _state(page: str, name: str):
    return st.session_state.get(f"_pin_{name}_{page}")


def _set(page: str, name: str, value) -> None:
    st.session_state[f"_pin_{name}_{page}"] = value


def pinned_figure(page: str, key: str):
    """A's figure for the chart named `key`, or None (nothing pinned, or A is being drawn now).
    A chart that A never drew (a section opened after pinning) is noted: finish() then draws A for it."""
    if _state(page, "phase") == "draw_a":
        return None
    figures = _state(page, "figures")
    if figures is not None and key not in figures and key not in (_state(page, "tried") or set()):
        st.session_state.setdefault(f"_pin_missing_{page}", set()).add(key)
    return (figures or {}).get(key)


def record(page: str, key: str, fig) -> None:
    """Every figure the page draws on this run, by chart name: what a pin keeps."""
    st.session_state.setdefault(f"_pin_latest_{page}", {})[key] = fig


def key_numbers(page: str, rows) -> None:
    """Record the page's key numbers, (label, value, format spec), for the A/B table."""
    table = st.session_state.setdefault(f"_pin_numbers_now_{page}", {})
    for label, value, spec in rows:
        table[label] = (value, spec)


def start(page: str, params) -> list[str]:
    """At the top of the page, before its controls: read `pin=`, and apply the controls a pinned link asks
    for. Returns notices for a malformed pin.

    A link's A is drawn in three runs: the first draws B and asks for A; the second draws A (its figures and
    numbers are kept); the third puts B's controls back and draws B over A. Controls are set between runs,
    before any is drawn (apply_pending: app.py calls it before the shared seed slider, the page here).
    """
    from explainers.state import read_url

    st.session_state[f"_pin_numbers_now_{page}"] = {}
    st.session_state[f"_pin_latest_{page}"] = {}
    st.session_state[f"_pin_missing_{page}"] = set()
    apply_pending(page)
    raw = st.query_params.get(PIN_KEY)
    if raw is None:
        _set(page, "figures", None)
        _set(page, "pin", None)
        return []
    if len(raw) > MAX_PIN_CHARS:
        return [f"URL parameter 'pin' is longer than {MAX_PIN_CHARS} characters, so no view is pinned."]
    state = read_url(list(params), parse_qs(raw, keep_blank_values=True), allowed_extra=(NO_CHANGE,))
    _set(page, "a_values", state.values)
    if _state(page, "phase") is None and raw != _state(page, "pin"):
        _set(page, "phase", "wanted")
    return [f"Pinned view A (URL parameter 'pin'): {n}" for n in state.notices]


def apply_pending(page: str) -> None:
    """Set the controls a pin asked for on the last run (A's, or B's again), once, before any is drawn."""
    pending = st.session_state.get("_pin_pending")
    if not pending or pending["page"] != page:
        return
    del st.session_state["_pin_pending"]
    for key, value in pending["values"].items():
        st.session_state[key] = list(value) if isinstance(value, tuple) else value
    _set(page, "phase", pending["phase"])


def finish(page: str, params) -> None:
    """At the end of the page: keep A after the run that drew it, or start drawing A for a new pin, or for
    charts A has not drawn yet (a section of the page opened after pinning: A's figures are added to it)."""
    phase = _state(page, "phase")
    missing = st.session_state.get(f"_pin_missing_{page}", set())
    if phase is None and missing and _state(page, "a_values") is not None:
        _set(page, "tried", (_state(page, "tried") or set()) | missing)  # each chart once: A may not draw it
        _set(page, "merge", True)
        phase = "wanted"
    if phase == "draw_a":
        _keep(page, st.query_params.get(PIN_KEY), merge=bool(_state(page, "merge")))
        _set(page, "merge", False)
        st.session_state["_pin_pending"] = {"page": page, "phase": None, "values": _state(page, "restore")}
        st.rerun()
    elif phase == "wanted":
        _set(page, "restore", {p.key: st.session_state[p.key] for p in params if p.key in st.session_state})
        st.session_state["_pin_pending"] = {"page": page, "phase": "draw_a", "values": _state(page, "a_values")}
        st.rerun()


def _keep(page: str, query: str | None, merge: bool = False) -> None:
    """A's figures and numbers are what this run drew; with `merge`, added to the ones A already had."""
    old_figures, old_numbers = (_state(page, "figures") or {}, _state(page, "numbers") or {}) if merge else ({}, {})
    _set(page, "figures", {**old_figures, **st.session_state.get(f"_pin_latest_{page}", {})})
    _set(page, "numbers", {**old_numbers, **st.session_state.get(f"_pin_numbers_now_{page}", {})})
    _set(page, "pin", query)
    if not merge:
        _set(page, "tried", set())


def bar(page: str, params) -> None:
    """The Pin / Unpin button, and the A/B table of key numbers once a view is pinned."""
    from explainers.state import to_query_string

    pinned = _state(page, "figures") is not None and _state(page, "phase") != "draw_a"

    def pin() -> None:
        values = {p.key: st.session_state.get(p.key, p.default) for p in params}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        query = to_query_string(params, values) or f"{NO_CHANGE}=1"  # A = every control at its default
        _keep(page, query)
        st.query_params[PIN_KEY] = query

    def unpin() -> None:
        _set(page, "figures", None)
        _set(page, "pin", None)
        if PIN_KEY in st.query_params:
            del st.query_params[PIN_KEY]

    if pinned:
        st.button("Unpin A", icon=":material/push_pin:", on_click=unpin, key=f"_unpin_{page}",
                  help="Back to one view: the faded traces and the A/B table go.")
    else:
        st.button("Pin this view as A", icon=":material/push_pin:", on_click=pin, key=f"_pin_{page}",
                  help="Keep this view: every figure then draws it faded under the view you move to (B), "
                       "and a table compares their key numbers. The share link carries both.")


def table(page: str) -> None:
    """Key numbers of A and B side by side, with B − A."""
    a = _state(page, "numbers")
    if a is None or _state(page, "figures") is None or _state(page, "phase") == "draw_a":
        return
    b = st.session_state.get(f"_pin_numbers_now_{page}", {})
    lines = ["| key number | A (pinned) | B (this view) | B − A |", "|---|---:|---:|---:|"]
    for label in dict.fromkeys([*a, *b]):
        va, spec = a.get(label, (None, "g"))
        vb, spec = b.get(label, (None, spec))
        diff = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        lines.append(f"| {label} | {_fmt(va, spec)} | {_fmt(vb, spec)} | {_fmt(diff, spec, signed=True)} |")
    st.markdown("**A (pinned) against B (this view)**: faded traces in every figure are A's.")
    st.markdown("\n".join(lines))  # a Markdown table: cheaper per rerun than a dataframe widget


def _fmt(value, spec: str, signed: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return format(value, ("+" if signed and not spec.startswith("+") else "") + spec)
