"""Live training runs share a fixed number of slots per server: the rest wait their turn, and a
waiting or stopped session never keeps a slot."""

from __future__ import annotations

import threading
import time

import pytest

from devtools import run_page_file
from explainers.device import Slots, training_slots_wanted


def test_slots_admit_at_most_n_holders_and_count_the_waiting():
    slots = Slots(2)
    assert slots.acquire(0) and slots.acquire(0)
    assert not slots.acquire(0.05)  # both taken: a third holder is refused after its timeout
    assert slots.waiting == 0  # it stopped waiting when it gave up

    got = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire(5)))
    waiter.start()
    deadline = time.time() + 5
    while slots.waiting != 1 and time.time() < deadline:
        time.sleep(0.01)
    assert slots.waiting == 1 and not got
    slots.release()
    waiter.join(5)
    assert got == [True] and slots.waiting == 0
    slots.release()
    slots.release()
    with pytest.raises(ValueError):
        slots.release()  # bounded: releasing more than was taken is a bug, not a silent extra slot


def test_a_waiter_counts_itself_and_the_line_is_first_come_first_served():
    slots = Slots(1)
    assert slots.acquire(0)  # another session trains
    first, second = slots.join(), slots.join()
    # Between its polls a waiter is still in line: a second tab must read "2 of 2", never "0 waiting".
    assert (first.position, second.position, slots.waiting) == (1, 2, 2)
    slots.release()
    assert not second.take(0.05)  # a free slot goes to the first in line, not to whoever polls first
    assert first.take(0) and (first.position, second.position, slots.waiting) == (0, 1, 1)
    first.leave()  # leaving after taking a slot is harmless
    slots.release()
    assert second.take(0) and slots.waiting == 0
    slots.release()
    gave_up = slots.join()
    gave_up.leave()
    assert gave_up.position == 0 and slots.waiting == 0 and slots.acquire(0)


@pytest.mark.parametrize("raw, expected, noticed", [
    ("3", 3, False), ("1", 1, False), ("0", None, True), ("65", None, True), ("two", None, True), ("", None, True),
])
def test_slot_count_from_the_environment(monkeypatch, raw, expected, noticed):
    monkeypatch.setenv("NOISE_LAB_TRAIN_SLOTS", raw)
    n, note = training_slots_wanted()
    if noticed:
        assert "NOISE_LAB_TRAIN_SLOTS" in note and "[1, 64]" in note and n >= 1
    else:
        assert (n, note) == (expected, None)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 64\]"):
        Slots(0)


def test_a_run_waits_while_another_session_holds_the_only_slot(monkeypatch):
    from server.slots import training_slots

    at = run_page_file("spectral_norm", {"train_steps": "100"})
    slots, _ = training_slots()  # the process-wide slots the page uses (cached resource)
    taken = [slots.acquire(0) for _ in range(slots.n)]
    assert all(taken)
    release_after = 1.5
    timer = threading.Timer(release_after, lambda: [slots.release() for _ in range(slots.n)])
    timer.start()
    start = time.perf_counter()
    next(b for b in at.button if b.label == "Train").click().run()
    waited = time.perf_counter() - start
    timer.join()
    assert not at.exception, [e.value for e in at.exception]
    assert waited >= release_after  # it did not start before a slot came free
    assert at.dataframe[0].value["steps"][0] == 100  # and then it ran the whole way
    assert slots.acquire(0)  # and gave its slot back
    slots.release()
