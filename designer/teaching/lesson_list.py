"""The list of lessons: each title is a link that opens the lesson, with its summary and how far the
student got."""
from __future__ import annotations

import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from engine.teaching.lesson_markup import inline_html

SCHEME = "lesson"


class LessonList(QWidget):
    open_requested = Signal(str)   # lesson id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)          # a link opens the lesson here, never a web browser
        self.browser.setOpenExternalLinks(False)
        self.browser.anchorClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.browser)
        self.lesson_ids: list = []

    def set_lessons(self, lessons, progress_of, problems=()) -> None:
        """Show the lessons; progress_of(lesson) gives its LessonProgress. `problems` lists lesson files
        that could not be read, so a broken file is visible instead of silently missing."""
        self.lesson_ids = [x.id for x in lessons]
        parts = ["<h3 style='margin-bottom:2px'>Lessons</h3>",
                 "<p>Short guided lessons on your own network. Each opens a prepared design, and its checklist "
                 "ticks itself as you work. Everything runs offline.</p>"]
        for lesson in lessons:
            progress = progress_of(lesson)
            done, total = progress.count_done(lesson), len(lesson.steps)
            state = "✓ done" if done == total else (f"{done} of {total} steps" if done else "not started")
            parts.append(f"<p style='margin-top:10px'><a href='{SCHEME}:{html.escape(lesson.id, quote=True)}'>"
                         f"<b>{lesson.number}. {inline_html(lesson.title)}</b></a> &nbsp;·&nbsp; <i>{state}</i>"
                         f"<br>{inline_html(lesson.summary)}</p>")
        if problems:
            parts.append("<p style='margin-top:14px'><b>Some lesson files could not be read:</b><br>"
                         + "<br>".join(html.escape(p) for p in problems) + "</p>")
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml("".join(parts))
        self.browser.verticalScrollBar().setValue(scroll)

    def open_link(self, index: int) -> None:
        """Open the index-th lesson as if its link was clicked (keyboard users and tests)."""
        self.open_requested.emit(self.lesson_ids[index])

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == SCHEME and url.path() in self.lesson_ids:
            self.open_requested.emit(url.path())
