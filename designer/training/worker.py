"""Run the engine's training generator in a QThread and hand its plain events to the GUI thread.

The worker lives in its own thread and only emits the frozen event dataclasses fit() yields (floats,
ints, strings, numpy arrays); queued signals carry them across. Pause and stop go through TrainControl,
which fit() checks between steps, so the GUI never waits on the training thread except at shutdown.
"""
from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from engine.training.control import TrainControl
from engine.training.events import (ActivationSnapshot, CheckpointSaved, EpochMetrics, Failed, Finished,
                                    Started, StepMetrics)

log = logging.getLogger(__name__)


class TrainingWorker(QObject):
    """Drives fit() from inside the worker thread. Constructed on the GUI thread, then moved."""

    event = Signal(object)
    done = Signal()

    def __init__(self, graph, data, config, control: TrainControl, run_dir=None, probe=None, resume=None):
        super().__init__()
        self._args = (graph, data, config)
        self._control = control
        self._run_dir = run_dir
        self._probe = probe
        self._resume = resume

    @Slot()
    def run(self) -> None:
        from engine.training.loop import fit

        graph, data, config = self._args
        try:
            for event in fit(graph, data, config, control=self._control, run_dir=self._run_dir, probe=self._probe,
                             resume=self._resume):
                self.event.emit(event)
        except Exception as exc:  # fit() reports known problems as Failed; this is the safety net
            log.exception("training crashed")
            self.event.emit(Failed(reason=f"Training stopped with an unexpected error: {exc}",
                                   detail=traceback.format_exc()))
        finally:
            # Drop the data set, probe and control: PySide may keep this wrapper after the object is deleted.
            self._args = self._probe = self._control = self._resume = None
            # Back to the GUI thread: deleteLater() on an object of a finished thread is never carried out,
            # so every run leaked its worker (and with it the probe image and the run's control).
            self.moveToThread(QCoreApplication.instance().thread())
            self.done.emit()


class TrainingController(QObject):
    """Starts, pauses, resumes and stops one training run at a time.

    Signals carry the engine's events, already sorted by type, on the GUI thread.
    """

    started = Signal(object)        # Started
    step = Signal(object)           # StepMetrics
    epoch = Signal(object)          # EpochMetrics
    snapshot = Signal(object)       # ActivationSnapshot
    checkpoint = Signal(object)     # CheckpointSaved
    finished = Signal(object)       # Finished
    failed = Signal(object)         # Failed
    running_changed = Signal(bool)
    paused_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._control: TrainControl | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused

    def start(self, graph, data, config, run_dir=None, probe=None, resume=None) -> None:
        """Begin a run on an immutable graph snapshot. Raises RuntimeError when one is already running."""
        if self.running:
            raise RuntimeError("a training run is already in progress; stop it first")
        self._control = TrainControl()
        thread = QThread()
        thread.setObjectName("training")
        worker = TrainingWorker(graph, data, config, self._control, run_dir, probe, resume)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self._dispatch)          # queued: worker lives in the other thread
        # Direct: quit from inside the worker thread, so the thread ends even while the GUI thread is
        # blocked in shutdown()'s wait() (a queued quit would never run then).
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self._control is not None and not self._control.stopped:
            self._control.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._control is not None:
            self._control.resume()
            self.paused_changed.emit(False)

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()
            self.paused_changed.emit(False)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the run and wait for its thread to end (window closing). True when it ended in time.

        If it did not, wait longer rather than destroy a running QThread, which would crash the app.
        """
        thread = self._thread
        if thread is None:
            return True
        self._control.abort()   # no closing test-set evaluation: nobody will see it
        self.stop()
        ended = thread.wait(timeout_ms)
        if not ended:
            log.warning("training thread did not stop within %d ms; waiting for it", timeout_ms)
            thread.wait()
        self._release(thread)
        return ended

    @Slot(object)
    def _dispatch(self, event) -> None:
        signal = {Started: self.started, StepMetrics: self.step, EpochMetrics: self.epoch,
                  ActivationSnapshot: self.snapshot, CheckpointSaved: self.checkpoint,
                  Finished: self.finished, Failed: self.failed}.get(type(event))
        if signal is not None:
            signal.emit(event)

    @Slot()
    def _thread_finished(self) -> None:
        self._release(self.sender())

    def _release(self, thread) -> None:
        if thread is None or thread is not self._thread:
            return  # an earlier run's thread, already released by shutdown()
        worker = self._worker
        self._thread = self._worker = None
        self._control = None
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()
        self.running_changed.emit(False)
