"""One checklist row: a tick mark the app sets (never the student), the step's text, its hint, and for
prediction steps an answer box with a Check button."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSizePolicy)

from engine.teaching.lesson_markup import inline_html

# Palette roles only, so both themes look right.
CURRENT_STYLE = ("QFrame#lesson_step_current { border: 1px solid palette(highlight); border-radius: 5px; "
                 "background: palette(alternate-base); }")


def wrapping_label(html: str = "", muted: bool = False) -> QLabel:
    label = QLabel(html)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    if muted:   # the theme's placeholder colour: readable, but quieter than the text around it
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
        label.setPalette(palette)
    return label


class TickMark(QLabel):
    """The tick of a step: set by the app only (a label, so there is nothing to click). Drawn with the
    theme's colours, and redrawn when the theme changes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.done = False
        self.setFixedWidth(20)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.setToolTip("Ticked by the app when you have done this step")
        self._render()

    def set_done(self, done: bool) -> None:
        if done != self.done:
            self.done = done
            self._render()

    def _render(self) -> None:
        role = QPalette.ColorRole.Highlight if self.done else QPalette.ColorRole.PlaceholderText
        color = self.palette().color(role).name()
        self.setText(f"<span style='color:{color}; font-size:large'>{'✔' if self.done else '○'}</span>")
        self.setAccessibleName("done" if self.done else "not done yet")

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._render()


class StepRow(QFrame):
    """A step of the checklist. `answered(step_id, text)` when the student checks a prediction."""

    answered = Signal(str, str)

    def __init__(self, number: int, step, parent=None):
        super().__init__(parent)
        self.step = step
        self.setObjectName("lesson_step")
        self.setStyleSheet(CURRENT_STYLE)
        self.tick = TickMark()
        self.text = wrapping_label(f"<b>{number}.</b> {inline_html(step.text)}")
        self.hint = wrapping_label(muted=True)
        self.hint.setVisible(False)
        self.feedback = wrapping_label()
        self.feedback.setVisible(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 5, 6, 5)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(self.tick, 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.text, 0, 1)
        grid.addWidget(self.hint, 1, 1)
        grid.setColumnStretch(1, 1)
        self.answer = self.check_button = None
        if step.needs_answer:
            self.answer = QLineEdit()
            self.answer.setPlaceholderText(step.prompt)
            self.answer.setToolTip(step.prompt)
            self.answer.setMaxLength(200)
            self.answer.returnPressed.connect(self._submit)
            self.check_button = QPushButton("Check")
            self.check_button.setToolTip("Check your prediction against the design")
            self.check_button.clicked.connect(self._submit)
            row = QHBoxLayout()
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(self.answer, 1)
            row.addWidget(self.check_button)
            grid.addLayout(row, 2, 1)
        grid.addWidget(self.feedback, 3, 1)

    def _submit(self):
        self.answered.emit(self.step.id, self.answer.text().strip())

    def set_answer_text(self, text: str) -> None:
        if self.answer is not None and self.answer.text() != text:
            self.answer.setText(text)

    def show_state(self, done: bool, current: bool, feedback: str, show_hint: bool) -> None:
        """Done: ticked. Current: the next step to do, highlighted, with its hint. Feedback: why a typed
        answer is not right yet (or a check's explanation)."""
        self.tick.set_done(done)
        name = "lesson_step_current" if current else "lesson_step"
        if self.objectName() != name:
            self.setObjectName(name)
            self.style().unpolish(self)
            self.style().polish(self)
        hint = self.step.hint if show_hint and not done else ""
        self.hint.setText(inline_html(hint))
        self.hint.setVisible(bool(hint))
        self.feedback.setText(f"<i>{inline_html(feedback)}</i>" if feedback and not done else "")
        self.feedback.setVisible(bool(feedback) and not done)
        if self.answer is not None:
            self.answer.setReadOnly(done)
            self.check_button.setVisible(not done)
