"""The layer palette: every registered kind by category, searchable, draggable onto the canvas."""
from __future__ import annotations

import html
import re

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from designer import theme
from designer.mime import block_mime, layer_kind_mime
from engine.block_library import LIBRARY
from engine.registry import get_kind, kinds_by_category

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 2   # "library:KEY" or "design:CLASS"
DESIGN_BLOCKS, LIBRARY_BLOCKS = "Blocks in this design", "Block library"


ICON = 22


def _icon_painter() -> tuple[QPixmap, QPainter]:
    """A transparent, sharp (2×) icon canvas and a painter on it; end the painter before using the pixmap."""
    pix = QPixmap(ICON * 2, ICON * 2)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pix, p


def kind_icon(kind) -> QIcon:
    """The kind's glyph, white on its category colour."""
    size = ICON
    pix, p = _icon_painter()
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
        block = item.data(0, BLOCK_ROLE) if item is not None else None
        if not kind and not block:
            return
        drag = QDrag(self)
        drag.setMimeData(Palette.mime_for(kind) if kind else block_mime(block))
        drag.setPixmap(item.icon(0).pixmap(22, 22))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    add_requested = Signal(str)  # double-click: add this kind at the centre of the canvas
    block_requested = Signal(str)  # double-click on a block: "library:KEY" or "design:CLASS"

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
        self.design_group = self._block_group(DESIGN_BLOCKS)
        self.design_group.setHidden(True)   # until the design has blocks
        library = self._block_group(LIBRARY_BLOCKS)
        for block in LIBRARY.values():
            self._block_item(library, block.title, f"library:{block.key}", f"<b>{block.title}</b> "
                             f"({block.class_name})<br>{block.description}")

    def _block_group(self, title: str) -> QTreeWidgetItem:
        bold = QFont()
        bold.setBold(True)
        group = QTreeWidgetItem(self.tree, [title])
        group.setFont(0, bold)
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        group.setExpanded(True)
        return group

    def _block_item(self, group, title: str, ref: str, tip: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(group, [title])
        item.setData(0, BLOCK_ROLE, ref)
        item.setIcon(0, block_icon())
        item.setToolTip(0, f"{tip}<br><i>Drag onto the canvas (onto a connection to insert it there), or "
                           f"double-click to add.</i>")
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        return item

    def set_design_blocks(self, uses: dict) -> None:
        """{class name: number of uses} of the open design's blocks, listed for adding more uses."""
        shown = [(self.design_group.child(i).data(0, BLOCK_ROLE), self.design_group.child(i).text(0))
                 for i in range(self.design_group.childCount())]
        wanted = [(f"design:{cls}", f"{cls} ({count}×)") for cls, count in sorted(uses.items())]
        if shown == wanted:
            return
        self.design_group.takeChildren()
        for ref, title in wanted:
            cls = ref.split(":", 1)[1]
            self._block_item(self.design_group, title, ref, f"<b>{html.escape(cls)}</b>: a block of this design, used "
                             f"{uses[cls]} time(s). A new use shares its layers' settings with the others.")
        self.design_group.setHidden(not wanted)
        self.design_group.setExpanded(True)

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
                       if all(re.search(r"\b" + re.escape(w), _help(item).lower()) for w in words)}
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is self.design_group and not group.childCount():
                continue   # stays hidden while the design has no blocks
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

    def visible_blocks(self) -> list:
        """The refs of the blocks the search leaves visible."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out += [group.child(j).data(0, BLOCK_ROLE) for j in range(group.childCount())
                    if group.child(j).data(0, BLOCK_ROLE) and not group.isHidden() and not group.child(j).isHidden()]
        return out

    def visible_kinds(self) -> list:
        return [name for name, item in self.items.items() if not item.isHidden() and not item.parent().isHidden()]

    def _double_clicked(self, item, column):
        kind = item.data(0, KIND_ROLE)
        if kind:
            self.add_requested.emit(kind)
        elif item.data(0, BLOCK_ROLE):
            self.block_requested.emit(item.data(0, BLOCK_ROLE))


def _help(item) -> str:
    kind = item.data(0, KIND_ROLE)
    return get_kind(kind).help if kind else item.toolTip(0)


def block_icon() -> QIcon:
    """A stack of two layers: a block."""
    size = ICON
    pix, p = _icon_painter()
    p.setPen(QColor("white"))
    p.setBrush(QColor("#5b6b8c"))
    p.drawRoundedRect(QRectF(5, 5, size - 7, size - 7), 4, 4)
    p.drawRoundedRect(QRectF(1, 1, size - 7, size - 7), 4, 4)
    p.end()
    return QIcon(pix)
