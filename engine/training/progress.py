"""A one-line live progress bar for `cnn-designer train` (no third-party progress library)."""
from __future__ import annotations

import sys
import time

from engine.training.events import EpochMetrics, Event, Started, StepMetrics

WIDTH = 24


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Redraws one line on a terminal; on a pipe or log file it prints a line every few seconds."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.quiet = quiet
        self.epochs = 1
        self._last_print = 0.0

    def show(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, Started):
            self._line(f"training on {event.device_name}: {event.train_size} train / {event.val_size} val / "
                       f"{event.test_size} test images, {event.parameters:,} weights, {event.total_steps} steps"
                       + (f" on {event.world_size} processes" if event.world_size > 1 else ""), end=True)
        elif isinstance(event, StepMetrics):
            done = event.step / max(event.total_steps, 1)
            bar = "#" * int(done * WIDTH) + "." * (WIDTH - int(done * WIDTH))
            text = (f"epoch {event.epoch + 1} [{bar}] {done:4.0%}  loss {event.loss:.4f}  acc {event.accuracy:6.1%}  "
                    f"{event.samples_per_sec:,.0f} img/s  ETA {_clock(event.eta)}")
            if self.live:
                self._line(text)
            elif time.monotonic() - self._last_print > 5:
                self._line(text, end=True)
        elif isinstance(event, EpochMetrics):
            val = (f"  val loss {event.val_loss:.4f}  val acc {event.val_accuracy:.1%}"
                   if event.val_loss == event.val_loss else "")
            self._line(f"epoch {event.epoch + 1}/{event.epochs}  loss {event.train_loss:.4f}  "
                       f"acc {event.train_accuracy:.1%}{val}  ({_clock(event.elapsed)})", end=True)

    def message(self, text: str) -> None:
        if not self.quiet:
            self._line(text, end=True)

    def _line(self, text: str, end: bool = False) -> None:
        self._last_print = time.monotonic()
        if self.live:
            self.stream.write("\r\033[K" + text + ("\n" if end else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
