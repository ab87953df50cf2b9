"""Fixtures for the designer's GUI tests: isolated settings, modal dialogs that never block, windows."""
from __future__ import annotations

import pytest

from designer import dialogs


class DialogRecorder:
    """Stands in for designer.dialogs: records what would have been shown and answers as told."""

    def __init__(self):
        self.errors: list = []
        self.details: list = []
        self.unsaved_answer = "discard"
        self.restore_answer = False
        self.restore_offers: list = []
        self.open_path = ""
        self.save_path = ""
        self.template = None

    def install(self, monkeypatch):
        monkeypatch.setattr(dialogs, "show_error", lambda parent, title, text: self.errors.append((title, text)))
        monkeypatch.setattr(dialogs, "ask_unsaved_changes", lambda parent, name: self.unsaved_answer)
        monkeypatch.setattr(dialogs, "ask_restore_recovery", self._restore)
        monkeypatch.setattr(dialogs, "get_open_path", lambda parent, folder: self.open_path)
        monkeypatch.setattr(dialogs, "get_save_path", lambda parent, suggested: self.save_path)
        monkeypatch.setattr(dialogs, "choose_template", lambda parent: self.template)
        monkeypatch.setattr(dialogs, "exec_menu", lambda menu, pos: None)
        monkeypatch.setattr(dialogs, "show_info", lambda parent, title, text: None)
        monkeypatch.setattr(dialogs, "show_details",
                            lambda parent, title, text, details: self.details.append((title, text, details)))

    def _restore(self, parent, description):
        self.restore_offers.append(description)
        return self.restore_answer


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Settings and recovery files go to a fresh folder, never the real user's."""
    folder = tmp_path / "settings"
    monkeypatch.setenv("CNN_DESIGNER_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def dialog_answers(monkeypatch):
    recorder = DialogRecorder()
    recorder.install(monkeypatch)
    return recorder


@pytest.fixture
def make_window(qtbot):
    """Build MainWindows (optionally with a graph); they are closed at the end of the test."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from designer.main_window import MainWindow

    made = []

    def make(graph=None):
        window = MainWindow(graph)
        made.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    # Close and really delete every window, so later tests do not pay for thousands of stale widgets.
    for window in made:
        if shiboken6.isValid(window):
            window.close()
            window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture(autouse=True)
def no_dataset_preload(monkeypatch):
    """Each test loads the data set it needs; no background load starts when a window is shown."""
    from designer.training.dashboard import TrainingDashboard
    monkeypatch.setattr(TrainingDashboard, "preload_on_show", False)


@pytest.fixture(autouse=True, scope="session")
def empty_clipboard_at_exit():
    """Qt's offscreen platform crashes at interpreter exit if the clipboard still owns mime data (the
    xcb platform does not); copy/paste tests fill it, so empty it once all tests have run."""
    yield
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        QApplication.clipboard().clear()
