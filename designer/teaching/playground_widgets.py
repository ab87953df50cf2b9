"""Small building blocks shared by the playground's tabs: titled columns, spin boxes, message labels."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QSpinBox, QVBoxLayout, QWidget

from designer.theme import colors

# Said once where stepping starts: cells are numbered like tensor indices and the feature-map tiles.
ZERO_BASED = " Rows and columns are counted from 0, as in PyTorch."


def titled(title: QLabel | str, widget: QWidget, stretch: int = 1) -> QWidget:
    """`widget` under a bold title (a QLabel the caller may keep to change its text)."""
    box = QWidget()
    label = title if isinstance(title, QLabel) else QLabel(title)
    label.setStyleSheet("font-weight: 600;")
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter)  # the grids and images are centred under it
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(label)
    layout.addWidget(widget, stretch)
    return box


def spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def float_spin(lo: float, hi: float, value: float, tip: str, step: float = 1.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(2)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def side_note(text: str, width: int = 250) -> "MessageLabel":
    """An explanation shown beside the grids (rather than under them, where it would take their height)."""
    note = MessageLabel(text)
    note.setFixedWidth(width)
    note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return note


class MessageLabel(QLabel):
    """A wrapped line of text that turns into an error (theme's error colour) when told so."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.is_error = False

    def show_text(self, text: str, error: bool = False) -> None:
        self.is_error = error
        self.setStyleSheet(f"color: {colors().error_border.name()};" if error else "")
        self.setText(text)
