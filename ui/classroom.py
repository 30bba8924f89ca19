"""The classroom: guided lessons, presenter view, hidden controls, and the share link with the figure pack.

A teacher shares a link; `?lesson=K` opens step K of the page's lesson, `?present=true` enlarges text
and figures for a projector, `?hide=sidebar,T` hides chosen controls. FIT_CSS keeps everything a class
must read uncut at any width.
"""

from __future__ import annotations

import re
from typing import Iterable

import streamlit as st

from explainers.state import Param, quote_value, url_strings


CLASSROOM_KEYS = ("lesson", "present", "hide", "class", "pin", "section")


PRESENT_SCALE = 1.35  # figures grow by this much in presenter view


def _query_value(key: str) -> str | None:
    values = st.query_params.get_all(key)
    return values[-1] if values else None


def _apply_step(step, page: str, page_keys: set[str], only_missing: bool) -> None:
    for key, value in step.params.items():
        if key in page_keys and not (only_missing and key in st.query_params):
            st.session_state[key] = list(value) if isinstance(value, tuple) else value
    if step.section and not (only_missing and "section" in st.query_params):
        st.session_state[f"_section_wanted_{page}"] = step.section  # ui.controls.sections opens it


_PAGE_PARAMS: dict[str, dict[str, Param]] = {}  # each page's URL parameters by key, recorded by classroom_flags()


def keep_lesson_changes_in_url(page: str) -> None:
    """While a lesson step is open, write every control whose value differs from the step's into the URL.

    A link with ?lesson=K applies the step's values to the controls missing from it, and Streamlit's URL
    binding leaves out a value equal to the control's default: a change back to the default (D.hidden1
    from the step's sn to off) vanished from the link, which then reopened sn. Written explicitly, the
    value wins when the link is opened. Call it after the controls are drawn (share_and_export, figure).

    The binding forbids st.query_params for a bound key, so this writes through the QueryParams object
    behind it (Streamlit 1.67: set_with_no_forward_msg, _send_query_param_msg, get_binding_for_param).
    If an upgrade renames them nothing breaks here, and tests/test_browser_classroom.py's lesson-link
    test fails.
    """
    from explainers.lessons import LESSONS
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    step_no = st.session_state.get(f"_lesson_step_{page}", 0)
    ctx = get_script_run_ctx()
    if not step_no or ctx is None or page not in _PAGE_PARAMS:
        return
    step_params = LESSONS[page][step_no - 1].params
    values = {key: st.session_state.get(key) for key in step_params}  # read before holding the state's lock
    try:
        with ctx.session_state.query_params() as qp:
            changed = False
            for key, step_value in step_params.items():
                p, value = _PAGE_PARAMS[page].get(key), values[key]
                binding = qp.get_binding_for_param(key)
                # Only controls drawn on this run: one that is not on the page has nothing to reproduce.
                if p is None or binding is None or binding.widget_id not in ctx.shared.widget_ids_this_run:
                    continue
                if value is None or p.to_url(value) == p.to_url(step_value):
                    continue
                wanted = url_strings(p, value)
                if qp.get_all(key) != wanted:
                    qp.set_with_no_forward_msg(key, wanted if p.kind == "multi" else wanted[0])
                    changed = True
            if changed:
                qp._send_query_param_msg()
    except AttributeError:
        return


def classroom_flags(page: str, params: Iterable[Param]) -> list[str]:
    """Read the page's classroom flags from the URL and set the page up for them.

    ?lesson=K opens step K of the page's guided lesson (its controls set through session state, so
    values written explicitly in the URL win on a fresh load); ?present=true enlarges text and figures
    for a projector; ?hide=sidebar,T,... hides the sidebar or chosen controls. Returns notices for bad values.
    """
    from explainers.lessons import LESSONS

    steps = LESSONS[page]
    _PAGE_PARAMS[page] = {p.key: p for p in params}
    page_keys = set(_PAGE_PARAMS[page])
    notices = []
    raw = _query_value("lesson")
    step_no = 0
    if raw is not None:
        if raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= len(steps):
            step_no = int(raw)
        else:
            notices.append(f"URL parameter 'lesson' must be a step number in [1, {len(steps)}]; got "
                           f"{quote_value(raw)}, so no lesson step is open.")
    applied_key = f"_lesson_applied_{page}"
    if step_no and st.session_state.get(applied_key) != step_no:
        _apply_step(steps[step_no - 1], page, page_keys, only_missing=applied_key not in st.session_state)
        st.session_state[applied_key] = step_no
    st.session_state[f"_lesson_step_{page}"] = step_no

    present_raw = _query_value("present")
    present = present_raw is not None and present_raw.lower() in ("true", "1")
    if present_raw is not None and present_raw.lower() not in ("true", "false", "1", "0"):
        notices.append(f"URL parameter 'present' must be true or false; got {quote_value(present_raw)}.")
    hidden = [h.strip() for h in (_query_value("hide") or "").split(",") if h.strip()]
    bad = [h for h in hidden if h != "sidebar" and h not in page_keys]
    if bad:
        notices.append(f"URL parameter 'hide' names unknown controls: {', '.join(quote_value(b) for b in bad[:5])}; valid: "
                       f"sidebar or a control key such as {', '.join(sorted(page_keys)[:6])}.")
    st.session_state["_present"] = present
    _presenter_css(present, [h for h in hidden if h not in bad])

    from ui.predict import CLASS_KEY, read_class_code

    code, notice = read_class_code(_query_value(CLASS_KEY))
    st.session_state["_class_code"] = code
    return notices + ([notice] if notice else [])


# Nothing a class must read is cut off, at any width (tests/test_browser_layout.py checks it).
FIT_CSS = (
    # Display equations break after a relation or operator, as inline KaTeX does, instead of being cut;
    # the padding holds the 2 px that KaTeX's fraction and root boxes stick out past a full line.
    ".katex-display > .katex { white-space: normal; padding: 0 0.2em; }"
    # Sidebar page names and metric labels wrap onto a second line instead of ending in an ellipsis.
    '[data-testid="stSidebarNavLink"] { height: auto; min-height: 2rem; }'
    '[data-testid="stSidebarNavLink"] span, [data-testid="stSidebarNavLink"] .stMarkdownEllipsis, '
    '[data-testid="stMetricLabel"] .stMarkdownEllipsis, .stMarkdownEllipsis p'
    " { white-space: normal; overflow: visible; text-overflow: clip; }"
    '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] > div { height: auto; }'
    '[data-testid="stPageLink"] span, [data-testid="stPageLink"] p'
    " { white-space: normal; overflow: visible; text-overflow: clip; }"
    # The home page's cards (their layout wrappers) share a row while each can be 17rem wide, else they wrap.
    '.st-key-home_cards > div:has(> [class*="st-key-home_card_"]) { flex: 1 1 17rem; min-width: min(100%, 17rem); }'
)


# Presenter view: bigger text, and the page's width for content rather than for margins.
PRESENT_CSS = ("html { font-size: 21px; }"
               ".stMainBlockContainer { max-width: 96vw; padding: 2.5rem 1.5rem 6rem; }")


def plain_page_view() -> None:
    """A page without lessons or controls (home): the same fitting rules, and presenter view on ?present=true."""
    raw = _query_value("present")
    _presenter_css(raw is not None and raw.lower() in ("true", "1"), [])


def _presenter_css(present: bool, hidden: list[str]) -> None:
    rules = [FIT_CSS]
    if present:
        rules.append(PRESENT_CSS)
    for key in hidden:
        if key == "sidebar":
            rules.append('[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }')
        else:
            # Streamlit gives every keyed widget's container the class st-key-<key>, with characters other
            # than letters, digits, _ and - replaced by -; keys were checked against the page's above.
            css_class = "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())
            rules.append(f".{css_class} {{ display: none; }}")
    # Captions carry each figure's key numbers, so they get full text contrast in both themes.
    rules.append('[data-testid="stCaptionContainer"] { color: inherit; opacity: 0.92; }')
    st.html(f"<style>{' '.join(rules)}</style>")


def lesson_panel(page: str) -> None:
    """The current lesson step at the top of the page, or a button that starts the lesson."""
    from explainers.lessons import LESSONS

    steps = LESSONS[page]
    step_no = st.session_state.get(f"_lesson_step_{page}", 0)

    def go(k: int) -> None:
        if k == 0:
            del st.query_params["lesson"]
        else:
            st.query_params["lesson"] = str(k)
            page_keys = set(steps[k - 1].params)
            _apply_step(steps[k - 1], page, page_keys, only_missing=False)
            st.session_state[f"_lesson_applied_{page}"] = k

    from ui import predict

    code, present = st.session_state.get("_class_code"), st.session_state.get("_present", False)
    if not step_no:
        st.sidebar.button(f"Start the guided lesson ({len(steps)} steps)", icon=":material/school:",
                          on_click=go, args=(1,), key=f"_lesson_start_{page}")
        if code:
            st.info(f"You are in class **{code}**. Your teacher's questions appear in the guided lesson: "
                    "start it from the sidebar.", icon=":material/groups:")
        return
    step = steps[step_no - 1]
    with st.container(border=True, key="lesson_panel"):
        st.markdown(f"**Lesson · step {step_no} of {len(steps)}: {step.title}**")
        st.markdown(step.notice)
        st.markdown(f"**Question:** {step.question}")
        if code and not present:
            predict.class_panel(page, step_no, code, present=False)  # the answer opens at the reveal
        else:
            with st.expander("Show the answer"):
                st.markdown(step.answer)
            if code:
                predict.class_panel(page, step_no, code, present=True)
            elif present:
                predict.start_class_button()
        # A wrapping row of buttons at their natural width: fixed columns cut labels to "Pr…" on a projector.
        row = st.container(horizontal=True, wrap=True, key="lesson_buttons")
        row.button("Previous", icon=":material/arrow_back:", disabled=step_no == 1, on_click=go,
                   args=(step_no - 1,), key=f"_lesson_prev_{page}")
        row.button("Next", icon=":material/arrow_forward:", disabled=step_no == len(steps), on_click=go,
                   args=(step_no + 1,), key=f"_lesson_next_{page}")
        row.button("End lesson", icon=":material/close:", on_click=go, args=(0,), key=f"_lesson_end_{page}")


def current_link() -> str:
    """The address of this exact view (page path and every URL value), to paste anywhere."""
    from urllib.parse import urlencode, urlsplit

    base = st.context.url or ""
    parts = urlsplit(base)
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{urlencode(pairs)}" if pairs else "")


def _resolved(extra: dict | None) -> dict | None:
    """Extra pack files; a callable value is produced only now, when the pack is downloaded."""
    return None if extra is None else {name: data() if callable(data) else data for name, data in extra.items()}


def export_one(page: str, figures: list) -> None:
    """One figure of this view as CSV (its data), PNG or SVG: pick it, then the format. One menu for the page,
    not one per figure: its buttons are drawn only once a figure is picked, so a rerun sends two elements."""
    from explainers.exports import figure_csv, figure_image, slug

    by_name = {name: fig for name, fig, _ in figures}
    name = st.selectbox("Export one figure", list(by_name), index=None, placeholder="Choose a figure…",
                        key=f"_export_pick_{page}",
                        help="Also: the camera icon above each chart saves it as a PNG at once.")
    if name is None or name not in by_name:
        return
    fig, stem = by_name[name], slug(name)
    row = st.container(horizontal=True, wrap=True)
    row.download_button("Data (CSV)", data=lambda: figure_csv(fig), file_name=f"{stem}.csv", mime="text/csv",
                        on_click="ignore", key=f"_csv_{page}")
    row.download_button("Image (PNG)", data=lambda: figure_image(fig, "png"), file_name=f"{stem}.png",
                        mime="image/png", on_click="ignore", key=f"_png_{page}")
    row.download_button("Image (SVG)", data=lambda: figure_image(fig, "svg"), file_name=f"{stem}.svg",
                        mime="image/svg+xml", on_click="ignore", key=f"_svg_{page}")


def share_and_export(page: str, extra: dict | None = None) -> None:
    """'Copy link' for this view, and a one-click zip of every figure on the page (CSV, PNG, SVG)."""
    from explainers.exports import figure_pack

    from ui import pin

    keep_lesson_changes_in_url(page)  # before the link is read: it must carry every change made in a lesson
    slot = st.session_state.get("_pin_slot")
    if slot is not None and page in _PAGE_PARAMS:
        with slot:
            pin.bar(page, list(_PAGE_PARAMS[page].values()))
            pin.table(page)
    figures = list(st.session_state.get(f"_figures_{page}", {}).values())
    link = current_link()
    with st.expander("Share this view and export its figures", icon=":material/share:"):
        st.markdown("**Link to exactly this view** (copy with the icon on the right; students who open it see "
                    "the same controls, figures and lesson step):")
        st.code(link, language=None)
        st.markdown("Presenter view of this link: add `&present=true`, and `&hide=sidebar` to hide the controls.")
        st.download_button(
            f"Download the figure pack ({len(figures)} figures: CSV + PNG + SVG, zip)",
            data=lambda: figure_pack(figures, link=link, extra=_resolved(extra)), file_name=f"noise_lab_{page}.zip",
            mime="application/zip", icon=":material/folder_zip:", key=f"_pack_{page}", on_click="ignore")
        export_one(page, figures)
    if page in _PAGE_PARAMS:
        pin.finish(page, list(_PAGE_PARAMS[page].values()))
