"""New design: a gallery of the templates (name, description, size) plus a blank design."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QStyle,
                               QStyledItemDelegate, QVBoxLayout)

from designer.graph_edits import blank_graph
from designer.plain_text import plain_tooltip
from engine.analysis import analyze
from engine.graph_io import GraphFileError
from engine.summary import human_count, layer_count   # layers between Input and Output, as the Summary
from engine.templates import DEFAULT_TEMPLATE, list_templates, load_template

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


def template_entries() -> list:
    """(key, title, description, size text) for the blank design and each template."""
    entries = [("", "Blank design", "An Input and an Output; add the layers in between.", "no layers yet")]
    for info in list_templates():
        try:
            graph = load_template(info.key)
        except (GraphFileError, KeyError):
            continue
        analysis = analyze(graph)
        entries.append((info.key, info.name, info.description,
                        f"{layer_count(graph)} layers · {human_count(analysis.total_params)} parameters · "
                        f"{human_count(analysis.total_macs)} MACs"))
    return entries


class EntryDelegate(QStyledItemDelegate):
    """Draws an entry as a bold title, the description, and its size in a quieter colour."""

    def paint(self, painter, option, index):
        title, description, size = index.data(Qt.ItemDataRole.DisplayRole).split("\n", 2)
        self.initStyleOption(option, index)
        option.text = ""
        option.widget.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = option.rect.adjusted(8, 4, -8, -4)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.save()
        painter.setPen(option.palette.color(role))
        painter.setFont(bold)
        line = QFontMetrics(bold).height()
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line), Qt.AlignmentFlag.AlignLeft, title)
        painter.setFont(option.font)
        body = QRect(rect.left(), rect.top() + line + 2, rect.width(), rect.height() - 2 * line - 4)
        painter.drawText(body, Qt.TextFlag.TextWordWrap, description)
        if not selected:
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(QRect(rect.left(), rect.bottom() - line, rect.width(), line), Qt.AlignmentFlag.AlignLeft, size)
        painter.restore()

    def sizeHint(self, option, index):
        width = max(200, option.rect.width() or 560) - 16
        title, description, size = index.data(Qt.ItemDataRole.DisplayRole).split("\n", 2)
        metrics = QFontMetrics(option.font)
        wrapped = metrics.boundingRect(QRect(0, 0, width, 1000), Qt.TextFlag.TextWordWrap, description).height()
        return QSize(width, wrapped + 2 * metrics.height() + 16)


class TemplateGallery(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New design")
        self.resize(620, 460)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.setItemDelegate(EntryDelegate(self.list))
        for key, title, description, size in template_entries():
            item = QListWidgetItem(f"{title}\n{description}\n{size}")
            item.setData(KEY_ROLE, key)
            item.setToolTip(plain_tooltip(description))
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
