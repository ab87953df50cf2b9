"""A live, torchinfo-like layer table: one row per layer in dependency order, totals underneath. The design's
blocks are header rows with their totals above their (indented) layers; double-clicking one folds it."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from engine.summary import human_bytes, human_count, layer_count_text, summary_tree

HEADERS = ("Layer", "Kind", "Output shape", "Parameters", "MACs", "Receptive field")
NUMERIC = {3, 4}


class SummaryModel(QAbstractTableModel):
    def __init__(self, document):
        super().__init__()
        self.document = document
        self.rows: list = []       # the layers' rows (id first), in dependency order
        self.shown: list = []      # what the table shows: block header rows and the layers of unfolded blocks
        self.folded: set = set()   # block paths folded away
        self.error_ids: set = set()
        self._tree: list = []

    def refresh(self, analysis) -> None:
        tree = summary_tree(self.document.graph, analysis)
        self.error_ids = {i.node_id for i in analysis.mistakes if i.node_id}   # red rows: not a todo
        self._tree = tree
        self.rows = [r[:6] for r in tree if not r[7]]
        shown = self._visible(tree)
        if [r[0] for r in shown] == [r[0] for r in self.shown]:
            self.shown = shown  # same rows in the same order: repaint values only
            if shown:
                self.dataChanged.emit(self.index(0, 0), self.index(len(shown) - 1, len(HEADERS) - 1))
            return
        self.beginResetModel()
        self.shown = shown
        self.endResetModel()

    def _visible(self, tree: list) -> list:
        out, hidden_below = [], None
        blocks = {r[0] for r in tree if r[7]}
        self.folded &= blocks
        for row in tree:
            depth = row[6]
            if hidden_below is not None and depth > hidden_below:
                continue
            hidden_below = depth if row[7] and row[0] in self.folded else None
            out.append(row)
        return out

    def toggle(self, row: int) -> bool:
        """Fold or unfold the block on this row; False when the row is a layer."""
        if not (0 <= row < len(self.shown)) or not self.shown[row][7]:
            return False
        scope = self.shown[row][0]
        (self.folded.discard if scope in self.folded else self.folded.add)(scope)
        self.beginResetModel()
        self.shown = self._visible(self._tree)
        self.endResetModel()
        return True

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.shown)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        row = self.shown[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = row[col]
            if col == 0 and (row[6] or row[7]):   # indented under its blocks; a block shows whether it is folded
                mark = ("▸ " if row[0] in self.folded else "▾ ") if row[7] else ""
                return "   " * row[6] + mark + str(value)
            return f"{value:,}" if col in NUMERIC else str(value)
        if role == Qt.ItemDataRole.FontRole and row[7]:
            from PySide6.QtGui import QFont
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and row[0] in self.error_ids:
            from PySide6.QtGui import QColor
            return QColor("#d43b3b")
        if role == Qt.ItemDataRole.ToolTipRole and row[0] in self.error_ids:
            return "This layer has an error; see the Messages panel"
        return None

    def node_id(self, row: int) -> str:
        """The layer on this row ("" for a block's header row)."""
        return self.shown[row][0] if 0 <= row < len(self.shown) and not self.shown[row][7] else ""


class SummaryPanel(QWidget):
    node_clicked = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.model = SummaryModel(document)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((130, 150, 110, 100, 100)):
            self.table.setColumnWidth(col, width)
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        self.table.clicked.connect(self._clicked)
        self.table.doubleClicked.connect(lambda index: self.model.toggle(index.row()))
        self._stale = None
        document.analysis_changed.connect(self.refresh)
        self.refresh(document.analysis)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale is not None:
            self.refresh(self._stale)

    def select_node(self, node_id: str) -> None:
        """Highlight the row of the layer selected on the canvas (without echoing a click back)."""
        rows = [r[0] if not r[7] else None for r in self.model.shown]
        self.table.blockSignals(True)
        if node_id in rows:
            index = self.model.index(rows.index(node_id), 0)
            self.table.selectRow(index.row())
            self.table.scrollTo(index)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)

    def _clicked(self, index) -> None:
        node = self.model.node_id(index.row())
        if node:
            self.node_clicked.emit(node)

    def refresh(self, analysis) -> None:
        """Show `analysis`; while the panel is hidden (a closed dock, a tab behind another) only remember it,
        so an edit of a large design does not fill a table nobody sees."""
        if self.window().isVisible() and not self.isVisible():
            self._stale = analysis
            return
        self._stale = None
        self.model.refresh(analysis)
        self.totals.setText(f"<b>Total:</b> {layer_count_text(self.model.document.graph)} · "
                            f"{analysis.total_params:,} parameters "
                            f"({human_count(analysis.total_params)}) · {human_count(analysis.total_macs)} MACs · "
                            f"{human_bytes(analysis.total_memory)} activations per image")
