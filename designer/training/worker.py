"""Run training off the GUI thread and hand its plain events to the GUI thread.

By default fit() runs in a warm child process (engine.training.process): there PyTorch trains at the
command line's speed, where a worker thread of the GUI process reaches about half of it. A QThread in
this process relays the child's events; `CNN_DESIGNER_TRAINING=thread` trains in that thread instead.
Either way only the frozen event dataclasses fit() yields (floats, ints, strings, numpy arrays) cross to
the GUI thread, through queued signals. Pause and stop go through a TrainControl, which fit() checks
between steps, so the GUI never waits on training except at shutdown.
"""
from __future__ import annotations

import logging
import os
import traceback

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot

from designer import gui_gc
from engine.training.control import TrainControl
from engine.training.events import (ActivationSnapshot, CheckpointSaved, EpochMetrics, Failed, Finished,
                                    Started, StepMetrics)

log = logging.getLogger(__name__)
BACKENDS = ("process", "thread")


def default_backend() -> str:
    """Where runs train: "process" (a child process, full speed) unless CNN_DESIGNER_TRAINING says "thread"."""
    chosen = os.environ.get("CNN_DESIGNER_TRAINING", "process").strip().lower()
    return chosen if chosen in BACKENDS else "process"


class TrainingWorker(QObject):
    """Drives one run's event source from inside the worker thread. Constructed on the GUI thread, then moved.

    `events` is called in the worker thread and returns an iterator of the engine's events: fit() itself
    (training in this process) or a TrainingProcess's run() (training in the child process).
    """

    event = Signal(object)
    done = Signal()

    def __init__(self, events):
        super().__init__()
        self._events = events

    @Slot()
    def run(self) -> None:
        try:
            for event in self._events():
                self.event.emit(event)
        except Exception as exc:  # the sources report known problems as Failed; this is the safety net
            log.exception("training crashed")
            self.event.emit(Failed(reason=f"Training stopped with an unexpected error: {exc}",
                                   detail=traceback.format_exc()))
        finally:
            # Drop the data set, probe and control: PySide may keep this wrapper after the object is deleted.
            self._events = None
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

    def __init__(self, parent=None, backend: str | None = None):
        super().__init__(parent)
        self.backend = backend or default_backend()
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._control: TrainControl | None = None
        self._process = None                   # the child process of the current run (process backend)
        if self.backend == "process":
            QTimer.singleShot(0, self.warm_up)   # after the window is up: the child imports torch meanwhile

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused

    @property
    def process_id(self) -> int | None:
        """The training child's process id while a run uses one."""
        return self._process.pid if self._process is not None else None

    def warm_up(self) -> None:
        """Have a training process ready before Start (process backend; a no-op otherwise).

        Not while this controller's run is going: a start-up timer that fires after an early Start would
        otherwise load a second, surplus process beside the busy one."""
        if self.backend == "process" and not self.running:
            from engine.training import process
            try:
                process.warm_up()
            except (OSError, RuntimeError) as exc:   # no child processes here: train in a thread instead
                log.warning("cannot start a training process (%s); training in a thread", exc)
                self.backend = "thread"

    def start(self, graph, data, config, run_dir=None, probe=None, resume=None) -> None:
        """Begin a run on an immutable graph snapshot. Raises RuntimeError when one is already running."""
        if self.running:
            raise RuntimeError("a training run is already in progress; stop it first")
        events = self._process_events(graph, data, config, run_dir, probe, resume) \
            if self.backend == "process" else None
        if events is None:
            control = self._control = TrainControl()

            def events():
                from engine.training.loop import fit
                return fit(graph, data, config, control=control, run_dir=run_dir, probe=probe, resume=resume)
        thread = QThread()
        thread.setObjectName("training")
        worker = TrainingWorker(events)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self._dispatch)          # queued: worker lives in the other thread
        # Direct: quit from inside the worker thread, so the thread ends even while the GUI thread is
        # blocked in shutdown()'s wait() (a queued quit would never run then).
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._thread_finished)
        self._thread, self._worker = thread, worker
        gui_gc.worker_started(thread, worker)   # a run allocates all the time: collect on the GUI thread
        thread.start()
        self.running_changed.emit(True)

    def _process_events(self, graph, data, config, run_dir, probe, resume):
        """The event source of a run in a training process, or None (with the backend switched to "thread")
        when no process can be started on this system."""
        from engine.training import process
        try:
            proc = process.acquire()
        except (OSError, RuntimeError) as exc:
            log.warning("cannot start a training process (%s); training in a thread", exc)
            self.backend = "thread"
            return None
        self._process, self._control = proc, proc.control
        return lambda: proc.run(graph, data, config, run_dir=run_dir, probe=probe, resume=resume)

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
        if not ended and self._process is not None:
            # A step that does not end (a stuck kernel, a huge batch): end the child; the relay then ends too.
            log.warning("training process did not stop within %d ms; ending it", timeout_ms)
            self._process.kill()
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
        worker, proc = self._worker, self._process
        self._thread = self._worker = self._process = None
        self._control = None
        if proc is not None:
            from engine.training import process
            process.release(proc)            # kept warm for the next run, or ended if it broke
            if proc.broken:
                QTimer.singleShot(0, self.warm_up)
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()
        gui_gc.worker_ended()
        self.running_changed.emit(False)
