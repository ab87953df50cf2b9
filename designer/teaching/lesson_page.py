"""The page of one lesson: title, progress, the designs it opens, the introduction and the checklist."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton, QVBoxLayout,
                               QWidget)

from designer.teaching.lesson_steps import StepRow, wrapping_label
from engine.teaching.lesson_markup import inline_html, paragraphs_html


class LessonPage(QWidget):
    back_requested = Signal()
    open_design_requested = Signal(int)   # -1: the lesson's design; i: its i-th other design
    answered = Signal(str, str)           # step id, text
    next_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lesson = None
        self.rows: list = []
        self.back = QToolButton()
        self.back.setText("‹ All lessons")
        self.back.setAutoRaise(True)
        self.back.clicked.connect(self.back_requested)
        self.position = QLabel()
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addStretch(1)
        top.addWidget(self.position)
        self.title = wrapping_label()
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title.setFont(font)
        self.summary = wrapping_label(muted=True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.designs = QVBoxLayout()
        self.designs.setSpacing(4)
        self.intro_toggle = QToolButton()
        self.intro_toggle.setText("Introduction")
        self.intro_toggle.setCheckable(True)
        self.intro_toggle.setAutoRaise(True)
        self.intro_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.intro_toggle.toggled.connect(self._intro_toggled)
        self.intro = wrapping_label()
        self.checklist_title = QLabel("<b>Checklist</b> — the app ticks each step when you have done it")
        self.checklist_title.setWordWrap(True)
        self.steps = QVBoxLayout()
        self.steps.setSpacing(4)
        self.complete = QFrame()
        self.complete.setObjectName("lesson_complete")
        self.complete.setStyleSheet("QFrame#lesson_complete { border: 1px solid palette(highlight); "
                                    "border-radius: 5px; }")
        self.complete_text = wrapping_label()
        self.next_button = QPushButton("Next lesson ›")
        self.next_button.clicked.connect(self.next_requested)
        box = QVBoxLayout(self.complete)
        box.addWidget(self.complete_text)
        box.addWidget(self.next_button, 0, Qt.AlignmentFlag.AlignRight)
        self.reset = QPushButton("Start this lesson over")
        self.reset.setToolTip("Clear the ticks, answers and runs this lesson remembers (your runs stay in the "
                              "Runs list)")
        self.reset.clicked.connect(self.reset_requested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addLayout(self.designs)
        layout.addWidget(self.intro_toggle)
        layout.addWidget(self.intro)
        layout.addSpacing(4)
        layout.addWidget(self.checklist_title)
        layout.addLayout(self.steps)
        layout.addWidget(self.complete)
        layout.addStretch(1)
        layout.addWidget(self.reset, 0, Qt.AlignmentFlag.AlignLeft)

    def set_lesson(self, lesson, count: int, has_next: bool, show_intro: bool) -> None:
        """Build the page for `lesson` (the `count`-th of its series)."""
        self.lesson = lesson
        self.position.setText(f"Lesson {lesson.number} of {count}")
        self.title.setText(inline_html(lesson.title))
        self.summary.setText(inline_html(lesson.summary))
        self.progress.setRange(0, len(lesson.steps))
        self.progress.setFormat("%v of %m steps done")
        _clear(self.designs)
        buttons = [(-1, lesson.design.title)] + [(i, d.title) for i, d in enumerate(lesson.more_designs)]
        for index, title in buttons:
            button = QPushButton(f"Open “{title}”" if index >= 0 or lesson.more_designs else
                                 "Open the lesson's design again")
            button.setToolTip("Replaces the design on the canvas (you are asked to save unsaved changes)")
            button.clicked.connect(lambda _=False, i=index: self.open_design_requested.emit(i))
            self.designs.addWidget(button)
        self.intro.setText(paragraphs_html(lesson.introduction))
        self.intro_toggle.setChecked(show_intro)
        self._intro_toggled(show_intro)
        _clear(self.steps)
        self.rows = []
        for number, step in enumerate(lesson.steps, 1):
            row = StepRow(number, step)
            row.answered.connect(self.answered)
            self.steps.addWidget(row)
            self.rows.append(row)
        self.complete_text.setText("<b>✓ Lesson complete.</b>" + paragraphs_html(lesson.wrap_up))
        self.next_button.setVisible(has_next)
        self.complete.setVisible(False)

    def show_progress(self, progress, results) -> None:
        """Tick the done steps, highlight the next one and show feedback where a check has some."""
        if self.lesson is None:
            return
        current = progress.next_step(self.lesson)
        for i, (row, result) in enumerate(zip(self.rows, results)):
            done = row.step.id in progress.done
            answer = progress.answers.get(row.step.id, "")
            row.set_answer_text(answer)
            # Feedback for the step being worked on, and for any prediction the student has submitted.
            feedback = result.hint if (i == current or (row.step.needs_answer and answer)) else ""
            row.show_state(done, i == current, feedback, show_hint=i == current)
        self.progress.setValue(progress.count_done(self.lesson))
        self.complete.setVisible(current == -1)

    def _intro_toggled(self, shown: bool) -> None:
        self.intro.setVisible(shown)
        self.intro_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
