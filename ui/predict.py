"""Predict, then reveal: a class answers each lesson question before the answer opens.

The presenter starts a class from the presenter view and shows its join link and QR code; students who
open the link (`?class=CODE`) submit a prediction for the lesson step's question and may change it until
the teacher reveals. The presenter sees the predictions as a histogram that refreshes itself, then
reveals the answer the model computes (explainers/predictions.py) beside them. Answers live in the
class store (classroom/store.py: an SQLite file, or PostgreSQL shared by several servers), so every
server process and every student sees the same class.
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
import os
import re
import secrets
import threading

import streamlit as st

CLASS_KEY = "class"
STUDENT_COOKIE = "noise_lab_student"
PRESENTER_POLL_S = 2.0  # the histogram refreshes this often without a click
STUDENT_POLL_S = 3.0  # a student's panel looks for the reveal this often
_CODE = re.compile(r"[A-Z0-9]{4,12}")
_STUDENT = re.compile(r"[0-9a-f]{16}")

# The model's answers: computed once per process, in one background thread, so a slow one (two training
# runs) starts when the presenter opens the question and is ready, or nearly, by the reveal.
_answers = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="answers")
_futures: dict[tuple[str, int], concurrent.futures.Future] = {}
_futures_lock = threading.Lock()


def class_store():
    """The process's class store: NOISE_LAB_CLASS_DB, or the SQLite file beside the app."""
    from classroom.store import ENV_VAR

    return _store_at(os.environ.get(ENV_VAR))


@st.cache_resource(show_spinner=False)
def _store_at(url: str | None):
    from classroom.store import ClassStore

    return ClassStore(url)


def measured_answer(page: str, step: int) -> concurrent.futures.Future:
    from explainers.predictions import measure

    with _futures_lock:
        future = _futures.get((page, step))
        if future is None or (future.done() and future.exception() is not None):
            future = _futures[(page, step)] = _answers.submit(measure, page, step)
        return future


def read_class_code(raw: str | None) -> tuple[str | None, str | None]:
    """(class code, None) from the URL's value, or (None, notice) when it is malformed."""
    from explainers.state import quote_value

    if raw is None:
        return None, None
    code = raw.strip().upper()
    if _CODE.fullmatch(code):
        return code, None
    return None, (f"URL parameter 'class' must be a class code of 4 to 12 letters A–Z and digits 0–9; got "
                  f"{quote_value(raw)}, so this page is not joined to a class.")


def student_id() -> str:
    """This browser's anonymous id: kept in a cookie, so a reload or a second tab counts as the same student."""
    if "_student" not in st.session_state:
        from_cookie = (st.context.cookies or {}).get(STUDENT_COOKIE, "")
        st.session_state["_student"] = from_cookie if _STUDENT.fullmatch(from_cookie) else secrets.token_hex(8)
    sid = st.session_state["_student"]
    if (st.context.cookies or {}).get(STUDENT_COOKIE) != sid:
        _cookie_writer()(key="_student_cookie", data=sid)
    return sid


@functools.cache
def _cookie_writer():
    # Written on separate lines: Streamlit reads a one-line string as a file path.
    js = ("export default function ({ data }) {\n"
          f"  if (!document.cookie.split('; ').some((c) => c.startsWith('{STUDENT_COOKIE}=')))\n"
          f"    document.cookie = '{STUDENT_COOKIE}=' + data + '; path=/; max-age=31536000; SameSite=Lax';\n}}\n")
    return st.components.v2.component("noise_lab_student_cookie", html="<span></span>", js=js)


def join_link(code: str) -> str:
    """The presenter's link for students: the same page, lesson step and controls, with the class and
    without the presenter's own view."""
    from urllib.parse import urlencode, urlsplit

    parts = urlsplit(st.context.url or "")
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)
             if k not in ("present", "hide", CLASS_KEY)] + [(CLASS_KEY, code)]
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(pairs)}"


def qr_png(text: str) -> bytes:
    """A QR code of `text` as PNG, made here (segno): nothing is fetched."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def start_class_button() -> None:
    """Presenter view without a class: one button that starts one (a new code in the URL)."""
    from classroom.store import ClassStore

    def start() -> None:
        st.query_params[CLASS_KEY] = ClassStore.new_code()

    st.button("Start a class: students predict, then you reveal", icon=":material/groups:", on_click=start,
              key="_class_start", help="Gives a class code, a join link and a QR code for students' phones.")


def class_panel(page: str, step_no: int, code: str, present: bool) -> None:
    """The class's part of the lesson step: the presenter's histogram and buttons, or a student's prediction."""
    from explainers.predictions import prediction, question_id

    p, q = prediction(page, step_no), question_id(page, step_no)
    try:
        store = class_store()
    except Exception as err:  # a database that cannot be reached must not take the page down
        st.warning(f"The class store is not available, so predictions are off: {err}", icon=":material/cloud_off:")
        return
    if present:
        measured_answer(page, step_no)  # start computing now: ready by the reveal
        _join_box(code)
        st.fragment(run_every=PRESENTER_POLL_S)(_presenter_view)(store, page, step_no, code, p, q)
    else:
        st.fragment(run_every=STUDENT_POLL_S)(_student_view)(store, page, step_no, code, p, q, student_id())


def _join_box(code: str) -> None:
    link = join_link(code)
    with st.expander(f"Class **{code}**: join link and QR code", icon=":material/qr_code_2:"):
        c1, c2 = st.columns([1, 2])
        with c1:
            st.image(qr_png(link), caption=f"Scan to join class {code}", width=220)
        with c2:
            st.markdown("Students open this link (copy with the icon on the right); each one predicts before "
                        "the answer opens. Nobody signs in: a browser is one anonymous student.")
            st.code(link, language=None, wrap_lines=True)


def _presenter_view(store, page: str, step_no: int, code: str, p, q: str) -> None:
    import ui
    from explainers import figures as F

    try:
        tally, revealed = store.tally(code, q), store.revealed(code, q)
    except Exception as err:
        st.warning(f"The class store did not answer: {err}", icon=":material/cloud_off:")
        return
    n = sum(tally.values())
    labels, counts = p.histogram(tally)
    future = measured_answer(page, step_no)
    measured = future.result() if revealed and future.done() and future.exception() is None else None
    right = None
    caption = (f"{n} prediction{'s' if n != 1 else ''} from class {code} so far; this chart refreshes every "
               f"{PRESENTER_POLL_S:g} s.")
    if measured is not None:
        k = sum(c for answer, c in tally.items() if p.right(answer, measured))
        right = [_bar_is_right(p, label, measured) for label in labels]
        caption = f"The model's answer: **{measured.answer}** ({measured.detail}). {k} of {n} predicted it."
    elif revealed:
        caption += " The model's answer is being computed…"
    title = "The class predicts" + (f" ({p.unit})" if p.kind == "number" else "")
    ui.figure(F.prediction_bars(labels, counts, title, right), caption, key=f"class_{q.replace('/', '_')}")
    row = st.container(horizontal=True, wrap=True)
    row.button("Reveal the answer", icon=":material/visibility:", disabled=revealed, key=f"_reveal_{q}",
               on_click=store.reveal, args=(code, q))
    row.button("Reset this question", icon=":material/restart_alt:", key=f"_reset_{q}",
               on_click=store.reset, args=(code, q), help="Clears the class's predictions and hides the answer again.")


def _bar_is_right(p, label: str, measured) -> bool:
    if p.kind == "choice":
        return label == measured.answer
    low, high = (float(x) for x in label.split("–"))
    return low <= measured.value <= high


def _student_view(store, page: str, step_no: int, code: str, p, q: str, student: str) -> None:
    try:
        revealed, mine = store.revealed(code, q), store.answer_of(code, q, student)
    except Exception as err:
        st.warning(f"The class store did not answer: {err}", icon=":material/cloud_off:")
        return
    if revealed:
        future = measured_answer(page, step_no)
        if not future.done():
            st.info("Your teacher revealed the answer; the model is computing it…", icon=":material/hourglass_top:")
            return
        measured = future.result()
        verdict = ("" if mine is None else
                   f" You predicted **{mine}**: " + ("right." if p.right(mine, measured) else "not this time."))
        st.success(f"The model's answer: **{measured.answer}** ({measured.detail}).{verdict}",
                   icon=":material/lightbulb:")
        from explainers.lessons import LESSONS

        st.markdown(LESSONS[page][step_no - 1].answer)
        return
    label = f"Your prediction ({p.unit})" if p.kind == "number" else "Your prediction"
    if p.kind == "choice":
        choice = st.radio(label, p.choices, index=p.choices.index(mine) if mine in p.choices else None,
                          horizontal=True, key=f"_pred_{code}_{q}")
    else:
        start = float(p.check(mine if mine is not None else (p.low + p.high) / 2))
        choice = st.slider(label, float(p.low), float(p.high), start, step=float(p.step), key=f"_pred_{code}_{q}",
                           format=f"%.{p.decimals}f")

    def submit() -> None:
        value = st.session_state.get(f"_pred_{code}_{q}")
        if value is None:
            return
        store.submit(code, q, student, p.check(value))

    st.button("Submit my prediction" if mine is None else "Change my prediction", icon=":material/send:",
              disabled=choice is None, on_click=submit, key=f"_submit_{code}_{q}")
    if mine is None:
        st.caption("The answer opens once you have predicted and your teacher reveals it.")
    else:
        st.caption(f"Your prediction: **{mine}**. You can change it until your teacher reveals the answer.")
