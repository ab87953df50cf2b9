"""One editor widget per ParamSpec type. Each editor calls `commit(value)` with a candidate value and
shows refusals in place; `set_value` updates it from the document without emitting anything."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QToolButton, QWidget

INT_LIMIT = 2_147_483_647


def _spin(spec) -> QSpinBox:
    box = QSpinBox()
    box.setRange(int(spec.minimum) if spec.minimum is not None else -INT_LIMIT,
                 int(spec.maximum) if spec.maximum is not None else INT_LIMIT)
    box.setKeyboardTracking(True)   # shapes follow every keystroke
    box.setAccelerated(True)
    box.setToolTip(spec.help + _bounds_text(spec))
    return box


def _bounds_text(spec) -> str:
    if spec.minimum is not None and spec.maximum is not None:
        return f" (from {_num(spec.minimum)} to {_num(spec.maximum)})"
    if spec.minimum is not None:
        return f" (at least {_num(spec.minimum)})"
    return ""


def _num(v):
    return int(v) if float(v).is_integer() else v


class ParamEditor(QWidget):
    """Base: `committed(value)` when the user changes the value; `finished()` when an edit session ends."""
    committed = Signal(object)
    finished = Signal()

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)

    def set_value(self, value) -> None:
        raise NotImplementedError


class IntEditor(ParamEditor):
    def __init__(self, spec):
        super().__init__(spec)
        self.box = _spin(spec)
        self._layout.addWidget(self.box)
        self.box.valueChanged.connect(self.committed.emit)
        self.box.editingFinished.connect(self.finished.emit)

    def set_value(self, value):
        if self.box.value() != value:
            self.box.blockSignals(True)
            self.box.setValue(int(value))
            self.box.blockSignals(False)


class FloatEditor(ParamEditor):
    """A text field: accepts any number the schema allows, and says in place why anything else is refused."""
    refused = Signal(str)

    def __init__(self, spec):
        super().__init__(spec)
        self.edit = QLineEdit()
        self.edit.setToolTip(spec.help + _bounds_text(spec))
        self._layout.addWidget(self.edit)
        self.edit.textEdited.connect(self._edited)
        self.edit.editingFinished.connect(self._finished)
        self._value = None

    def _edited(self, text):
        try:
            value = self.spec.coerce(float(text.strip()))
        except ValueError as exc:
            message = str(exc) if "could not convert" not in str(exc) else f"{self.spec.name} must be a number"
            self._mark(message)
            return
        self._mark("")
        self._value = value
        self.committed.emit(value)

    def _finished(self):
        self.set_value(self._value, force=True)  # a refused entry goes back to the value in use
        self._mark("")
        self.finished.emit()

    def _mark(self, message):
        self.edit.setProperty("invalid", bool(message))
        self.edit.style().unpolish(self.edit)
        self.edit.style().polish(self.edit)
        self.refused.emit(message)

    def set_value(self, value, force=False):
        if value is None:
            return
        if force or self._value != value or not self.edit.hasFocus():
            self._value = value
            if not self.edit.hasFocus() or force:
                self.edit.setText(f"{value:g}")


class BoolEditor(ParamEditor):
    def __init__(self, spec):
        super().__init__(spec)
        self.box = QCheckBox()
        self.box.setToolTip(spec.help)
        self._layout.addWidget(self.box)
        self.box.toggled.connect(self.committed.emit)

    def set_value(self, value):
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, spec):
        super().__init__(spec)
        self.box = QComboBox()
        self.box.addItems([str(c) for c in spec.choices])
        self.box.setToolTip(spec.help)
        self._layout.addWidget(self.box)
        self.box.currentIndexChanged.connect(lambda i: self.committed.emit(self.spec.choices[i]))

    def set_value(self, value):
        self.box.blockSignals(True)
        self.box.setCurrentIndex(list(self.spec.choices).index(value) if value in self.spec.choices else 0)
        self.box.blockSignals(False)


class PairEditor(ParamEditor):
    """Height × width; 'padding' kinds add a 'same' choice that disables the numbers.

    A 'square' toggle links the two numbers, so typing 5 into either makes a 5×5 kernel in one edit (one
    undo step). It starts on when the pair shown first is square, and goes off when the pair stops being."""

    def __init__(self, spec):
        super().__init__(spec)
        self.mode = None
        if spec.kind == "padding":
            self.mode = QComboBox()
            self.mode.addItems(["explicit", "same"])
            self.mode.setToolTip("'same' keeps height and width (stride 1 only)")
            self._layout.addWidget(self.mode)
            self.mode.currentIndexChanged.connect(self._emit)
        self.h, self.w = _spin(spec), _spin(spec)
        self.h.setToolTip("Height: " + self.h.toolTip())
        self.w.setToolTip("Width: " + self.w.toolTip())
        times = QLabel("×")
        times.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.square = QToolButton()
        self.square.setObjectName("square_link")
        self.square.setText("=")
        self.square.setCheckable(True)
        self.square.setToolTip("Square: keep height and width equal, so one number sets both")
        for widget in (self.h, times, self.w, self.square):
            self._layout.addWidget(widget)
        self._shown_once = False
        self.h.valueChanged.connect(lambda v: self._follow(self.w, v))
        self.w.valueChanged.connect(lambda v: self._follow(self.h, v))
        self.square.toggled.connect(lambda on: on and self._follow(self.w, self.h.value()))
        for box in (self.h, self.w):
            box.editingFinished.connect(self.finished.emit)

    def _follow(self, other, value) -> None:
        """One number changed: with the link on, the other takes the same value before the pair is sent."""
        if self.square.isChecked() and other.value() != value:
            other.blockSignals(True)
            other.setValue(value)
            other.blockSignals(False)
        self._emit()

    def _emit(self, *_):
        same = self.mode is not None and self.mode.currentText() == "same"
        self.h.setEnabled(not same)
        self.w.setEnabled(not same)
        self.square.setEnabled(not same)
        self.committed.emit("same" if same else (self.h.value(), self.w.value()))

    def set_value(self, value):
        widgets = [self.h, self.w] + ([self.mode] if self.mode is not None else [])
        for widget in widgets:
            widget.blockSignals(True)
        same = value == "same"
        if self.mode is not None:
            self.mode.setCurrentIndex(1 if same else 0)
        if not same:
            self.h.setValue(int(value[0]))
            self.w.setValue(int(value[1]))
            square = int(value[0]) == int(value[1])
            if not self._shown_once or not square:   # the user's choice stands while the pair stays square
                self.square.blockSignals(True)
                self.square.setChecked(square)
                self.square.blockSignals(False)
            self._shown_once = True
        self.h.setEnabled(not same)
        self.w.setEnabled(not same)
        self.square.setEnabled(not same)
        for widget in widgets:
            widget.blockSignals(False)


class ReadOnlyEditor(ParamEditor):
    """Text and shapes an import recorded (an Unsupported node's operation, module path, reason and shape):
    shown as plain text, selectable, never edited, so the placeholder keeps saying what it stands for."""

    def __init__(self, spec):
        super().__init__(spec)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)   # names from a user's model file
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setToolTip(spec.help)
        self._layout.addWidget(self.label, 1)

    def set_value(self, value):
        if self.spec.kind == "shape":
            value = "×".join(str(v) for v in value)
        self.label.setText(str(value) or "—")


EDITORS = {"int": IntEditor, "float": FloatEditor, "bool": BoolEditor, "choice": ChoiceEditor,
           "pair": PairEditor, "padding": PairEditor, "text": ReadOnlyEditor, "shape": ReadOnlyEditor}


def make_editor(spec) -> ParamEditor:
    return EDITORS[spec.kind](spec)
