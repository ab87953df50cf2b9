"""New design: a gallery of the templates (name, description, size) plus a blank design."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout

from designer.graph_edits import blank_graph
from engine.analysis import analyze
from engine.graph_io import GraphFileError
from engine.summary import human_count
from engine.templates import DEFAULT_TEMPLATE, list_templates, load_template

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


def template_entries() -> list:
    """(key, title, description, size text) for the blank design and each template."""
    entries = [("", "Blank design", "An Input and an Output; add the layers in between.", "2 layers")]
    for info in list_templates():
        try:
            graph = load_template(info.key)
        except (GraphFileError, KeyError):
            continue
        analysis = analyze(graph)
        entries.append((info.key, info.name, info.description,
                        f"{len(graph.nodes)} layers · {human_count(analysis.total_params)} parameters · "
                        f"{human_count(analysis.total_macs)} MACs"))
    return entries


class TemplateGallery(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New design")
        self.resize(620, 460)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        for key, title, description, size in template_entries():
            item = QListWidgetItem(f"{title}\n{description}\n{size}")
            item.setData(KEY_ROLE, key)
            item.setToolTip(description)
            self.list.addItem(item)
            if key == DEFAULT_TEMPLATE:
                self.list.setCurrentItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Start from a blank design or a classic network:"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def chosen_graph(self):
        item = self.list.currentItem()
        key = item.data(KEY_ROLE) if item is not None else ""
        return load_template(key) if key else blank_graph()
