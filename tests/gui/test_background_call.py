"""BackgroundCall: a receiver of the result may start the next call at once (the lessons panel does)."""
from __future__ import annotations

import threading
import time

from designer.training.background import BackgroundCall


def slow(value, delay=0.05):
    def fn():
        time.sleep(delay)
        return value
    return fn


def test_the_next_call_can_start_from_the_result_handler(qtbot):
    call = BackgroundCall()
    seen, busy_in_handler = [], []

    def on_result(value):
        busy_in_handler.append(call.busy)
        seen.append(value)
        if value == 1:
            call.start(slow(2))        # raised "still working" while the finished thread wound down

    call.finished.connect(on_result)
    call.start(slow(1))
    qtbot.waitUntil(lambda: seen == [1, 2], timeout=10000)
    assert busy_in_handler == [False, False]
    assert call.wait(5000) and not call.busy
    qtbot.waitUntil(lambda: not call._threads, timeout=5000)   # finished threads are released


def test_a_failure_also_ends_busy_before_it_is_reported(qtbot):
    call = BackgroundCall()
    busy_in_handler = []
    call.failed.connect(lambda exc: busy_in_handler.append((call.busy, str(exc))))

    def boom():
        raise ValueError("no such data set")

    call.start(boom)
    qtbot.waitUntil(lambda: bool(busy_in_handler), timeout=10000)
    assert busy_in_handler == [(False, "no such data set")]


def test_wait_blocks_until_the_thread_is_done(qtbot):
    call = BackgroundCall()
    release = threading.Event()
    call.start(lambda: release.wait(10) and "done")
    assert call.busy
    threading.Timer(0.1, release.set).start()
    assert call.wait()
    assert not call.busy and not call._threads
