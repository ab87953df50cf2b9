"""Stop and pause a running fit() from another thread (the GUI), another process (the app's training
process) or a signal handler (the CLI)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


class TrainControl:
    """Flags that fit() checks between training steps; safe to use from any thread.

    stop() ends the run after the current step (a "last" checkpoint is written when the run has a run
    folder); pause() holds the run between steps until resume() or stop(). In a torchrun job every rank
    must stop at the same step, so the ranks vote at each progress report (every 1-50 steps, one
    all-reduce that fit() makes anyway for the metrics) instead of adding a collective to every step.

    The flags are threading.Event objects by default; `across_processes(context)` makes them
    multiprocessing events, so a control handed to a child process at its start steps the fit() running
    there (one control per child, `reset()` before each run).
    """

    def __init__(self, events=None):
        make = events or threading.Event
        self._stop, self._abort, self._running = make(), make(), make()   # _running set = not paused
        self._running.set()

    @classmethod
    def across_processes(cls, context: BaseContext) -> "TrainControl":
        """A control whose flags a child process of `context` (a multiprocessing context) shares."""
        return cls(events=context.Event)

    def reset(self) -> None:
        """Ready for the next run: not stopped, not aborted, not paused."""
        self._stop.clear()
        self._abort.clear()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can see the stop

    def abort(self) -> None:
        """Stop because the app is closing: like stop() (the "last" checkpoint is still written), but fit()
        skips the closing test-set evaluation so the run ends as soon as the current step does."""
        self._abort.set()
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
        return self._abort.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused, at most `timeout` seconds; True when the run may continue (not paused)."""
        return self._running.wait(timeout)
