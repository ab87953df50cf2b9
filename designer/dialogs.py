"""Every modal question the designer asks, in one place.

Callers use `dialogs.ask_unsaved_changes(...)` (through the module) so tests can monkeypatch these
functions and never block on a modal window.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

DESIGN_FILTER = "CNN Designer designs (*.json);;All files (*)"


def ask_unsaved_changes(parent, document_name: str) -> str:
    """'save', 'discard' or 'cancel'."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                      f"“{document_name}” has changes that are not saved.",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the name may come from an opened file: never HTML
    box.setInformativeText("Save them before continuing?")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")


def ask_restore_recovery(parent, description: str) -> bool:
    answer = QMessageBox.question(
        parent, "Restore unsaved work?",
        f"CNN Designer did not close normally last time. An automatic backup was found:\n\n{description}\n\n"
        "Restore it? (Choose No to discard the backup.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def show_error(parent, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # errors quote file names and contents: never render them as HTML
    box.exec()


def show_info(parent, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)


def show_details(parent, title: str, text: str, details: str) -> None:
    """A message with a long list behind Show Details…, all plain text (it quotes file names)."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDetailedText(details)
    box.exec()


def get_open_path(parent, folder: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Open design", folder, DESIGN_FILTER)
    return path


def get_save_path(parent, suggested: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Save design as", suggested, DESIGN_FILTER)
    if path and "." not in path.rsplit("/", 1)[-1]:
        path += ".json"
    return path


def exec_menu(menu, screen_pos) -> None:
    """Show a context menu and run the chosen action (blocks until the menu closes)."""
    menu.exec(screen_pos)


def choose_template(parent):
    """Show the template gallery; return a GraphSpec, or None when cancelled."""
    from designer.template_gallery import TemplateGallery

    gallery = TemplateGallery(parent)
    return gallery.chosen_graph() if gallery.exec() else None
