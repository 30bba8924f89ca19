"""classroom.store.ClassStore: the contract in docs (DESIGN.md "ClassStore"), on both backends.

Every behavioural test runs twice, through the `url` fixture: on an SQLite file in tmp_path and on a real
PostgreSQL server that this module starts (devtools.postgres) and gives a fresh database per test. Where
Debian's `postgresql` package is not installed the PostgreSQL runs are skipped, saying so.
"""

from __future__ import annotations

import multiprocessing
import string
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classroom import store as store_module
from classroom.store import CODE_ALPHABET, ENV_VAR, ClassStore
from devtools.postgres import PostgresServer, bin_dir

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("class_code", "question", "student", "answer")
VALID = {"class_code": "ABCD12", "question": "q1", "student": "ana", "answer": "it blurs"}
# Hypothesis and a function-scoped fixture: each example reuses the test's store, which the tests allow for.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- fixtures ---

@pytest.fixture(scope="session")
def postgres():
    if bin_dir() is None:
        pytest.skip("PostgreSQL not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql")
    pytest.importorskip("psycopg", reason="psycopg not installed: pip install -r requirements.txt")
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A url for an empty store that nothing has opened yet (so its tables do not exist yet either)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'classes.db'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def store(url):
    with ClassStore(url) as s:
        yield s


# --- the contract ---

def test_last_answer_wins(store):
    store.submit("ABCD", "q1", "ana", "first")
    store.submit("ABCD", "q1", "ana", "second")
    store.submit("ABCD", "q1", "ana", "third")
    assert store.tally("ABCD", "q1") == {"third": 1}
    assert store.count("ABCD", "q1") == 1
    assert store.answer_of("ABCD", "q1", "ana") == "third" and store.answer_of("ABCD", "q1", "bo") is None
    assert store.answer_of("ABCD", "q2", "ana") is None and store.answer_of("WXYZ", "q1", "ana") is None
    with pytest.raises(ValueError, match="student"):
        store.answer_of("ABCD", "q1", "")


def test_tally_counts_each_answer_most_given_first(store):
    for student, answer in [("a", "x"), ("b", "y"), ("c", "y"), ("d", "z"), ("e", "y"), ("f", "x")]:
        store.submit("ABCD", "q1", student, answer)
    tally = store.tally("ABCD", "q1")
    assert tally == {"y": 3, "x": 2, "z": 1}
    assert list(tally) == ["y", "x", "z"]
    assert store.count("ABCD", "q1") == 6


def test_an_unanswered_question_is_empty(store):
    assert store.tally("ABCD", "q1") == {}
    assert store.count("ABCD", "q1") == 0
    assert store.revealed("ABCD", "q1") is False


def test_reset_clears_only_that_question_of_that_class(store):
    for code in ("ABCD", "WXYZ"):
        for question in ("q1", "q2"):
            store.submit(code, question, "ana", "yes")
            store.submit(code, question, "bo", "no")
            store.reveal(code, question)
    store.reset("ABCD", "q1")
    assert store.tally("ABCD", "q1") == {} and not store.revealed("ABCD", "q1")
    for code, question in [("ABCD", "q2"), ("WXYZ", "q1"), ("WXYZ", "q2")]:
        assert store.tally(code, question) == {"no": 1, "yes": 1}
        assert store.revealed(code, question)
    store.submit("ABCD", "q1", "ana", "again")  # a reset question takes answers afresh
    assert store.tally("ABCD", "q1") == {"again": 1}


def test_classes_are_isolated(store):
    store.submit("ABCD", "q1", "ana", "yes")
    store.submit("WXYZ", "q1", "ana", "no")  # same question and student name, other class
    assert store.tally("ABCD", "q1") == {"yes": 1}
    assert store.tally("WXYZ", "q1") == {"no": 1}
    store.reveal("WXYZ", "q1")
    assert not store.revealed("ABCD", "q1")


def test_reveal_lasts_until_reset(store):
    store.reveal("ABCD", "q1")
    store.reveal("ABCD", "q1")  # twice is the same as once
    assert store.revealed("ABCD", "q1") and not store.revealed("ABCD", "q2")
    store.reset("ABCD", "q1")
    assert not store.revealed("ABCD", "q1")


# --- validation ---

def _valid(field, value) -> bool:
    """The contract's shapes, restated independently of the store's code."""
    if not isinstance(value, str):
        return False
    if field == "class_code":
        return 4 <= len(value) <= 12 and all(c in string.ascii_uppercase + string.digits for c in value)
    if field == "answer":  # 1-200 characters that a database can hold as text
        return 1 <= len(value) <= 200 and "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)
    return 1 <= len(value) <= 64 and value.isprintable()


ANY_VALUE = st.one_of(
    st.text(max_size=220),
    st.text(alphabet=string.ascii_uppercase + string.digits + "az_-", max_size=14),  # near-valid class codes
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Zl", "Zp")), max_size=70),
    st.integers(), st.none(), st.binary(max_size=8), st.lists(st.text(max_size=3), max_size=2),
)


@pytest.mark.parametrize("field", FIELDS)
@PROPERTY
@given(value=ANY_VALUE)
def test_each_field_takes_exactly_its_shape(store, field, value):
    args = {**VALID, field: value}
    if _valid(field, value):
        store.reset(args["class_code"], args["question"])
        store.submit(**args)
        assert store.tally(args["class_code"], args["question"]) == {args["answer"]: 1}
    else:
        with pytest.raises(ValueError) as e:
            store.submit(**args)
        assert str(e.value).startswith(f"{field} must be ")


@pytest.mark.parametrize(("field", "value"), [
    ("class_code", "abcd"), ("class_code", "ABC"), ("class_code", "A" * 13), ("class_code", "ABCD\n"),
    ("class_code", "ABÇD"), ("class_code", "AB CD"), ("class_code", 1234), ("class_code", None),
    ("question", ""), ("question", "q" * 65), ("question", "a\nb"), ("question", "tab\there"), ("question", 1),
    ("student", ""), ("student", "s" * 65), ("student", "\x1b[31m"), ("student", b"ana"),
    ("answer", ""), ("answer", "a" * 201), ("answer", "a\x00b"), ("answer", "\ud800"), ("answer", 3.5),
])
def test_each_invalid_field_is_named(store, field, value):
    args = {**VALID, field: value}
    with pytest.raises(ValueError, match=f"^{field} must be "):
        store.submit(**args)
    if field in ("class_code", "question"):
        for method in (store.tally, store.reset, store.count, store.reveal, store.revealed):
            with pytest.raises(ValueError, match=f"^{field} must be "):
                method(args["class_code"], args["question"])
    assert store.count(VALID["class_code"], VALID["question"]) == 0  # nothing was written


def test_the_longest_valid_values_are_kept_whole(store):
    code, question, student, answer = "Z" * 12, "q" * 64, "s" * 64, "é" * 199 + "🙂"
    store.submit(code, question, student, answer)
    assert store.tally(code, question) == {answer: 1}


# --- values are data, never SQL ---

INJECTIONS = [
    "'); DROP TABLE class_answers; --", "Robert'); DROP TABLE class_reveals;--", "' OR '1'='1", "\" OR 1=1 --",
    "?", "%s", "%(x)s", "$1", "\\", "' || (SELECT answer FROM class_answers) || '", "ünïcödé 🙂 終",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_looking_strings_round_trip_as_data(store, text):
    store.submit("ABCD", text, text, text)
    store.submit("ABCD", text, "other", "plain")
    assert store.tally("ABCD", text) == {text: 1, "plain": 1}
    assert store.count("ABCD", text) == 2
    store.reveal("ABCD", text)
    assert store.revealed("ABCD", text)
    store.reset("ABCD", text)
    assert store.tally("ABCD", text) == {} and store.tally("ABCD", "q1") == {}  # the tables are all still there


@PROPERTY
@given(question=st.text(min_size=1, max_size=64).filter(str.isprintable),
       student=st.text(min_size=1, max_size=64).filter(str.isprintable),
       answer=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200))
def test_any_valid_text_round_trips(store, question, student, answer):
    store.reset("ABCD", question)
    store.submit("ABCD", question, student, answer)
    assert store.tally("ABCD", question) == {answer: 1}


# --- many processes at once ---

PROCESSES, SUBMITS = 8, 50


def _submit_many(url: str, barrier, process: int) -> None:
    """One of PROCESSES processes: wait for the others, then open the store (all creating it at once) and submit."""
    barrier.wait()
    store = ClassStore(url)
    for j in range(SUBMITS):
        store.submit("ABCD", "distinct", f"p{process}-s{j}", "ABCD"[j % 4])
        store.submit("ABCD", "shared", f"s{j}", f"from p{process}")  # every process answers for the same students


def test_many_processes_at_once_lose_nothing(url):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_submit_many, args=(url, barrier, p)) for p in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    store = ClassStore(url)
    per_answer = [sum(1 for j in range(SUBMITS) if j % 4 == k) * PROCESSES for k in range(4)]
    assert store.tally("ABCD", "distinct") == dict(zip("ABCD", per_answer))
    assert sum(store.tally("ABCD", "distinct").values()) == store.count("ABCD", "distinct") == PROCESSES * SUBMITS
    shared = store.tally("ABCD", "shared")  # one answer per student, whoever wrote last
    assert sum(shared.values()) == store.count("ABCD", "shared") == SUBMITS
    assert set(shared) <= {f"from p{p}" for p in range(PROCESSES)}


# --- where the store is ---

def test_the_environment_variable_chooses_the_store(url, monkeypatch):
    monkeypatch.setenv(ENV_VAR, url)
    ClassStore().submit("ABCD", "q1", "ana", "via env")
    assert ClassStore(url).tally("ABCD", "q1") == {"via env": 1}


def test_by_default_an_sqlite_file_beside_the_app(tmp_path, monkeypatch):
    assert store_module.DEFAULT_PATH == ROOT / "artifacts" / "classes.db"
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(store_module, "DEFAULT_PATH", tmp_path / "artifacts" / "classes.db")
    store = ClassStore()  # creates the missing folder
    store.submit("ABCD", "q1", "ana", "yes")
    assert store.backend == "sqlite" and (tmp_path / "artifacts" / "classes.db").is_file()


def test_sqlite_runs_in_wal_mode(tmp_path):
    import sqlite3

    ClassStore(f"sqlite:///{tmp_path / 'c.db'}")
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("bad", ["mysql://user:secret@host/db", "classes.db", "", "sqlite:/x.db", "sqlite://",
                                 "sqlite:///", "sqlite:///:memory:", "http://example.org", 42, Path("c.db")])
def test_a_url_it_cannot_use_is_a_value_error_naming_url(bad):
    with pytest.raises(ValueError, match="^url must ") as e:
        ClassStore(bad)
    assert "secret" not in str(e.value)


def test_a_password_is_never_shown(postgres):
    url = postgres.create_database().replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    assert "hunter2" not in repr(ClassStore(url))


# --- the rest of the app's API ---

def test_new_codes_are_valid_readable_and_random(store):
    codes = {ClassStore.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
        store.count(code, "q1")  # accepted as a class code
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_a_closed_store_refuses_work(url):
    with ClassStore(url) as store:
        store.submit("ABCD", "q1", "ana", "yes")
    with pytest.raises(RuntimeError, match="closed"):
        store.tally("ABCD", "q1")


def test_importing_the_store_pulls_in_neither_streamlit_nor_psycopg(tmp_path):
    code = (f"import sys; from classroom.store import ClassStore; ClassStore('sqlite:///{tmp_path}/c.db')"
            ".submit('ABCD', 'q', 's', 'a'); bad = {'streamlit', 'psycopg'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)



def _open_together(url: str, n: int = 8) -> list[Exception]:
    """n threads open the store at `url` at the same moment and each submits once; returns their errors."""
    barrier, errors = threading.Barrier(n), []

    def open_and_submit(i: int) -> None:
        try:
            barrier.wait()
            ClassStore(url).submit("ABCD", "q1", f"s{i}", "yes")
        except Exception as e:  # noqa: BLE001 - returned to the test, which shows it
            errors.append(e)

    threads = [threading.Thread(target=open_and_submit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_many_open_a_new_store_at_once(url, request, tmp_path):
    """Creating the tables races when several start on a new store together (SQLite's switch to WAL fails
    at once; PostgreSQL's CREATE TABLE IF NOT EXISTS can collide). Threads make the race cheap to repeat:
    every ClassStore call has its own connection, as a process would."""
    for round_ in range(20):
        if url.startswith("sqlite"):
            fresh = f"sqlite:///{tmp_path / f'new{round_}.db'}"
        else:
            fresh = request.getfixturevalue("postgres").create_database()
        assert _open_together(fresh) == []
        assert ClassStore(fresh).count("ABCD", "q1") == 8
