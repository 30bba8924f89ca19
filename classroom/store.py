"""A class's predictions: each student answers a question, the teacher sees the tally, then reveals.

    store = ClassStore(url)          # None -> $NOISE_LAB_CLASS_DB -> artifacts/classes.db (SQLite)
    store.submit("K7PQ2M", "q1", "ana", "it blurs")   # one answer per student and question: the last wins
    store.tally("K7PQ2M", "q1")      # {"it blurs": 1}
    store.reveal("K7PQ2M", "q1"); store.revealed("K7PQ2M", "q1")   # True
    store.reset("K7PQ2M", "q1")      # answers and reveal gone, for that class and question only

Backends: SQLite (the standard library's `sqlite3`) for one machine, PostgreSQL (psycopg 3, imported only
when asked for) when several app servers share a class. Both get the same two tables and the same SQL.

Why it is safe from many processes at once: every call opens its own connection, does its work in one
transaction and closes it, so nothing is shared between threads or processes and there is nothing to lock
in Python; the database does the locking. SQLite runs in WAL mode (readers never block the one writer) and
waits up to a busy timeout for the write lock instead of failing; PostgreSQL locks rows. "The last answer
wins" is a single upsert (INSERT ... ON CONFLICT ... DO UPDATE), so two submits can never both insert.
Opening a connection costs about a millisecond on SQLite and a few on a local PostgreSQL: small
beside a Streamlit rerun. SQLite's WAL mode needs a local disk (not a network share).

Every value reaches SQL as a query parameter, never by string formatting, so an answer such as
"'); DROP TABLE class_answers; --" is stored as the text it is.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

ENV_VAR = "NOISE_LAB_CLASS_DB"
# Beside the app, in the repo's artifacts/ folder (git-ignored), so a plain `streamlit run` needs no setup.
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "artifacts" / "classes.db"
BUSY_TIMEOUT_S = 10.0  # how long a writer waits for another process's write to finish before giving up

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # A-Z 0-9 without 0/O, 1/I/L: easy to read off a projector
CODE_LENGTH = 6

_CLASS_CODE = re.compile(r"[A-Z0-9]{4,12}")
_SHAPES = {  # the message each field's ValueError gives
    "class_code": "a str of 4-12 characters A-Z 0-9",
    "question": "a str of 1-64 printable characters",
    "student": "a str of 1-64 printable characters",
    "answer": "a str of 1-200 characters, without NUL or unpaired surrogates",
}

# The same tables for both backends. Table names carry a prefix so the store can share a database.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS class_answers (
        class_code TEXT NOT NULL,
        question TEXT NOT NULL,
        student TEXT NOT NULL,
        answer TEXT NOT NULL,
        PRIMARY KEY (class_code, question, student))""",
    """CREATE TABLE IF NOT EXISTS class_reveals (
        class_code TEXT NOT NULL,
        question TEXT NOT NULL,
        PRIMARY KEY (class_code, question))""",
)
_SUBMIT = """INSERT INTO class_answers (class_code, question, student, answer) VALUES (?, ?, ?, ?)
             ON CONFLICT (class_code, question, student) DO UPDATE SET answer = excluded.answer"""
_TALLY = "SELECT answer, COUNT(*) FROM class_answers WHERE class_code = ? AND question = ? GROUP BY answer"
_ANSWER_OF = "SELECT answer FROM class_answers WHERE class_code = ? AND question = ? AND student = ?"
_COUNT = "SELECT COUNT(*) FROM class_answers WHERE class_code = ? AND question = ?"
_RESET = ("DELETE FROM class_answers WHERE class_code = ? AND question = ?",
          "DELETE FROM class_reveals WHERE class_code = ? AND question = ?")
_REVEAL = "INSERT INTO class_reveals (class_code, question) VALUES (?, ?) ON CONFLICT DO NOTHING"
_REVEALED = "SELECT 1 FROM class_reveals WHERE class_code = ? AND question = ?"
# PostgreSQL: a lock held while creating the tables. Two processes running CREATE TABLE IF NOT EXISTS at
# the same moment can otherwise both try to create the table, and one fails on a duplicate key.
_PG_SCHEMA_LOCK = 0x4E4C_4353  # any fixed number; "NLCS"


def _brief(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _check(field: str, value: Any) -> str:
    """Return `value` if it has the field's shape, else raise ValueError naming the field and the shape."""
    if isinstance(value, str):
        if field == "class_code":
            ok = _CLASS_CODE.fullmatch(value) is not None
        elif field == "answer":
            # Neither database can store NUL or a lone surrogate as text; refuse them here, alike for both.
            ok = 1 <= len(value) <= 200 and "\x00" not in value and _encodable(value)
        else:  # question, student
            ok = 1 <= len(value) <= 64 and value.isprintable()
        if ok:
            return value
    raise ValueError(f"{field} must be {_SHAPES[field]}; got {_brief(value)}")


def _masked(url: str) -> str:
    """The url with any password replaced by ***, for messages and repr."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sqlite_path(url: str) -> Path:
    """sqlite:///relative/path.db or sqlite:////absolute/path.db (the form SQLAlchemy uses)."""
    rest = url[len("sqlite://"):]
    path = rest[1:] if rest.startswith("/") else ""
    if not path or path == ":memory:":
        # An in-memory database would be a new, empty one on every call (one connection per call).
        raise ValueError(f"url must name an SQLite file, as sqlite:///path.db; got {url!r}")
    return Path(path)


class ClassStore:
    """The answers of every class and question, in SQLite or PostgreSQL (see the module docstring)."""

    def __init__(self, url: str | None = None) -> None:
        """Open (and if new, create) the store at `url`: None -> $NOISE_LAB_CLASS_DB -> DEFAULT_PATH.

        Accepts "sqlite:///relative/path.db" or "sqlite:////absolute/path.db" (SQLAlchemy's form, so
        f"sqlite:///{absolute_path}" works) and "postgresql://user:pw@host:port/db" ("postgres://" too);
        anything else raises ValueError naming `url`. A missing SQLite folder is created.
        """
        if url is None:
            url = os.environ.get(ENV_VAR) or f"sqlite:///{DEFAULT_PATH}"
        if not isinstance(url, str):
            raise ValueError(f"url must be a str such as sqlite:///path.db or postgresql://...; got {_brief(url)}")
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        self._url = url
        self._closed = False
        if scheme == "sqlite":
            self.backend = "sqlite"
            self._path = _sqlite_path(url)
            self._path.parent.mkdir(parents=True, exist_ok=True)
        elif scheme in ("postgresql", "postgres"):
            self.backend = "postgresql"
            try:
                import psycopg  # only PostgreSQL users need it
            except ImportError as e:
                raise ImportError("a postgresql:// url needs psycopg: pip install 'psycopg[binary]>=3.2'") from e
            self._psycopg = psycopg
        else:
            raise ValueError(f"url must start with sqlite:/// or postgresql://; got {_brief(_masked(url))}")
        self._create_tables()

    # --- the contract ---

    def submit(self, class_code: str, question: str, student: str, answer: str) -> None:
        """Record `student`'s answer to `question`, replacing any earlier one (the last answer wins)."""
        values = (_check("class_code", class_code), _check("question", question),
                  _check("student", student), _check("answer", answer))
        with self._write() as cur:
            cur.execute(self._sql(_SUBMIT), values)

    def tally(self, class_code: str, question: str) -> dict[str, int]:
        """{answer: number of students who gave it}, most given first (ties in answer order)."""
        rows = self._read(_TALLY, self._key(class_code, question))
        return dict(sorted(((answer, int(n)) for answer, n in rows), key=lambda r: (-r[1], r[0])))

    def reset(self, class_code: str, question: str) -> None:
        """Forget this question's answers and hide it again, for this class only."""
        key = self._key(class_code, question)
        with self._write() as cur:  # both deletes in one transaction: nobody sees answers gone but revealed
            for sql in _RESET:
                cur.execute(self._sql(sql), key)

    # --- what the app needs besides ---

    @staticmethod
    def new_code() -> str:
        """A random class code: 6 characters from an alphabet without look-alikes (31**6, about 9e8)."""
        return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))

    def count(self, class_code: str, question: str) -> int:
        """How many students have answered this question."""
        return int(self._read(_COUNT, self._key(class_code, question))[0][0])

    def answer_of(self, class_code: str, question: str, student: str) -> str | None:
        """`student`'s current answer to `question`, or None: a student who reloads the page sees it again."""
        rows = self._read(_ANSWER_OF, (*self._key(class_code, question), _check("student", student)))
        return rows[0][0] if rows else None

    def reveal(self, class_code: str, question: str) -> None:
        """Mark the question's answer as shown to the class (until `reset`)."""
        with self._write() as cur:
            cur.execute(self._sql(_REVEAL), self._key(class_code, question))

    def revealed(self, class_code: str, question: str) -> bool:
        """Whether `reveal` was called for this question since it was last reset."""
        return bool(self._read(_REVEALED, self._key(class_code, question)))

    def close(self) -> None:
        """Stop using the store. No connection stays open between calls, so this only makes a later call
        fail loudly (RuntimeError) instead of quietly reopening the database."""
        self._closed = True

    def __enter__(self) -> ClassStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ClassStore({_masked(self._url)!r})"

    # --- one connection per call ---

    @staticmethod
    def _key(class_code: str, question: str) -> tuple[str, str]:
        return _check("class_code", class_code), _check("question", question)

    def _sql(self, sql: str) -> str:
        """Our SQL is written with sqlite3's ? placeholders; psycopg's are %s. Only placeholders change."""
        return sql if self.backend == "sqlite" else sql.replace("?", "%s")

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._closed:
            raise RuntimeError("this ClassStore is closed")
        if self.backend == "sqlite":
            # isolation_level=None: no hidden transactions; _write begins its own. timeout= is the busy timeout.
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        else:
            conn = self._psycopg.connect(self._url, connect_timeout=int(BUSY_TIMEOUT_S))
        with closing(conn):
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A cursor inside one transaction, committed at the end or rolled back on an error."""
        with self._connection() as conn:
            cur = conn.cursor()
            if self.backend == "sqlite":
                # IMMEDIATE takes the write lock now (waiting up to the busy timeout), not half way through.
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _read(self, sql: str, params: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """One SELECT: a single statement sees one consistent snapshot on both backends."""
        with self._connection() as conn:
            cur = conn.cursor()
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
            if self.backend == "postgresql":
                conn.rollback()  # end the read-only transaction psycopg opened
            return rows

    def _create_tables(self) -> None:
        if self.backend == "sqlite":
            self._use_wal()
        with self._write() as cur:
            if self.backend == "postgresql":
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
            for sql in _SCHEMA:
                cur.execute(sql)

    def _use_wal(self) -> None:
        """Switch the SQLite file to WAL mode. The mode is stored in the file, so every later connection, in
        any process, uses it. Switching fails at once ("database is locked", without waiting for the busy
        timeout) while another process holds the file, as when several start on a new file together, so
        retry until the busy timeout; once one has switched, the others' switch is a no-op."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self._connection() as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
