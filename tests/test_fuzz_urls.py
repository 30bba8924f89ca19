"""Fuzzing every page's URL: random and malformed query strings never crash a page, fall back to
valid values with a notice naming the key, report unknown keys, and never render injected markup.

Two levels:
  (a) pure and fast: `read_url(PARAMS, query)` and the classroom flags (`ui.url_notices`,
      `ui.classroom_flags` with a stand-in for `streamlit`), 1,200 generated query strings per page,
      checked against an oracle written from the documented spec (`Param.range_text`);
  (b) through the real page: AppTest runs of a sample of the same queries, and one real-server
      browser check that `<script>` / `<img onerror>` payloads do not execute or reach the DOM.

The generator is seeded (`random.Random(seed)`), so a failure names a case that reproduces.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

import ui
from explainers import backward_view, schedule_view, spectral_view
from explainers.lessons import LESSONS
from explainers.state import MAX_SHOWN_VALUE, STREAMLIT_KEYS, Param, read_url

PAGES = {
    "noise_schedule": schedule_view.PARAMS,
    "backward_noise_init": backward_view.PARAMS,
    "spectral_norm": spectral_view.PARAMS,
}
N_PURE = 1200  # generated query strings per page for the pure checks
N_PAGE = {"noise_schedule": 120, "backward_noise_init": 60, "spectral_norm": 120}  # AppTest runs: ~1.5-2 min

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
INJECTIONS = (
    SCRIPT, IMG, '"><svg onload=alert(1)>', "<iframe src=javascript:alert(1)>", "</style><script>alert(1)</script>",
    "<b onmouseover=alert(1)>x</b>", "javascript:alert(1)", "<style>*{display:none}</style>", "{{7*7}}",
    "'; DROP TABLE x; --", "%3Cscript%3Ealert(1)%3C/script%3E",
)
NASTY = (
    "", " ", "  \t", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+inf", "1e309", "-1e309", "1e-400", "1e9",
    "-1", "-0", "0", "+1", "0x10", "0b1", "1_000", "1,5", "1.5.5", "1e", "e5", ".", "-", "12abc", "١٠٠", "１２", "²",
    "Ⅻ", "true", "TRUE", "false", "yes", "no", "on", "null", "None", "undefined", "[]", "{}", "[1,2]", '{"a":1}',
    "\x00", "a\x00b", "\u202e\u200b", "😀" * 5, "日本語", "e\u0301", "\ud7ff", "9" * 5000, "1" * 400,
    "0." + "0" * 500 + "1",
    "x" * 10_000, "-" * 50, "%", "%zz", "%00", "&", "=", "?", "#frag", "a b", "+", "\\", "'", '"', "`", "$x^2$",
    ":red[alert]", "**bold**", "# heading", *INJECTIONS,
)
UNKNOWN_KEYS = (
    "zz", "Tee", "STEPS", "Seed", "t0", "lessons", "presentation", "hidden", "embed_opts", "__proto__", "constructor",
    "x" * 10_000, "k" * 41, "ключ", "😀", "a b", "a[]", "a.b", "", " ", *INJECTIONS,
)
CLASSROOM_VALUES = ("1", "2", "3", "5", "6", "7", "0", "-1", "01", "1.0", "", "²", "١", "1" * 5000, "99", "true",
                    "false", "1", "0", "TRUE", "yes", "sidebar", "sidebar,T", " sidebar , steps ", *INJECTIONS)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One generated URL: its query string, as parsed, and what the generator meant by each value."""

    seed: int
    query_string: str
    query: dict  # key -> list of values, exactly as Streamlit parses the query string
    intended: dict = field(default_factory=dict)  # key -> "valid" | "invalid" | "odd"

    def __repr__(self) -> str:  # short enough for an assertion message
        return f"Case(seed={self.seed}, query={self.query_string[:300]!r})"


def _fmt_float(x: float, rng: random.Random) -> str:
    return rng.choice([repr(float(x)), f"{x:.6g}" if float(f"{x:.6g}") == x else repr(float(x)), f" {x!r} "])


def valid_values(p: Param, rng: random.Random) -> list[str]:
    """A valid URL value for p (a repeated scalar key counts by its last value, as Streamlit's binding does)."""
    if p.kind != "multi" and rng.random() < 0.15:
        return [rng.choice(NASTY[:40])] + valid_values(p, rng)
    if p.kind == "multi":
        k = rng.randint(1, p.max_count)
        values = rng.sample(list(p.choices), k)
        if rng.random() < 0.2:
            values.insert(rng.randrange(len(values) + 1), "")  # blank repeats are skipped
        return values
    if p.kind == "choice":
        return [str(rng.choice(p.choices))]  # exactly: Streamlit's binding does not strip spaces
    if p.kind == "bool":
        return [rng.choice(["true", "false", "True", "FALSE", " true "])]
    if p.kind == "int":
        n = rng.choice([int(p.low), int(p.high), rng.randint(int(p.low), int(p.high))])
        return [rng.choice([str(n), str(n), f"{n}.0", f"+{n}", f" {n}", f"{n}e0"])]
    x = rng.choice([float(p.low), float(p.high), rng.uniform(p.low, p.high)])
    return [_fmt_float(x, rng)]


def invalid_values(p: Param, rng: random.Random) -> list[str]:
    roll = rng.random()
    if p.kind == "multi":
        choices = list(p.choices)
        options = [
            [""],
            [rng.choice(choices)] * 2,  # a duplicate
            choices[: p.max_count + 1] if len(choices) > p.max_count else [choices[0], choices[0]],
            [rng.choice(choices), rng.choice(INJECTIONS)],
            [rng.choice(choices).upper() + "x"],
            [rng.choice(NASTY[20:]) + "?"],
        ]
        return rng.choice(options)
    if roll < 0.15:  # a repeated key whose last value is bad
        return valid_values(p, rng) + invalid_values(p, rng)[-1:]
    if roll < 0.3:
        return [rng.choice(INJECTIONS)]
    if p.kind == "choice":
        c = str(rng.choice(p.choices))
        return [rng.choice([c + "x", c.swapcase() if c.swapcase() != c else c + "_", "", "x" * 10_000,
                            ",".join(map(str, p.choices)), "nan", c + "\x00", f" {c} ", f"{c} "])]
    if p.kind == "bool":
        return [rng.choice(["1", "0", "yes", "no", "on", "", "truee", "t", "x" * 10_000, "nan", "null"])]
    span = float(p.high - p.low) or 1.0
    out_low = p.low - rng.choice([1e-9 * max(1.0, abs(p.low)) + 1e-12, 1.0, span, 1e30])
    out_high = p.high + rng.choice([1e-9 * max(1.0, abs(p.high)) + 1e-12, 1.0, span, 1e30])
    options = [repr(out_low), repr(out_high), "nan", "NaN", "inf", "-inf", "1e309", "-1e309", "", "abc",
               "9" * 5000, "-" + "9" * 400, "1,0", "0x10", str(p.low) + "abc"]
    if p.kind == "int":
        inside = rng.randint(int(p.low), int(p.high) - 1) if p.high > p.low else int(p.low)
        options += [f"{inside}.5", f"{inside + 0.25}"]
    return [rng.choice(options)]


def odd_values(rng: random.Random) -> list[str]:
    n = rng.choice([1, 1, 1, 2])
    return [rng.choice(NASTY) for _ in range(n)]


def make_case(page: str, seed: int) -> Case:
    """A random URL for `page`: some known keys valid, invalid or odd, maybe unknown keys, maybe classroom flags."""
    rng = random.Random(f"{page}:{seed}")
    params = PAGES[page]
    pairs: list[tuple[str, str]] = []
    intended = {}
    for p in rng.sample(list(params), rng.randint(0, min(6, len(params)))):
        kind = rng.choice(["valid", "valid", "invalid", "invalid", "odd"])
        values = {"valid": valid_values, "invalid": invalid_values}.get(kind, lambda p, r: odd_values(r))(p, rng)
        intended[p.key] = kind
        pairs += [(p.key, v) for v in values]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        pairs.append((rng.choice(UNKNOWN_KEYS), rng.choice(NASTY + ("1", "x"))))
    for key in ("lesson", "present", "hide"):
        if rng.random() < 0.25:
            pairs += [(key, rng.choice(CLASSROOM_VALUES)) for _ in range(rng.choice([1, 1, 1, 2]))]
    if rng.random() < 0.1:
        pairs.append((rng.choice(sorted(STREAMLIT_KEYS)), rng.choice(["true", "", "show_toolbar"])))
    # Interleave the keys at random, but keep each key's own values in order (the last one counts).
    keys = [k for k, _ in pairs]
    rng.shuffle(keys)
    values_of: dict = {}
    for k, v in pairs:
        values_of.setdefault(k, []).append(v)
    pairs = [(k, values_of[k].pop(0)) for k in keys]
    query_string = urlencode(pairs, quote_via=quote)
    if rng.random() < 0.1:  # hand-mangled: stray separators, bare keys, broken escapes
        query_string = rng.choice(["&&", "&=&", "&T&", "&%zz=%E0%A4%A&", "&;&", "&%00=1&"]).join(
            [query_string, rng.choice(["", "lesson=1", "a=b=c"])])
    query = parse_qs(query_string, keep_blank_values=True)
    original = {}
    for k, v in pairs:
        original.setdefault(k, []).append(v)
    intended = {k: kind for k, kind in intended.items() if query.get(k) == original[k]}  # not mangled
    return Case(seed, query_string, query, intended)


# ---------------------------------------------------------------------------------------------
# The oracle: the documented spec, written independently of Param._parse
# ---------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d[\d_]*)?(\.[\d_]*)?([eE][+-]?\d+)?$")


def accepted(p: Param, raw: list[str]):
    """(True, value) if `raw` is a valid URL value for `p` by its documented range, else (False, None)."""
    if p.kind == "multi":
        values = [v for v in raw if v != ""]
        ok = 1 <= len(values) <= p.max_count and len(set(values)) == len(values) and set(values) <= set(p.choices)
        return (True, tuple(values)) if ok else (False, None)
    if not raw:
        return False, None
    text = raw[-1]  # a repeated key: the last value counts
    if p.kind == "choice":  # exactly one of the choices (no stripping: the widget would not strip either)
        return (text in p.choices, text if text in p.choices else None)
    text = text.strip()
    if p.kind == "bool":
        return (text.lower() in ("true", "false"), text.lower() == "true")
    try:  # Python's float grammar: also accepts '1_000', '١٠٠' and full-width digits, like the app
        x = float(text)
    except ValueError:
        return False, None
    if not math.isfinite(x) or not p.low <= x <= p.high:
        return False, None
    if p.kind == "int":
        return (x == int(x), int(x) if x == int(x) else None)
    return True, x


def quoted_forms(text: str) -> set[str]:
    """How a notice may quote a URL key or value: shortened to 40 characters, as 'text' or as `text` (code)."""
    short = text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"
    return {f"'{short}'", "`" + short.replace("`", "'").replace("\n", " ") + "`"}


def reports_unknown(notices, key: str) -> bool:
    return any(f"Unknown URL parameter {q} was ignored." in notices for q in quoted_forms(key))


def check_value_type(p: Param, value) -> None:
    if p.kind == "multi":
        assert isinstance(value, tuple) and 1 <= len(value) <= p.max_count and set(value) <= set(p.choices)
        assert len(set(value)) == len(value)
    elif p.kind == "choice":
        assert value in p.choices
    elif p.kind == "bool":
        assert isinstance(value, bool)
    elif p.kind == "int":
        assert type(value) is int and p.low <= value <= p.high
    else:
        assert isinstance(value, float) and math.isfinite(value) and p.low <= value <= p.high


def expected_bad_keys(page: str, case: Case) -> set[str]:
    return {p.key for p in PAGES[page] if p.key in case.query and not accepted(p, case.query[p.key])[0]}


def unknown_keys(page: str, case: Case) -> list[str]:
    known = {p.key for p in PAGES[page]} | STREAMLIT_KEYS | set(ui.CLASSROOM_KEYS)
    return [k for k in case.query if k not in known]


def check_read_url(page: str, case: Case) -> None:
    params = PAGES[page]
    state = read_url(params, case.query, allowed_extra=ui.CLASSROOM_KEYS)
    assert set(state.values) == {p.key for p in params}, case
    bad = expected_bad_keys(page, case)
    for p in params:
        value = state.values[p.key]
        check_value_type(p, value)
        naming = [n for n in state.notices if n.startswith(f"URL parameter '{p.key}' ")]
        if p.key not in case.query:
            assert value == p.default and not naming, (case, p.key)
            continue
        ok, expected = accepted(p, case.query[p.key])
        intended = case.intended.get(p.key)
        if intended in ("valid", "invalid"):  # the generator and the oracle agree on what it built
            assert ok == (intended == "valid"), (case, p.key, "generator/oracle disagree")
        repeated = p.kind != "multi" and len(case.query[p.key]) > 1
        if ok:
            if repeated:  # a scalar key given twice: said, with the last value, which is the one used
                assert naming == [f"URL parameter '{p.key}' ({p.label}) was given {len(case.query[p.key])} times; "
                                  f"the last, {p.format(value)}, is used."], (case, p.key, naming)
            else:
                assert not naming, (case, p.key, naming)
            assert value == expected, (case, p.key, value, expected)
        else:
            assert p.key in bad and value == p.default, (case, p.key, value)
            assert len(naming) == 1, (case, p.key, state.notices)
            assert p.range_text() in naming[0] and f"the default {p.format(p.default)} is used" in naming[0]
    unknown = unknown_keys(page, case)
    for key in unknown:
        assert reports_unknown(state.notices, key), (case, key)
    repeated_ok = [p for p in params if p.key in case.query and p.kind != "multi" and len(case.query[p.key]) > 1
                   and p.key not in bad]
    assert len(state.notices) == len(bad) + len(unknown) + len(repeated_ok), (case, state.notices)
    for notice in state.notices:  # a 10k-character value or key is never echoed whole
        assert len(notice) < 400, (case, notice[:100])


# ---------------------------------------------------------------------------------------------
# (a) pure: read_url and the classroom flags
# ---------------------------------------------------------------------------------------------

CASES = {page: [make_case(page, seed) for seed in range(N_PURE)] for page in PAGES}


def test_generator_covers_every_kind_of_bad_input():
    """The generated set really holds what the fuzzing promises, on every page."""
    for page, cases in CASES.items():
        values = [v for c in cases for vs in c.query.values() for v in vs]
        keys = [k for c in cases for k in c.query]
        assert len(cases) >= 1000
        for needle in ("nan", "inf", "1e309", "-1", "", SCRIPT, IMG, "😀" * 5, "x" * 10_000, "9" * 5000):
            assert needle in values, (page, needle[:20])
        assert any(len(vs) > 1 for c in cases for vs in c.query.values())  # repeated keys
        assert sum(bool(unknown_keys(page, c)) for c in cases) > 100
        assert "x" * 10_000 in keys and SCRIPT in keys
        for p in PAGES[page]:
            bad = sum(p.key in expected_bad_keys(page, c) for c in cases)
            good = sum(p.key in c.query and p.key not in expected_bad_keys(page, c) for c in cases)
            assert bad >= 20 and good >= 20, (page, p.key, bad, good)


@pytest.mark.parametrize("page", PAGES)
def test_read_url_never_raises_and_flags_exactly_the_bad_keys(page):
    for case in CASES[page]:
        check_read_url(page, case)


class FakeQueryParams:
    """What ui.classroom and ui.url_notices use of st.query_params."""

    def __init__(self, query: dict):
        self._q = dict(query)  # url_notices may rewrite values: never the case's own dict

    def __setitem__(self, key, value):
        self._q[key] = value if isinstance(value, list) else [value]

    def __delitem__(self, key):
        del self._q[key]

    def get_all(self, key):
        return list(self._q.get(key, []))

    def __iter__(self):
        return iter(self._q)

    def __contains__(self, key):
        return key in self._q


@pytest.fixture
def fake_st(monkeypatch):
    fake = SimpleNamespace(query_params=None, session_state={}, html_bodies=[])
    fake.html = fake.html_bodies.append
    for module in (ui.controls, ui.classroom):  # the two ui modules these tests drive
        monkeypatch.setattr(module, "st", fake)
    return fake


def lesson_ok(raw: str, n_steps: int) -> bool:
    """The documented lesson value: a step number in [1, n] written with (at most 4) ASCII digits."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= n_steps


@pytest.mark.parametrize("page", PAGES)
def test_classroom_flags_never_raise_and_name_bad_values(page, fake_st):
    params = PAGES[page]
    page_keys = {p.key for p in params}
    steps = LESSONS[page]
    for case in CASES[page]:
        fake_st.query_params = FakeQueryParams(case.query)
        fake_st.session_state = {}
        fake_st.html_bodies.clear()
        room = ui.classroom_flags(page, params)  # in ui.page_start's order: the lesson step sees the URL as given
        url = ui.url_notices(page, params)
        # url_notices is read_url with the classroom keys allowed, kept for the session
        assert url == list(dict.fromkeys(read_url(params, case.query, allowed_extra=ui.CLASSROOM_KEYS).notices))
        notices = url + room
        lesson = case.query.get("lesson", [None])[-1]
        present = case.query.get("present", [None])[-1]
        hide = case.query.get("hide", [None])[-1]
        step_no = fake_st.session_state[f"_lesson_step_{page}"]
        if lesson is None:
            assert step_no == 0
        elif lesson_ok(lesson, len(steps)):
            assert step_no == int(lesson), case
            for key, value in steps[step_no - 1].params.items():  # the step sets what the URL leaves open
                if key in page_keys and key not in case.query:
                    assert fake_st.session_state[key] == (list(value) if isinstance(value, tuple) else value)
                if key in case.query:
                    assert key not in fake_st.session_state, (case, key)
        else:
            assert step_no == 0
            assert any(n.startswith("URL parameter 'lesson' must be a step number") for n in notices), case
        if present is not None and present.lower() not in ("true", "false", "1", "0"):
            assert any(n.startswith("URL parameter 'present'") for n in notices), case
        assert fake_st.session_state["_present"] == (present is not None and present.lower() in ("true", "1"))
        hidden = [h.strip() for h in (hide or "").split(",") if h.strip()]
        bad_hidden = [h for h in hidden if h != "sidebar" and h not in page_keys]
        assert bool(bad_hidden) == any(n.startswith("URL parameter 'hide' names unknown controls") for n in notices)
        # The presenter CSS is the one raw-HTML path of the app: only CSS of known controls reaches it.
        (body,) = fake_st.html_bodies
        assert re.fullmatch(r"<style>[^<]*</style>", body), (case, body[:200])  # CSS may hold ">"; a tag needs "<"
        classes = set(re.findall(r"\.st-key-([A-Za-z0-9_-]+) \{ display: none; \}", body))
        assert classes == {re.sub(r"[^a-zA-Z0-9_-]", "-", h) for h in hidden if h in page_keys}, case
        assert ('[data-testid="stSidebar"]' in body) == ("sidebar" in hidden)
        for n in notices:
            assert len(n) < 600, (case, n[:100])


# ---------------------------------------------------------------------------------------------
# (b) through the real page (AppTest)
# ---------------------------------------------------------------------------------------------

def run_page(page: str, query: dict) -> AppTest:
    """The page at `query`; the schedule page with every section open (so every control is drawn) unless the
    query names one."""
    if page == "noise_schedule":
        at = AppTest.from_file("../app.py", default_timeout=180)
        at.query_params.update({"section": ["all"], **query})
        at.switch_page(f"pages/{page}.py")
    else:  # as the other AppTest files do: the page on its own
        at = AppTest.from_file(f"../pages/{page}.py", default_timeout=180)
        at.query_params.update(query)
    at.run()
    return at


# Where read_url and Streamlit's own URL binding would read a value differently (a fractional int, a repeated
# key, a padded boolean, a repeated multi value), ui.url_notices rewrites the URL value before any control reads
# it, so the control shows exactly what the notice says; the tests below check that for every case the fuzz meets.
# Controls whose range or options depend on other controls (their URL values are checked against the static
# Param range only; see test_value_outside_a_dependent_range_is_noticed).
DEPENDENT = {"t", "steps", "step", "window_start", "train_step", "trace_layer"}


WIDGET_KINDS = ("slider", "selectbox", "toggle", "multiselect", "segmented_control")


def widget_values(at: AppTest, with_kind: bool = False) -> dict:
    out = {}
    for kind in WIDGET_KINDS:
        for w in getattr(at, kind):
            if w.key:
                out[w.key] = (kind, w.value) if with_kind else w.value
    return out


def rendered_html_elements(at: AppTest) -> list[str]:
    """Bodies of every element that a browser would render as raw HTML."""
    bodies = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            if getattr(node, "type", "") == "html":
                bodies.append(proto.body)
            elif getattr(proto, "allow_html", False):
                bodies.append(proto.body)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return bodies


def page_sample(page: str) -> list[Case]:
    """Every case with an injected tag first, then the rest, so the sample always carries injections."""
    cases = CASES[page]
    with_tags = [c for c in cases if any("<" in v or "<" in k for k, vs in c.query.items() for v in vs)]
    rest = [c for c in cases if c not in with_tags]
    n = N_PAGE[page]
    return with_tags[: n // 2] + rest[: n - n // 2]


@pytest.mark.parametrize("page", PAGES)
def test_pages_survive_fuzzed_urls(page):
    started = time.perf_counter()
    sample = page_sample(page)
    for case in sample:
        query, fixed = case.query, case
        at = run_page(page, query)
        assert not at.exception, (fixed, [e.value[:300] for e in at.exception])
        at_warnings = [w.value for w in at.warning]
        warnings = "\n".join(at_warnings)
        for key in expected_bad_keys(page, fixed):
            assert f"URL parameter '{key}' " in warnings, (fixed, key, warnings[:500])
        for key in unknown_keys(page, fixed):
            assert reports_unknown(at_warnings, key), (fixed, key)
        # Every control shows what read_url settled on: the URL's value when it is valid, else the default.
        state = read_url(PAGES[page], query, ui.CLASSROOM_KEYS)
        shown = widget_values(at, with_kind=True)
        for p in PAGES[page]:
            if p.key in query and p.key in shown and p.key not in DEPENDENT:
                kind, value = shown[p.key]
                value = tuple(value) if p.kind == "multi" else value
                if value is None or value == ():  # nothing selected: the page falls back to the default
                    value = p.default
                check_value_type(p, value)
                assert value == state.values[p.key], (fixed, p.key, value, state.values[p.key])
        lesson = query.get("lesson", [None])[-1]
        if lesson is not None and not lesson_ok(lesson, len(LESSONS[page])):
            assert "URL parameter 'lesson' must be a step number" in warnings, fixed
        present = query.get("present", [None])[-1]
        if present is not None and present.lower() not in ("true", "false", "1", "0"):
            assert "URL parameter 'present' must be true or false" in warnings, fixed
        # Injected markup is quoted back as text inside a notice, never through a raw-HTML element.
        for body in rendered_html_elements(at):
            assert re.fullmatch(r"<style>[^<]*</style>", body), (fixed, body[:300])  # CSS may hold ">"; a tag needs "<"
        for key in expected_bad_keys(page, fixed):
            raw = ",".join(query[key])
            if "<" in raw[:MAX_SHOWN_VALUE]:
                assert any(f"got {q}" in warnings for q in quoted_forms(raw)), (fixed, key)
    elapsed = time.perf_counter() - started
    print(f"{page}: {len(sample)} fuzzed AppTest runs in {elapsed:.1f} s")


# Regression tests: each of these was a failing input found by this fuzzing; all but the last group were fixed
# while this file was written (reported with exact inputs).

def test_schedule_page_with_T_below_the_default_steps():
    """?T=40 raised 'steps must be an integer in [1, 40], got 50' (the steps default lay above its range)."""
    at = run_page("noise_schedule", {"T": ["40"]})
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="steps").value <= 40
    at.slider(key="T").set_value(20).run()  # and narrowing T further by hand
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("query", [{"lesson": ["1"], "T": ["100"]}, {"lesson": ["6"], "T": ["600"], "steps": ["5"]}])
def test_lesson_link_with_a_narrower_range(query):
    """?lesson=1&T=100 raised 'The `value` 499 is greater than the `max_value` 99' (the lesson's t = 499)."""
    at = run_page("noise_schedule", query)
    assert not at.exception, [e.value for e in at.exception]


def test_backward_page_with_sigma_init_zero():
    """?sigma_init=0 was inside the Param range [0, 1] but the library wants (0, 1] and raised."""
    at = run_page("backward_noise_init", {"sigma_init": ["0"]})
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="sigma_init").value > 0 and any("'sigma_init'" in w.value for w in at.warning)


def test_bad_seed_on_the_schedule_page_is_noticed():
    """?seed=abc fell back silently: app.py drew the seed slider (dropping the bad bound value from the URL)
    before the page read its URL. On a real server that hit every page."""
    at = run_page("noise_schedule", {"seed": ["abc"]})
    assert not at.exception
    assert any("'seed'" in w.value for w in at.warning), [w.value for w in at.warning]


def test_value_outside_a_dependent_range_is_noticed():
    """t = 1500 is inside t's static range [0, 1999] but not below T = 100: it fell back silently."""
    at = run_page("noise_schedule", {"T": ["100"], "t": ["1500"]})
    assert not at.exception
    assert any("'t'" in w.value for w in at.warning)


def shows_what_the_notice_says(page: str, query: dict, key: str) -> None:
    """A notice naming `key` says the default is used: then the control shows the default; without a notice,
    the control shows the URL's value."""
    at = run_page(page, query)
    assert not at.exception
    param = next(p for p in PAGES[page] if p.key == key)
    value = widget_values(at)[key]
    value = tuple(value) if isinstance(value, list) else value
    if any(f"'{key}'" in w.value and "the default" in w.value for w in at.warning):
        assert value == param.default, (query, value)
    else:
        assert value == accepted(param, query[key])[1], (query, value)


@pytest.mark.parametrize("page,query,key", [
    ("backward_noise_init", {"form": ["flow", "vp"]}, "form"),  # a repeated key said 'default flow', showed vp
    ("noise_schedule", {"sampler": [" ddpm "]}, "sampler"),  # a padded choice: valid for read_url, not the widget
    ("noise_schedule", {"T": ["100", "abc"]}, "T"),
])
def test_the_control_shows_what_the_notice_says(page, query, key):
    shows_what_the_notice_says(page, query, key)


@pytest.mark.parametrize("page,query,key", [
    ("spectral_norm", {"n_iter": ["15.5"]}, "n_iter"),
    ("noise_schedule", {"schedule": ["linear", "linear"]}, "schedule"),
    ("noise_schedule", {"schedule": ["linear", "cosine", "sigmoid", "vp_sde"]}, "schedule"),
])
def test_the_control_shows_what_the_notice_says_when_the_binding_reads_it_differently(page, query, key):
    shows_what_the_notice_says(page, query, key)


@pytest.mark.parametrize("page,query,key", [
    ("backward_noise_init", {"n_frames": ["16", "8"]}, "n_frames"),
    ("backward_noise_init", {"level": ["Hard", "Easy"]}, "level"),
])
def test_a_repeated_key_shows_what_the_notice_says(page, query, key):
    shows_what_the_notice_says(page, query, key)


def test_a_padded_boolean_shows_what_the_notice_says():
    shows_what_the_notice_says("noise_schedule", {"ztsnr": [" true "]}, "ztsnr")


@pytest.mark.parametrize("page", PAGES)
def test_lesson_numbers_that_are_digits_but_not_ascii_are_noticed(page):
    """Regression: '?lesson=²' (str.isdigit but not int()) and a 5,000-digit lesson number raised."""
    for raw in ("²", "1" * 5000):
        at = run_page(page, {"lesson": [raw]})
        assert not at.exception, (raw[:10], [e.value for e in at.exception])
        assert any("'lesson'" in w.value for w in at.warning)


# ---------------------------------------------------------------------------------------------
# (b) a real server and browser
# ---------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_injected_tags_in_a_real_browser_neither_run_nor_reach_the_dom(server, page):
    from devtools import wait_until_settled

    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    payloads = [("sampler", SCRIPT), ("dataset", IMG), ("T", '"><svg onload=alert(3)>'),
                ("<img src=y onerror=alert(4)>", "1"), ("hide", "<img src=z onerror=alert(5)>"),
                ("lesson", "<script>alert(6)</script>")]
    page.goto(f"{server.url}/noise_schedule?{urlencode(payloads, quote_via=quote)}")
    wait_until_settled(page)  # every image loaded or failed, every chart drawn: any injected handler has fired
    assert dialogs == []
    injected = page.evaluate("""() => ({
        scripts: [...document.querySelectorAll('script')].filter(s => (s.textContent || '').includes('alert(')).length,
        imgs: [...document.querySelectorAll('img')].filter(i => ['x', 'y', 'z'].some(n => i.getAttribute('src') === n)
               || i.hasAttribute('onerror')).length,
        svgs: [...document.querySelectorAll('svg[onload]')].length,
        handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on')
               && a.value.includes('alert'))).length,
    })""")
    assert injected == {"scripts": 0, "imgs": 0, "svgs": 0, "handlers": 0}
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    text = "\n".join(warnings.all_inner_texts())
    assert warnings.first.is_visible()
    for shown in (SCRIPT, IMG, '"><svg onload=alert(3)>', "<img src=y onerror=alert(4)>",
                  "<img src=z onerror=alert(5)>", "<script>alert(6)</script>"):
        assert shown in text, shown  # each payload is on the page as literal text
    for key in ("'sampler'", "'dataset'", "'T'", "'hide'", "'lesson'", "Unknown URL parameter"):
        assert key in text, key


def markdown_payload_renders(server, page, key: str) -> tuple[list, int]:
    """Open the schedule page with a Markdown image in `key` (its value, or the key itself) and return the
    requests made to the image's host and the number of <img> elements pointing there."""
    from devtools import wait_until_settled

    image = "![i](http://127.0.0.9/pix.png)"
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if urlsplit(r.url).hostname == "127.0.0.9" else None)
    pairs = [(image, "1")] if key == "<unknown key>" else [(key, image)]
    page.goto(f"{server.url}/noise_schedule?" + urlencode(pairs, quote_via=quote))
    wait_until_settled(page)  # every image on the page loaded or failed: a rendered pixel has been requested
    assert page.locator('[data-testid="stAlertContentWarning"]').count() >= 1
    return fetched, page.evaluate("() => document.querySelectorAll('img[src*=\"127.0.0.9\"]').length")


@pytest.mark.browser
@pytest.mark.parametrize("key", ["eta", "<unknown key>"])
def test_markdown_in_a_bad_value_or_key_is_not_rendered(server, page, key):
    """Regression: notices quoted URL values into Markdown, so ?eta=![i](http://host/pix.png) rendered an
    <img> that the browser fetched from that host (a tracking pixel, or any picture, in a shared link)."""
    assert markdown_payload_renders(server, page, key) == ([], 0)


@pytest.mark.browser
@pytest.mark.parametrize("key", ["lesson", "present", "hide"])
def test_markdown_in_a_bad_classroom_flag_is_not_rendered(server, page, key):
    assert markdown_payload_renders(server, page, key) == ([], 0)
