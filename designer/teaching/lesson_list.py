"""The list of lessons, each with its summary and how far the student got; a double-click opens one."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from designer.teaching.lesson_steps import wrapping_label
from engine.teaching.lesson_markup import plain_text


class LessonList(QWidget):
    open_requested = Signal(str)   # lesson id

    def __init__(self, parent=None):
        super().__init__(parent)
        heading = QLabel("<b>Lessons</b>")
        intro = wrapping_label("Short guided lessons on your own network. Each opens a prepared design; "
                               "the checklist ticks itself as you work. Everything runs offline.", muted=True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemActivated.connect(self._activated)
        self.list.currentItemChanged.connect(lambda *_: self.open_button.setEnabled(self.list.currentItem() is not None))
        self.open_button = QPushButton("Open lesson")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(lambda: self._activated(self.list.currentItem()))
        self.problems = wrapping_label()
        self.problems.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.problems)

    def set_lessons(self, lessons, progress_of, problems=()) -> None:
        """Fill the list; progress_of(lesson) gives its LessonProgress."""
        current = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        self.list.clear()
        for lesson in lessons:
            progress = progress_of(lesson)
            done, total = progress.count_done(lesson), len(lesson.steps)
            state = "✓ done" if done == total else (f"{done} of {total} steps" if done else "not started")
            item = QListWidgetItem(f"{lesson.number}. {plain_text(lesson.title)}  ·  {state}\n"
                                   f"{plain_text(lesson.summary)}")
            item.setData(Qt.ItemDataRole.UserRole, lesson.id)
            item.setToolTip(plain_text(lesson.summary))
            self.list.addItem(item)
            if lesson.id == current:
                self.list.setCurrentItem(item)
        self.problems.setText("<b>Some lesson files could not be read:</b><br>" +
                              "<br>".join(html.escape(p) for p in problems))
        self.problems.setVisible(bool(problems))

    def _activated(self, item) -> None:
        if item is not None:
            self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))
