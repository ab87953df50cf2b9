"""Start / Pause / Stop, the progress bar with epoch, step, speed and time left, device and memory."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from engine.insight.memory import human_bytes


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
        self.start_button = QPushButton("▶ Start")
        self.start_button.setToolTip("Train the design on the chosen data set (F5)")
        self.pause_button = QPushButton("⏸ Pause")
        self.stop_button = QPushButton("⏹ Stop")
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
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("▶ Resume" if paused else "⏸ Pause")

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def show_device(self, device_text: str, memory=None) -> None:
        mem = ""
        if memory is not None:
            mem = (f"<br>Estimated memory: <b>{human_bytes(memory.total)}</b> (weights and optimizer "
                   f"{human_bytes(memory.weights)}, activations per batch {human_bytes(memory.activations)}, "
                   f"data {human_bytes(memory.data)})")
        self.device.setText(f"Device: <b>{device_text}</b>{mem}")

    def show_step(self, m) -> None:
        """m: StepMetrics."""
        self.progress.setMaximum(max(1, m.total_steps))
        self.progress.setValue(m.step)
        in_epoch = (m.step - 1) % max(1, m.steps_per_epoch) + 1
        self.stats.setText(f"Epoch {m.epoch + 1} · step {in_epoch}/{m.steps_per_epoch} ({m.step}/{m.total_steps})"
                           f" · {m.samples_per_sec:,.0f} images/s · {duration(m.eta)} left"
                           f" · loss {m.loss:.3f} · accuracy {m.accuracy:.1%}")
