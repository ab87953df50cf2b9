"""Python's garbage collector runs on the GUI thread while our worker threads run Python code.

Qt objects without a Qt parent (canvas items of a replaced design, menus, models, pixmaps of a closed
window) are destroyed when their Python wrapper is freed. A wrapper caught in a reference cycle is freed by
the cyclic garbage collector, and CPython runs an automatic collection in whichever thread happens to
allocate when a threshold is crossed. A data-set load that imports scikit-learn and SciPy in a worker
thread runs hundreds of collections (three full ones), so Qt objects that belong to the GUI thread were
destroyed in the worker while the GUI thread painted (tests/gui/test_gc_thread.py shows the canvas items
of a design replaced during a load dying there). Qt's item and widget bookkeeping is not thread-safe, and
a QThread in such garbage whose thread has not ended makes Qt abort the whole process ("QThread: Destroyed
while thread is still running", reproduced under gdb from a collection in a load's thread): the "Fatal
Python error: Aborted" of a test run, with a worker importing scikit-learn.

So while at least one of our worker threads runs, automatic collection is off and a timer on the GUI
thread collects the young generations with CPython's own thresholds; when the last worker has ended,
automatic collection is restored (with the full collections it decides on). Every function here is called
on the GUI thread.
"""
from __future__ import annotations

import gc

import shiboken6
from PySide6.QtCore import QCoreApplication, QThread, QTimer

INTERVAL_MS = 100   # how often the GUI thread checks whether a collection is due

# The QThreads of ours that may still run Python code -> the object whose slot runs in it. Holding them
# here also means their Python wrappers (which own the C++ objects) are let go only on the GUI thread once
# the thread has finished, even when whatever started them is gone: a QThread destroyed while its thread
# runs aborts the process, and a worker object deleted under its running slot crashes it.
_threads: dict = {}
_was_enabled = True
_timer: QTimer | None = None


def worker_started(thread: QThread, worker=None) -> None:
    """`thread` is about to run Python code of ours (`worker`'s slot): from now on until it has finished
    only the GUI thread collects."""
    global _was_enabled, _timer
    if not _threads:
        _was_enabled = gc.isenabled()
        gc.disable()
        if _timer is None:
            _timer = QTimer(QCoreApplication.instance())   # lives on the GUI thread, as long as the app
            _timer.setInterval(INTERVAL_MS)
            _timer.timeout.connect(_tick)
        _timer.start()
    _threads[thread] = worker


def worker_ended() -> None:
    """A thread given to worker_started() has finished (its `finished` signal arrived): forget the finished
    ones now rather than at the next tick, so automatic collection is back at once when none is left."""
    _forget_finished()


def workers_running() -> int:
    return len(_threads)


def _tick() -> None:
    collect_if_due()
    _forget_finished()   # also catches threads whose owner was deleted before it could call worker_ended


def _forget_finished() -> None:
    for thread in list(_threads):
        # isFinished() is already true while Qt winds the thread down, after its last Python code ran
        if not shiboken6.isValid(thread) or thread.isFinished():
            del _threads[thread]
    if _threads or _timer is None or not _timer.isActive():
        return
    _timer.stop()
    collect_if_due()   # what the workers left behind goes here, not in the next thread that allocates
    if _was_enabled:
        gc.enable()


def collect_if_due() -> int:
    """Collect the young generations when CPython would (the number of unreachable objects found, 0 when
    no collection was due).

    The oldest generation is left to CPython once automatic collection is back: it applies a rule we cannot
    see from Python (only when the objects promoted since the last full collection reach a quarter of the
    old ones), and a full collection in a window with PyTorch loaded takes a noticeable fraction of a
    second, too long to run every few seconds on the GUI thread during a training run."""
    first, second, _ = gc.get_threshold()
    if first == 0:   # gc.set_threshold(0) switches automatic collection off: respect that
        return 0
    young, middle, _ = gc.get_count()
    if young <= first:
        return 0
    return gc.collect(1) if middle > second else gc.collect(0)
