"""Run one slow function (loading or generating a data set) in a QThread and report back on the GUI thread."""
from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from designer import gui_gc

log = logging.getLogger(__name__)


class _Call(QObject):
    done = Signal(object)
    failed = Signal(object)   # the exception

    def __init__(self, fn):
        super().__init__()
        self._fn = fn

    @Slot()
    def run(self):
        try:
            result = self._fn()
        except Exception as exc:  # reported to the GUI, which shows the message
            log.debug("background call failed\n%s", traceback.format_exc())
            self.failed.emit(exc)
        else:
            self.done.emit(result)
        finally:
            self._fn = None
            # deleteLater() only works in a thread with a running event loop: return to the GUI thread
            self.moveToThread(QCoreApplication.instance().thread())


class BackgroundCall(QObject):
    """One function at a time in its own thread; `finished(result)` or `failed(exception)` afterwards.

    `busy` ends when the result is handed over, before the signal goes out, so a receiver may start the
    next call at once; the previous thread winds down on its own and is deleted when it has finished."""

    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._call = None
        self._threads = {}   # QThread -> its _Call, until the thread has finished

    @property
    def busy(self) -> bool:
        return self._call is not None

    def start(self, fn) -> None:
        if self.busy:
            raise RuntimeError("still working on the previous request")
        thread, call = QThread(), _Call(fn)
        call.moveToThread(thread)
        thread.started.connect(call.run)
        call.done.connect(self._done)
        call.failed.connect(self._failed)
        call.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)   # works while the GUI thread waits
        call.failed.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._release)
        self._threads[thread] = call
        self._call = call
        gui_gc.worker_started(thread, call)   # loads import big libraries: no collections in their thread
        thread.start()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every call has ended (window closing). The function cannot be interrupted, so no limit
        by default."""
        for thread in list(self._threads):
            ok = thread.wait() if timeout_ms < 0 else thread.wait(timeout_ms)
            if not ok:
                return False
        self._release()
        self._call = None
        return True

    @Slot(object)
    def _done(self, result):
        if self.sender() is self._call:
            self._call = None
        self.finished.emit(result)

    @Slot(object)
    def _failed(self, exc):
        if self.sender() is self._call:
            self._call = None
        self.failed.emit(exc)

    @Slot()
    def _release(self):
        for thread in [t for t in self._threads if t.isFinished()]:
            self._threads.pop(thread).deleteLater()
            thread.deleteLater()
            gui_gc.worker_ended()
