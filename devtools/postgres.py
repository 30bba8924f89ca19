"""A throwaway PostgreSQL server for tests and benchmarks, from Debian's `postgresql` package.

    with PostgresServer() as pg:           # initdb in a temp folder, start, wait until it accepts queries
        url = pg.create_database()         # a fresh, empty database: postgresql://postgres@127.0.0.1:PORT/db1
    # stopped and its folder deleted

Why these choices:
- The binaries are found with a glob (/usr/lib/postgresql/*/bin), the newest version first; `bin_dir()`
  returns None where the package is not installed, so a caller can skip with a clear reason.
- PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the `postgres` system
  user (the package creates it) or, failing that, `nobody`, and the temp folder is handed to that user.
- It listens on 127.0.0.1 only, on a free port, with its unix socket in its own folder, and trusts every
  local connection (no password): nothing else on the machine is disturbed, and nothing outside can reach it.
- fsync is off: the data is thrown away at the end, so waiting for the disk would only slow tests down.
- The server is our own child process (not daemonised by pg_ctl), so stopping it means signalling one pid.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.live_server import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"  # the database role initdb creates (not the system user)


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (with initdb and postgres), or None."""
    found = [Path(d) for d in glob.glob(BIN_GLOB) if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists()]

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in d.parent.name.split(".") if p.isdigit())

    return max(found, key=version, default=None)


def _run_as() -> pwd.struct_passwd | None:
    """The system user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


class PostgresServer:
    """One PostgreSQL server in a temp folder: `start()`, `create_database()`, `stop()` (or use `with`)."""

    def __init__(self, bins: Path | None = None, start_timeout_s: float = 60.0) -> None:
        self.bins = bins or bin_dir()
        if self.bins is None:
            raise RuntimeError(f"PostgreSQL not found ({BIN_GLOB}): apt-get install -y postgresql")
        self.start_timeout_s = start_timeout_s
        self.user = _run_as()
        self.port = 0
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        if self.user is not None:  # drop root: its user, its group, no supplementary groups
            kwargs.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return subprocess.Popen(args, cwd=self.folder, **kwargs)

    def start(self) -> PostgresServer:
        self.folder = Path(tempfile.mkdtemp(prefix="noise-lab-pg-"))
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        data = self.folder / "data"
        initdb = self._popen([str(self.bins / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                              "-E", "UTF8", "--no-locale", "--no-sync"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = initdb.communicate(timeout=self.start_timeout_s)[0]
        if initdb.returncode != 0:
            self._cleanup()
            raise RuntimeError(f"initdb failed:\n{out}")
        for _ in range(3):  # a free port can be taken by someone else before the server binds it
            self.port = free_port()
            log = self.folder / "postgres.log"
            with log.open("w") as out_file:
                self.proc = self._popen(
                    [str(self.bins / "postgres"), "-D", str(data), "-p", str(self.port),
                     "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
                     "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                    stdout=out_file, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return self
            text = log.read_text(errors="replace")
            self._stop_process()
            if "could not bind" not in text and "already in use" not in text:
                self._cleanup()
                raise RuntimeError(f"PostgreSQL did not start:\n{text[-3000:]}")
        self._cleanup()
        raise RuntimeError("PostgreSQL did not start: no free port after 3 tries")

    def _wait_ready(self) -> bool:
        import psycopg

        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:  # not listening yet, or "the database system is starting up"
                time.sleep(0.1)
        return False

    def create_database(self) -> str:
        """A new empty database (db1, db2, ...); returns its url."""
        import psycopg

        name = f"db{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:  # CREATE DATABASE can't run in a transaction
            conn.execute(f"CREATE DATABASE {name}")  # our own name, not a value: identifiers can't be parameters
        return self.url(name)

    def _stop_process(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # "fast shutdown": ends sessions, stops cleanly
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _cleanup(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def stop(self) -> None:
        self._stop_process()
        self._cleanup()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
