"""Start / Pause / Stop, the progress bar with epoch, step, speed and time left, device and memory."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QStyle, QVBoxLayout, QWidget

from designer.plain_text import plain_label
from engine.insight.memory import human_bytes

PROGRESS_REFRESH_MS = 250  # the progress text changes a few times a second, not on every report


def duration(seconds: float) -> str:
    if seconds != seconds or seconds < 0:  # nan
        return "—"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ControlPanel(QWidget):
    start_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        # Standard style icons: the ⏸/⏹ characters are missing from many fonts and show as boxes.
        style = self.style()
        self._icons = {name: style.standardIcon(getattr(QStyle.StandardPixmap, name))
                       for name in ("SP_MediaPlay", "SP_MediaPause", "SP_MediaStop")}
        self.start_button = QPushButton(self._icons["SP_MediaPlay"], "Start")
        self.start_button.setToolTip("Train the design on the chosen data set (F5)")
        self.pause_button = QPushButton(self._icons["SP_MediaPause"], "Pause")
        self.pause_button.setToolTip("Freeze the run after the current step (F6); press again to resume")
        self.stop_button = QPushButton(self._icons["SP_MediaStop"], "Stop")
        self.stop_button.setToolTip("End the run after the current step and keep its weights (Shift+F5)")
        self.start_button.clicked.connect(self.start_clicked)
        self.pause_button.clicked.connect(self.pause_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.stats = QLabel("Not training.")
        self.stats.setWordWrap(True)
        self.device = QLabel()
        self.device.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("trainingMessage")
        plain_label(self.message)   # it quotes run names and failure reasons
        self._memory = None
        self._pending_step = None
        self._step_timer = QTimer(self, singleShot=True, interval=PROGRESS_REFRESH_MS)
        self._step_timer.timeout.connect(self.flush)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.stats)
        layout.addWidget(self.device)
        layout.addWidget(self.message)
        self.set_running(False)

    def set_running(self, running: bool, paused: bool = False) -> None:
        if running and self.start_button.isEnabled():   # a new run: the labels fit its text afresh
            self._release_heights()
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(self._icons["SP_MediaPlay" if paused else "SP_MediaPause"])

    def clear_status(self) -> None:
        """Another design is open: no progress, step line or message of a previous run stays."""
        self._pending_step = None
        self._step_timer.stop()
        self.progress.setValue(0)
        self.stats.setText("Not training.")
        self.show_message("")
        self._release_heights()

    def _release_heights(self) -> None:
        for label in (self.stats, self.device, self.message):
            label.setMinimumHeight(0)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)
        _hold_height(self.message)

    def show_device(self, device_text: str, memory=None, keep_memory: bool = False) -> None:
        """The device line and, when given (or kept from before), the training memory estimate."""
        if keep_memory:
            memory = self._memory
        self._memory = memory
        mem = ""
        if memory is not None:
            mem = (f"<br>Estimated memory: <b>{human_bytes(memory.total)}</b> (weights and optimizer "
                   f"{human_bytes(memory.weights)}, activations per batch {human_bytes(memory.activations)}, "
                   f"data {human_bytes(memory.data)})")
        self.device.setText(f"Device: <b>{device_text}</b>{mem}")
        _hold_height(self.device)

    def show_step(self, m) -> None:
        """m: StepMetrics. Shown within PROGRESS_REFRESH_MS (each update relays out the wrapped labels)."""
        self._pending_step = m
        if not self._step_timer.isActive():
            self._step_timer.start()

    def flush(self) -> None:
        """Show the newest step now (end of a run, pause)."""
        m, self._pending_step = self._pending_step, None
        if m is None:
            return
        self.progress.setMaximum(max(1, m.total_steps))
        self.progress.setValue(m.step)
        in_epoch = (m.step - 1) % max(1, m.steps_per_epoch) + 1
        self.stats.setText(f"Epoch {m.epoch + 1} · step {in_epoch}/{m.steps_per_epoch} ({m.step}/{m.total_steps})"
                           f" · {m.samples_per_sec:,.0f} images/s · {duration(m.eta)} left"
                           f" · loss {m.loss:.3f} · accuracy {m.accuracy:.1%}")
        _hold_height(self.stats)


def _hold_height(label: QLabel) -> None:
    """Let a wrapped label grow but not shrink while a run goes on. Its line count changed with the width
    of the numbers in it, and each change laid out the whole training panel again and repainted it."""
    if label.width() > 0 and label.text():
        need = label.heightForWidth(label.width())
        if need > label.minimumHeight():
            label.setMinimumHeight(need)
