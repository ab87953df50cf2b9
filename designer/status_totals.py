"""Permanent status-bar fields: parameters, MACs, activation memory and the number of errors."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from engine.summary import human_bytes, human_count


class StatusTotals(QObject):
    def __init__(self, status_bar, document, parent=None):
        super().__init__(parent)
        self.params = QLabel()
        self.macs = QLabel()
        self.memory = QLabel()
        self.errors = QLabel()
        for label, tip in ((self.params, "Trainable and fixed parameters of the whole network"),
                           (self.macs, "Multiply-accumulate operations for one image"),
                           (self.memory, "Memory for the activations of one image (float32)"),
                           (self.errors, "Problems in the design; see the Messages panel")):
            label.setToolTip(tip)
            status_bar.addPermanentWidget(label)
        document.analysis_changed.connect(self.refresh)
        self.refresh(document.analysis)

    def refresh(self, analysis) -> None:
        self.params.setText(f"Parameters: {human_count(analysis.total_params)}")
        self.macs.setText(f"MACs: {human_count(analysis.total_macs)}")
        self.memory.setText(f"Activations: {human_bytes(analysis.total_memory)}")
        n, w = len(analysis.mistakes), len(analysis.warnings)
        text = "No errors" if not n else f"{n} error{'s' if n != 1 else ''}"
        if not n and analysis.errors:   # only steps still to take: a hint, not an alarm
            text = "Not finished: see Messages"
        if w:
            text += f", {w} warning{'s' if w != 1 else ''}"
        self.errors.setText(text)
        self.errors.setStyleSheet("color: #d43b3b; font-weight: 600;" if n else "")
