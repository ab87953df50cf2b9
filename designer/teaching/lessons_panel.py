"""The Lessons dock: choose a lesson, open its design and settings, and follow its checklist.

Opening a lesson replaces the design through the same path as File → New (the student is asked about
unsaved changes first, and a lesson's design is never tied to a file, so Save asks where to put it). Progress
per lesson (ticked steps, runs, answers, panels looked at) is kept in the app's settings as JSON.
"""
from __future__ import annotations

import json
import logging

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QScrollArea, QStackedWidget, QVBoxLayout, QWidget

from designer import dialogs
from designer.teaching.lesson_list import LessonList
from designer.teaching.lesson_page import LessonPage
from designer.teaching.lesson_tracker import LessonTracker
from engine.compiler import input_shape
from engine.data import dataset_info
from engine.teaching.lesson_markup import plain_text
from engine.teaching.lesson_progress import LessonProgress
from engine.teaching.lesson_state import View
from engine.teaching.lessons import evaluate_steps, load_lessons

log = logging.getLogger(__name__)
SETTINGS_PREFIX = "lessons/progress/"
CURRENT_KEY = "lessons/current"
LESSON_WIDTH = 380


class LessonsPanel(QWidget):
    lesson_opened = Signal(str)   # lesson id, after the student opened it (the window shows its Learn layout)

    def __init__(self, window, lessons=None, problems=(), state=None, training=None, panels=None):
        """`state` is the window's DesignState (lessons replace the design and choose settings through it);
        `training` the training dashboard, or None; `panels` the other panels a step may ask to look at."""
        super().__init__(window)
        self.window = window
        self.state = state
        self.training = training
        if lessons is None:
            lessons, problems = load_lessons()
        self.lessons = list(lessons)
        self.problems = list(problems)
        self.lesson = None               # the lesson on the page
        self.progress = LessonProgress()
        self.results: list = []
        self.dock = None
        self.menu_actions: dict = {}     # lesson id -> QAction in the Learn menu
        self._load_after = ""            # lesson whose data set waits for a running load to end
        if training is not None:
            training.data.dataset_loaded.connect(self._data_load_ended)
            training.data.load_failed.connect(self._data_load_ended)
        self.tracker = LessonTracker(window, training, panels, self)
        self.tracker.changed.connect(self.evaluate)
        self.tracker.run_finished.connect(self._run_finished)
        self.list_page = LessonList()
        self.list_page.open_requested.connect(self.open_lesson)
        self.page = LessonPage()
        self.page.back_requested.connect(self.show_list)
        self.page.open_design_requested.connect(self.open_design)
        self.page.answered.connect(self.answer)
        self.page.next_requested.connect(self._open_next)
        self.page.reset_requested.connect(self.reset_lesson)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.page)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list_page)
        self.stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._refresh_list()
        remembered = self._lesson_by_id(str(window.settings().value(CURRENT_KEY, "") or ""))
        if remembered is not None:   # back where the student was, without touching the open design
            self._show_lesson(remembered)

    # ---- choosing and opening ------------------------------------------------------------------------
    def show_list(self) -> None:
        self._refresh_list()
        self.stack.setCurrentIndex(0)
        self._raise()

    def open_lesson(self, lesson_id: str) -> bool:
        """Open the lesson's design (asking about unsaved changes), preselect its data set and settings,
        and show its checklist. False when the student cancelled or the design could not be opened."""
        lesson = self._lesson_by_id(lesson_id)
        if lesson is None or not self.window.files.maybe_save():
            return False
        try:
            graph = lesson.design.load()
        except (OSError, ValueError, KeyError) as exc:
            dialogs.show_error(self.window, "Cannot open lesson", f"The design of “{lesson.title}” cannot be "
                               f"opened: {exc}")
            return False
        self._replace_design(graph)
        self._preselect(lesson)
        self._show_lesson(lesson)
        self._raise()
        self.lesson_opened.emit(lesson.id)
        self.window.show_status(f"Lesson {lesson.number}: {plain_text(lesson.title)}. "
                                f"Follow the checklist in the Lessons panel.", 8000)
        return True

    def open_design(self, index: int) -> bool:
        """The lesson's own design (-1) or one of its other designs, replacing the canvas after asking."""
        if self.lesson is None:
            return False
        ref = self.lesson.design if index < 0 else self.lesson.more_designs[index]
        if not self.window.files.maybe_save():
            return False
        try:
            graph = ref.load()
        except (OSError, ValueError, KeyError) as exc:
            dialogs.show_error(self.window, "Cannot open design", f"“{ref.title}” cannot be opened: {exc}")
            return False
        self._replace_design(graph)
        self.window.show_status(f"Opened “{ref.title}”.")
        return True

    def _replace_design(self, graph) -> None:
        # no file: Save asks where, never over the lesson. The state drops the previous design's weights,
        # results and ticked runs, so nothing of another design leaks into the lesson.
        if self.state is not None:
            self.state.replace_design(graph, "")
        else:
            self.window.document.set_graph(graph, "")
        self.window.canvas.show_design()

    def _preselect(self, lesson) -> None:
        dash = self.training
        if dash is None or self.state is None:
            return
        self.state.choose_training(lesson.dataset.key if lesson.dataset is not None else None,
                                   lesson.dataset.size if lesson.dataset is not None else None,
                                   lesson.training)
        if type(dash).preload_on_show and lesson.dataset is not None:
            self._load_data(dash, lesson)

    def _data_load_ended(self, *_):
        lesson_id, self._load_after = self._load_after, ""
        dash = self.training
        if lesson_id and self.lesson is not None and self.lesson.id == lesson_id and dash is not None:
            # after the dashboard's own handlers: a Start pressed meanwhile may already be loading again
            QTimer.singleShot(0, lambda: self._load_data(dash, self.lesson))

    def _load_data(self, dash, lesson) -> None:
        """Load the lesson's data set now (sample images, probe, feature maps) when it needs no download."""
        if dash.controller.running:
            return
        if dash.data.loading:   # e.g. the start-up preload: ask again once it is done, or this one is lost
            self._load_after = lesson.id
            return
        loaded = dash.data.dataset
        want = tuple(input_shape(self.window.document.graph)) if self.window.document.analysis.ok else None
        size = lesson.dataset.size
        if loaded is not None and loaded.key == lesson.dataset.key and tuple(loaded.input_shape) == want and \
                (size is None or len(loaded.train) + len(loaded.val) + len(loaded.test) == size):
            return
        if dataset_info(lesson.dataset.key).offline:
            dash.data.input_shape = want
            dash.data.load()

    def _show_lesson(self, lesson) -> None:
        self.lesson = lesson
        self.progress = self._load_progress(lesson)
        index = self.lessons.index(lesson)
        self.page.set_lesson(lesson, len(self.lessons), index + 1 < len(self.lessons),
                             show_intro=not self.progress.done)
        self.window.settings().setValue(CURRENT_KEY, lesson.id)
        self.stack.setCurrentIndex(1)
        self.evaluate()

    def _open_next(self) -> None:
        if self.lesson is not None:
            index = self.lessons.index(self.lesson)
            if index + 1 < len(self.lessons):
                self.open_lesson(self.lessons[index + 1].id)

    def _raise(self) -> None:
        if self.dock is None:
            return
        self.dock.show()
        self.dock.raise_()
        if not self.dock.isFloating() and self.dock.width() < LESSON_WIDTH:
            # lesson text in a 250-pixel column is hard to read: widen the column once
            self.window.resizeDocks([self.dock], [LESSON_WIDTH], Qt.Orientation.Horizontal)

    # ---- the checklist ---------------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Rebuild the state, tick what is met, remember it, and redraw the page."""
        if self.lesson is None:
            return
        self.tracker.watch_docks()
        progress = self.progress.with_views(self.tracker.visible_views(self.progress) | self._compared_views())
        self.results = evaluate_steps(self.lesson, self.tracker.state(progress))
        first_tick = not self.progress.done
        progress, new = progress.with_results(self.lesson, self.results)
        if progress != self.progress:
            self.progress = progress
            self._save_progress()
        self.page.show_progress(self.progress, self.results)
        if new:
            if first_tick:   # the student is past the introduction: make room for the checklist
                self.page.intro_toggle.setChecked(False)
            self._announce(new)
            self._show_current_step()

    def _show_current_step(self) -> None:
        """Scroll the next step (or the closing words) into view, after the page has laid itself out."""
        index = self.progress.next_step(self.lesson)
        target = self.page.complete if index < 0 else self.page.rows[index]
        scroll = self.stack.widget(1)
        QTimer.singleShot(0, lambda: shiboken6.isValid(target) and scroll.ensureWidgetVisible(target, 0, 40))

    def answer(self, step_id: str, text: str) -> None:
        if self.lesson is not None:
            self.progress = self.progress.with_answer(step_id, text)
            self._save_progress()
            self.evaluate()

    def reset_lesson(self) -> None:
        if self.lesson is not None:
            self.progress = LessonProgress()
            self._save_progress()
            has_next = self.lessons.index(self.lesson) + 1 < len(self.lessons)
            self.page.set_lesson(self.lesson, len(self.lessons), has_next, show_intro=True)
            self.evaluate()

    def _run_finished(self, run_id: str, warm_from: str) -> None:
        if self.lesson is not None:
            self.progress = self.progress.with_run(run_id, warm_from)
            self._save_progress()
            self.evaluate()

    def _compared_views(self) -> set:
        """Comparing runs counts when two runs trained during this lesson are ticked in the Runs tab on
        screen (older runs, or another design's, say nothing about what the student just tried)."""
        ticked = set(self.tracker.compared_runs()) & set(self.progress.run_ids)
        return {View("runs_compare")} if len(ticked) >= 2 else set()

    def _announce(self, new_ids) -> None:
        numbers = [str(i + 1) for i, s in enumerate(self.lesson.steps) if s.id in new_ids]
        nxt = self.progress.next_step(self.lesson)
        done = f"✓ Lesson step {numbers[0]} done." if len(numbers) == 1 else \
            f"✓ Lesson steps {', '.join(numbers[:-1])} and {numbers[-1]} done."
        after = " Lesson complete!" if nxt == -1 else f" Next: step {nxt + 1} in the Lessons panel."
        self.window.show_status(done + after, 8000)
        self._refresh_menu()

    # ---- progress in the settings -----------------------------------------------------------------------------
    def progress_of(self, lesson) -> LessonProgress:
        return self.progress if lesson is self.lesson else self._load_progress(lesson)

    def _load_progress(self, lesson) -> LessonProgress:
        raw = self.window.settings().value(SETTINGS_PREFIX + lesson.id, "")
        try:
            return LessonProgress.from_dict(json.loads(raw)) if raw else LessonProgress()
        except (TypeError, ValueError):
            log.info("ignoring unreadable progress of lesson %s", lesson.id)
            return LessonProgress()

    def _save_progress(self) -> None:
        self.window.settings().setValue(SETTINGS_PREFIX + self.lesson.id, json.dumps(self.progress.to_dict()))
        self._refresh_menu()

    def _refresh_list(self) -> None:
        self.list_page.set_lessons(self.lessons, self.progress_of, self.problems)

    def _refresh_menu(self) -> None:
        for lesson in self.lessons:
            action = self.menu_actions.get(lesson.id)
            if action is not None:
                p = self.progress_of(lesson)
                mark = "  ✓" if p.count_done(lesson) == len(lesson.steps) else ""
                action.setText(f"{lesson.number}. {plain_text(lesson.title)}{mark}")

    def _lesson_by_id(self, lesson_id: str):
        return next((x for x in self.lessons if x.id == lesson_id), None)


def install(window, state, training=None, panels=None, inspector_dock=None) -> tuple:
    """Add the Lessons dock (tabbed with `inspector_dock`) and the Learn menu's lesson entries; (panel, dock)."""
    panel = LessonsPanel(window, state=state, training=training, panels=panels)
    dock = window.add_dock(panel, "Lessons", Qt.DockWidgetArea.RightDockWidgetArea, "dock_lessons")
    panel.dock = dock
    # One more tab beside the inspector: the full height of the column for the lesson's text. (Split below
    # the inspector's tabs, both got too short to read on a 1000-pixel screen.)
    if inspector_dock is not None:
        window.tabifyDockWidget(inspector_dock, dock)
        inspector_dock.raise_()
    menu = window.menu("Learn")
    menu.addSeparator()
    choose = QAction("Lessons…", window)
    choose.setObjectName("action_lessons")
    choose.setToolTip("Choose a guided lesson")
    choose.triggered.connect(panel.show_list)
    menu.addAction(choose)
    for lesson in panel.lessons:
        action = QAction(f"{lesson.number}. {plain_text(lesson.title)}", window)
        action.setObjectName(f"action_lesson_{lesson.number}")
        action.setToolTip(plain_text(lesson.summary))
        action.triggered.connect(lambda _=False, lid=lesson.id: panel.open_lesson(lid))
        menu.addAction(action)
        panel.menu_actions[lesson.id] = action
    panel._refresh_menu()
    return panel, dock
