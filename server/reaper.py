"""Free closed sessions on time, so a server's memory falls back after a class leaves.

When a tab closes, Streamlit (1.67) keeps its session for `server.disconnectedSessionTTL` seconds in
case the student reconnects. The store drops an expired session only when another one is written to
it, and when it does it never calls the session's `shutdown()`, so the images and downloads that
session last showed stay in the media store. After the last student leaves, nothing is freed.

`start()` runs one daemon thread per server process that, every few seconds, takes the expired
sessions out of that store, shuts each down (which releases its media files), collects garbage and
asks glibc to hand freed heap pages back to the system. It reaches into Streamlit's session manager;
if a later Streamlit moves those parts, `reap_once` finds nothing to do and the server runs as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
import time

_LOG = logging.getLogger(__name__)
PERIOD_S = 5.0


def _session_store(runtime):
    """(the TTL cache of disconnected sessions, the lock Streamlit holds when it writes to it), or None."""
    manager = getattr(runtime, "_session_mgr", None)
    storage = getattr(manager, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    lock = getattr(manager, "_storage_lock", None)
    if cache is None or lock is None or not hasattr(cache, "expire"):
        return None
    return cache, lock


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def _trim_heap() -> None:
    """Return free heap pages to the system (glibc only; elsewhere a no-op)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def reap_once(runtime) -> int:
    """Shut down every session whose reconnect time is over; returns how many were freed."""
    store = _session_store(runtime)
    if store is None:
        return 0
    cache, lock = store
    with lock:
        expired = cache.expire()
    for _, info in expired:
        try:
            info.session.shutdown()
        except Exception:  # a session that cannot shut down cleanly must not stop the reaper
            _LOG.exception("could not shut down expired session")
    if expired:
        gc.collect()
        _trim_heap()
    return len(expired)


def start(period_s: float = PERIOD_S) -> threading.Thread | None:
    """Start the reaper thread for this server; None where there is no server (AppTest, bare mode)."""
    from streamlit import runtime

    if not runtime.exists():
        return None
    rt = runtime.get_instance()
    if _session_store(rt) is None:
        _LOG.warning("Streamlit's session store was not found; closed sessions are freed lazily")
        return None
    def reap() -> None:
        try:
            reap_once(rt)
        except Exception:
            _LOG.exception("session reaper")

    def loop() -> None:
        # Streamlit stores and shuts down sessions on its event-loop thread; the reaper does too.
        while True:
            time.sleep(period_s)
            try:
                eventloop = rt._get_async_objs().eventloop
            except Exception:  # the server has not started its loop yet, or has stopped
                continue
            if not eventloop.is_closed():
                eventloop.call_soon_threadsafe(reap)

    thread = threading.Thread(target=loop, name="noise-lab-session-reaper", daemon=True)
    thread.start()
    return thread
