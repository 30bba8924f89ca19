"""URL-bound controls and the URL's notices: every control that changes a view is part of its link.

`widget` draws a control from its `Param` (explainers/state.py), bound to the URL under its key;
`url_notices` checks a page's URL once per visit and keeps what it says; `show_notices` shows it.
The level selector, the explanation at that level and the misconceptions are here too: they are the
controls and text every page has.
"""

from __future__ import annotations

from typing import Iterable

import streamlit as st
from streamlit.errors import StreamlitAPIException

from explainers.state import Param, build_view, quote_value, read_url, url_strings
from ui.classroom import CLASSROOM_KEYS


LEVEL_HELP = "Easy: an analogy. Moderate: the intuition. Hard: the equations."


def level_selector(default: str = "Moderate") -> str:
    """Easy / Moderate / Hard, bound to the URL as ?level=."""
    return _drawn("level", st.segmented_control("Explanation level", ("Easy", "Moderate", "Hard"), default=default,
                                                key="level", bind="query-params", help=LEVEL_HELP, wrap=True) or default)


def explanation(level: str, prose) -> None:
    """The page's explanation at the chosen level; Hard shows the equations (st.latex) and their notes."""
    with st.container(border=True):
        if level == "Hard":
            for eq in getattr(prose, "LATEX", ()):
                st.latex(eq)
            st.markdown(prose.HARD_TEXT)
        else:
            st.markdown(prose.EXPLANATION[level])


def misconceptions(prose) -> None:
    st.subheader("Common misconceptions")
    for claim, truth in prose.MISCONCEPTIONS:
        with st.expander(claim):
            st.markdown(truth)


def _drawn(key: str, value):
    """Remember what a control showed on this run, for read_view."""
    st.session_state.setdefault(DRAWN_KEY, {})[key] = value
    return value


DRAWN_KEY = "_drawn_values"  # this run's control values; ui.page_start empties it


def read_view(cls, params: Iterable[Param], notices: Iterable[str] = ()):
    """The page's typed view (explainers.state) from its controls: what each drew on this run, else
    its value in the session (a control another part of the page draws), else its default."""
    drawn = st.session_state.get(DRAWN_KEY, {})
    values = {p.key: drawn[p.key] if p.key in drawn else st.session_state.get(p.key, p.default) for p in params}
    return build_view(cls, values, notices)


def widget(p: Param, where=st, check_url: bool = False, buttons: bool = False, **overrides):
    """Draw the control for `p`, bound to the URL under its key (Streamlit's own URL binding).
    A choice with labels shows words and keeps its identifier in the URL (_worded_choice); `buttons`
    draws such a choice as a row of buttons instead of a drop-down."""
    return _drawn(p.key, _draw(p, where, check_url, buttons, **overrides))


def _draw(p: Param, where, check_url: bool, buttons: bool, **overrides):
    kw = dict(key=p.key, bind="query-params", help=p.help or None)
    kw.update(overrides)
    if check_url and p.key in st.query_params:
        # A value inside the control's usual range but outside its current, narrowed one (t >= T, say):
        # Streamlit drops it, so say so here, next to the control.
        _, notice = p.parse(st.query_params.get_all(p.key))
        if notice:
            where.warning(notice, icon=":material/warning:")
    current = st.session_state.get(p.key)
    if p.kind in ("int", "float") and isinstance(current, (int, float)) and not p.low <= current <= p.high:
        # e.g. a lesson step set t = 499 but the link narrowed T to 100: fall back instead of failing.
        st.session_state[p.key] = min(max(current, p.low), p.high)
    if p.labels and p.kind in ("choice", "multi"):
        return _worded_choice(p, where, buttons, kw)
    if p.kind == "multi":
        return tuple(where.multiselect(p.label, p.choices, default=list(p.default),
                                       max_selections=p.max_count, **kw))
    if p.kind == "choice":
        return where.selectbox(p.label, p.choices, index=p.choices.index(p.default), **kw)
    if p.kind == "bool":
        return where.toggle(p.label, value=p.default, **kw)
    if p.kind in ("int", "float") and p.low == p.high:
        # A range that another control narrowed to one value: say so instead of a slider that can't move.
        where.caption(f"{p.label}: {p.format(p.low)} (the only value possible with the current settings)")
        return int(p.low) if p.kind == "int" else float(p.low)
    if p.kind == "int":
        return where.slider(p.label, int(p.low), int(p.high), int(p.default), int(p.step or 1), **kw)
    kw.setdefault("format", "%g")
    return where.slider(p.label, float(p.low), float(p.high), float(p.default), float(p.step), **kw)


def _worded_choice(p: Param, where, buttons: bool, kw: dict):
    """A choice that shows words ("variance exploding") while the URL keeps the identifier.

    Streamlit's URL binding writes a control's displayed text into the URL and drops a URL value that is
    not one of those texts, so a worded control would rewrite every shared link. This control is not
    bound: it starts from the URL's value (read as read_url reads it) and writes its value back itself,
    leaving out a value equal to the one the page would start from anyway: the default, or the open
    lesson step's value.
    """
    kw = {k: v for k, v in kw.items() if k != "bind"}
    if p.key not in st.session_state:  # first run of this control in this session: the URL decides
        value = p.parse(st.query_params.get_all(p.key))[0] if p.key in st.query_params else p.default
        st.session_state[p.key] = list(value) if p.kind == "multi" else value
    if p.kind == "multi":
        value = tuple(where.multiselect(p.label, p.choices, format_func=p.word, max_selections=p.max_count, **kw))
    elif buttons:
        value = where.segmented_control(p.label, p.choices, format_func=p.word, wrap=True, **kw) or p.default
    else:
        value = where.selectbox(p.label, p.choices, format_func=p.word, **kw)
    page = st.session_state.get("_current_page")
    step_no = st.session_state.get(f"_lesson_step_{page}", 0) if page else 0
    reference = p.default
    if step_no:
        from explainers.lessons import LESSONS

        reference = LESSONS[page][step_no - 1].params.get(p.key, p.default)
    wanted = p.to_url(value) if p.to_url(value) != p.to_url(reference) else []
    if st.query_params.get_all(p.key) != wanted:
        if wanted:
            st.query_params[p.key] = wanted if p.kind == "multi" else wanted[0]
        else:
            del st.query_params[p.key]
    return value


def url_notices(page: str, params: Iterable[Param], extra_keys: Iterable[str] = (),
                only_params: bool = False) -> list[str]:
    """Check the URL against the page's parameters once per session visit and keep the notices,
    because Streamlit drops invalid bound values from the URL after the first run.
    only_params: check just these parameters (no unknown-key report), e.g. the shared seed."""
    params = list(params)
    query = {k: st.query_params.get_all(k) for k in st.query_params
             if not only_params or k in {p.key for p in params}}
    state = read_url(params, query, allowed_extra=(*CLASSROOM_KEYS, *extra_keys))
    fresh = state.notices
    _canonical_url(params, query, state.values)
    key = f"_url_notices_{page}"
    if fresh:
        st.session_state[key] = list(dict.fromkeys([*st.session_state.get(key, []), *fresh]))
    return st.session_state.get(key, [])


def _canonical_url(params: list[Param], query: dict, values: dict) -> None:
    """Make each control show the value read_url settled on, before any widget reads the URL.

    Streamlit's own URL binding reads some values differently from read_url (it truncates n_iter=15.5
    to 15, takes the first of a repeated key or ignores it, does not strip ' true '), and the control
    must show what the notice says. So a URL value that is not in its canonical form is rewritten, in
    the browser's URL and in the snapshot of the URL the binding seeds widgets from, once per such
    value; a rejected one is removed, so the control starts at its default.
    """
    handled = st.session_state.setdefault("_url_canonical_handled", set())
    for p in params:
        raw = query.get(p.key)
        if raw is None:
            continue
        value = values[p.key]
        canonical = url_strings(p, value)
        mark = (p.key, tuple(raw))
        if raw == canonical or mark in handled:
            continue
        handled.add(mark)
        keep = value != p.default
        try:
            if keep:
                st.query_params[p.key] = canonical if p.kind == "multi" else canonical[0]
            else:
                del st.query_params[p.key]
        except StreamlitAPIException:
            continue  # already bound to a control drawn on this run (the sidebar seed): the binding decides
        _set_binding_seed(p.key, canonical if keep else None)


def _set_binding_seed(key: str, values: list[str] | None) -> None:
    """Replace (or drop) `key` in the URL snapshot Streamlit's binding seeds new widgets from.

    Streamlit (1.67) keeps that snapshot in QueryParams._initial_query_params and offers no public
    way to change it; on a first load it wins over st.session_state. If a Streamlit upgrade renames
    it, nothing breaks here, and tests/test_fuzz_urls.py's "shows what the notice says" tests fail.
    """
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        seeds = getattr(qp, "_initial_query_params", None)
        if isinstance(seeds, dict):
            if values is None:
                seeds.pop(key, None)
            else:
                seeds[key] = list(values)


def show_notices(page: str, notices: list[str]) -> None:
    if not notices:
        return
    with st.container(border=True):
        for line in notices:
            st.warning(line, icon=":material/warning:")  # plain text: Streamlit does not render HTML in markdown
        if st.button("Dismiss URL notices", key=f"_dismiss_{page}"):
            st.session_state[f"_url_notices_{page}"] = []
            st.rerun()


SECTION_KEY = "section"  # the URL key of a page's open section


def sections(page: str, choices: dict[str, str]) -> tuple[str, object]:
    """The page's sections as tabs, one open at a time: returns (its id, its tab) to draw into.

    `choices` maps each section's URL id to its tab label; the first is the default, and a section
    whose id is "all" shows every other one. Only the open tab's content runs (Streamlit's lazy tabs,
    on_change="rerun"), so a slider move recomputes and resends only the figures a viewer can see: the
    whole page at once was seven to eleven charts per move (docs/PERFORMANCE.md, "Sections").
    The open section is in the URL as ?section=<id> (left out for the default), so a link opens it; a
    lesson step opens its own (explainers/lessons.py, Step.section).
    """
    ids = list(choices)
    state = f"_section_{page}"
    wanted = st.session_state.pop(f"_section_wanted_{page}", None)  # set by a lesson step
    if wanted in choices:
        st.session_state[state] = choices[wanted]
    elif state not in st.session_state:  # first run of this page in this session: the URL decides
        raw = st.query_params.get_all(SECTION_KEY)
        value = raw[-1] if raw else ids[0]
        if value not in choices:
            notices = st.session_state.setdefault(f"_url_notices_{page}", [])
            line = (f"URL parameter '{SECTION_KEY}' must be one of {', '.join(ids)}; got {quote_value(value)}, "
                    f"so the first section is open.")
            if line not in notices:
                notices.append(line)  # shown with the URL's other notices from the next run on
                st.warning(line, icon=":material/warning:")
            value = ids[0]
        st.session_state[state] = choices[value]
    tabs = st.tabs(list(choices.values()), key=state, on_change="rerun")
    open_id = next((i for i, tab in zip(ids, tabs) if tab.open), ids[0])
    wanted_url = [] if open_id == ids[0] else [open_id]
    if st.query_params.get_all(SECTION_KEY) != wanted_url:
        if wanted_url:
            st.query_params[SECTION_KEY] = open_id
        else:
            del st.query_params[SECTION_KEY]
    return open_id, tabs[ids.index(open_id)]
