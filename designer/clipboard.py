"""Cut, Copy, Paste and Duplicate of layers, as design JSON on the system clipboard (so it also works
between two windows or two running copies of the app)."""
from __future__ import annotations

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from designer.graph_edits import free_offset, subgraph
from designer.mime import GRAPH_MIME
from engine.graph_io import GraphFileError, graph_from_json, graph_to_json

PASTE_STEP = 40.0


class ClipboardController:
    def __init__(self, window):
        self.window = window
        self.document = window.document
        self._last_text = ""
        self._pastes = 0

    def _selection(self):
        return self.window.scene.selected_node_ids()

    def copy(self) -> bool:
        ids = self._selection()
        if not ids:
            self.window.show_status("Select one or more layers to copy.")
            return False
        part = subgraph(self.document.graph, ids)
        text = graph_to_json(part)
        data = QMimeData()
        data.setData(GRAPH_MIME, text.encode("utf-8"))
        data.setText(text)
        QApplication.clipboard().setMimeData(data)
        self._last_text, self._pastes = text, 0
        self.window.show_status(f"Copied {len(ids)} layer{'s' if len(ids) != 1 else ''}.")
        return True

    def cut(self) -> None:
        if self.copy():
            self.document.remove(self._selection(), [])

    def paste(self) -> list:
        data = QApplication.clipboard().mimeData()
        if data is None:
            return []
        if data.hasFormat(GRAPH_MIME):
            text = bytes(data.data(GRAPH_MIME)).decode("utf-8", "replace")
        else:
            text = data.text()
        if not text.strip().startswith("{"):
            self.window.show_status("The clipboard holds no layers; copy layers first.")
            return []
        try:
            part = graph_from_json(text, "the clipboard")
        except GraphFileError as exc:
            self.window.show_status(f"Cannot paste: {exc}", 8000)
            return []
        if text == self._last_text:
            self._pastes += 1
        else:
            self._last_text, self._pastes = text, 1
        step = PASTE_STEP * self._pastes
        return self.document.paste(part, free_offset(self.document.graph, part.nodes, (step, step)))

    def duplicate(self) -> list:
        ids = self._selection()
        if not ids:
            self.window.show_status("Select one or more layers to duplicate.")
            return []
        part = subgraph(self.document.graph, ids)
        # Beside the originals, never on top of them or of other layers.
        return self.document.paste(part, free_offset(self.document.graph, part.nodes, (PASTE_STEP, PASTE_STEP)))
