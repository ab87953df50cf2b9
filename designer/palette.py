"""The layer palette: every registered kind by category, searchable, draggable onto the canvas."""
from __future__ import annotations

import re

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from designer import theme
from designer.mime import layer_kind_mime
from engine.registry import get_kind, kinds_by_category

KIND_ROLE = Qt.ItemDataRole.UserRole + 1


def kind_icon(kind) -> QIcon:
    """The kind's glyph, white on its category colour."""
    size = 22
    pix = QPixmap(size * 2, size * 2)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(theme.category_color(kind.category))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 5, 5)
    font = QFont()
    font.setPointSizeF(10.5)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, kind.glyph)
    p.end()
    return QIcon(pix)


class KindTree(QTreeWidget):
    """Starts a drag carrying the kind's registry name (see designer.mime)."""

    def startDrag(self, actions):
        item = self.currentItem()
        kind = item.data(0, KIND_ROLE) if item is not None else None
        if not kind:
            return
        drag = QDrag(self)
        drag.setMimeData(Palette.mime_for(kind))
        drag.setPixmap(item.icon(0).pixmap(22, 22))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    add_requested = Signal(str)  # double-click: add this kind at the centre of the canvas

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = KindTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setIndentation(12)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.items: dict = {}
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def _fill(self):
        bold = QFont()
        bold.setBold(True)
        for category, kinds in kinds_by_category().items():
            group = QTreeWidgetItem(self.tree, [category])
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for kind in kinds:
                item = QTreeWidgetItem(group, [kind.name])
                item.setData(0, KIND_ROLE, kind.name)
                item.setIcon(0, kind_icon(kind))
                item.setToolTip(0, f"<b>{kind.name}</b><br>{kind.help}<br><i>Drag onto the canvas, or "
                                   f"double-click to add.</i>")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                self.items[kind.name] = item
            group.setExpanded(True)

    def filter(self, text: str) -> None:
        """Show the kinds whose name or category contains every typed word; only when none does, the kinds
        whose description has a word starting with each typed word ("linear" finds Linear, not every
        activation described as non-linear)."""
        words = text.lower().split()
        pairs = [(self.tree.topLevelItem(i), self.tree.topLevelItem(i).child(j))
                 for i in range(self.tree.topLevelItemCount()) for j in range(self.tree.topLevelItem(i).childCount())]
        by_name = {id(item) for group, item in pairs
                   if all(w in f"{group.text(0)} {item.text(0)}".lower() for w in words)}
        if not by_name:
            by_name = {id(item) for group, item in pairs
                       if all(re.search(r"\b" + re.escape(w), get_kind(item.data(0, KIND_ROLE)).help.lower())
                              for w in words)}
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            visible = 0
            for j in range(group.childCount()):
                item = group.child(j)
                show = id(item) in by_name
                item.setHidden(not show)
                visible += show
            group.setHidden(visible == 0)
            group.setExpanded(True)

    @staticmethod
    def mime_for(kind_name: str):
        """The drag data for a kind (the canvas accepts exactly this)."""
        return layer_kind_mime(kind_name)

    def visible_kinds(self) -> list:
        return [name for name, item in self.items.items() if not item.isHidden() and not item.parent().isHidden()]

    def _double_clicked(self, item, column):
        kind = item.data(0, KIND_ROLE)
        if kind:
            self.add_requested.emit(kind)
