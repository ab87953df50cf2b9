"""Stop and pause a running fit() from another thread (the GUI) or a signal handler (the CLI)."""
from __future__ import annotations

import threading


class TrainControl:
    """Thread-safe flags that fit() checks between training steps.

    stop() ends the run after the current step (a "last" checkpoint is written when the run has a run
    folder); pause() holds the run between steps until resume() or stop(). In a torchrun job every rank
    must stop at the same step, so the ranks vote at each progress report (every 1-50 steps, one
    all-reduce that fit() makes anyway for the metrics) instead of adding a collective to every step.
    """

    def __init__(self):
        self._stop = threading.Event()
        self._abort = False
        self._running = threading.Event()  # set = not paused
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can see the stop

    def abort(self) -> None:
        """Stop because the app is closing: like stop() (the "last" checkpoint is still written), but fit()
        skips the closing test-set evaluation so the run ends as soon as the current step does."""
        self._abort = True
        self.stop()

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def aborted(self) -> bool:
        return self._abort

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused, at most `timeout` seconds; True when the run may continue (not paused)."""
        return self._running.wait(timeout)
