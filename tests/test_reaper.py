"""The session reaper frees closed sessions once their reconnect time is over, with no other session
arriving to trigger Streamlit's own lazy expiry. It is driven against Streamlit's real session store, so
a Streamlit upgrade that moves the parts it relies on fails here rather than silently in a classroom."""

import threading
from types import SimpleNamespace

from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from server import reaper


class _Session:
    def __init__(self, sid: str):
        self.id = sid
        self.shut_down = 0

    def shutdown(self):
        self.shut_down += 1


class _BrokenSession(_Session):
    def shutdown(self):
        raise RuntimeError("cannot shut down")


class _Clock:
    """The store's clock, moved by the test: a session's reconnect time is over when the test says so,
    not after a sleep that a busy machine may stretch past the next check."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _runtime(ttl_s: float):
    storage = MemorySessionStorage(ttl_seconds=ttl_s)
    clock = _Clock()
    storage._cache._timer = clock  # Streamlit's own TTL cache, on our clock
    assert storage._cache.timer() == clock.now, "Streamlit's session store no longer takes its clock this way"
    return SimpleNamespace(_session_mgr=SimpleNamespace(_session_storage=storage, _storage_lock=threading.Lock()),
                           clock=clock)


def test_expired_sessions_are_shut_down_and_removed_fresh_ones_kept():
    rt = _runtime(ttl_s=0.2)
    storage = rt._session_mgr._session_storage
    old = [_Session(f"old{i}") for i in range(3)]
    for s in old:
        storage.save(SessionInfo(client=None, session=s))
    assert reaper.reap_once(rt) == 0 and [s.shut_down for s in old] == [0, 0, 0]  # reconnect time not over
    rt.clock.now += 0.3
    assert reaper.reap_once(rt) == 3
    assert [s.shut_down for s in old] == [1, 1, 1]
    assert storage.list() == []
    fresh = _Session("fresh")
    storage.save(SessionInfo(client=None, session=fresh))
    assert reaper.reap_once(rt) == 0
    assert fresh.shut_down == 0 and [i.session for i in storage.list()] == [fresh]


def test_a_session_that_fails_to_shut_down_does_not_stop_the_others():
    rt = _runtime(ttl_s=0.05)
    storage = rt._session_mgr._session_storage
    bad, good = _BrokenSession("bad"), _Session("good")
    storage.save(SessionInfo(client=None, session=bad))
    storage.save(SessionInfo(client=None, session=good))
    rt.clock.now += 0.1
    assert reaper.reap_once(rt) == 2 and good.shut_down == 1 and storage.list() == []


def test_unknown_runtime_layout_means_nothing_to_do():
    assert reaper.reap_once(SimpleNamespace()) == 0
    assert reaper.start() is None  # no server running in a test process
