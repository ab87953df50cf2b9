"""The message list: the analysis's errors and warnings (click to select the layer, double-click to fix),
and notes such as files that could not be opened."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
FIX_ROLE = Qt.ItemDataRole.UserRole + 2


class MessagesPanel(QWidget):
    node_clicked = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.notes: list = []
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._activated)
        document.analysis_changed.connect(self.refresh)
        self.refresh(document.analysis)

    def add_note(self, text: str) -> None:
        """A message that is not about the design (kept until the next 5 notes push it out)."""
        self.notes = (self.notes + [text])[-5:]
        self.refresh(self.document.analysis)

    def refresh(self, analysis) -> None:
        style = self.style()
        self.list.clear()
        for note in self.notes:
            item = QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation), note)
            self.list.addItem(item)
        order = {"error": 0, "warning": 1, "todo": 2}
        icons = {"error": QStyle.StandardPixmap.SP_MessageBoxCritical,
                 "todo": QStyle.StandardPixmap.SP_MessageBoxInformation}
        for issue in sorted(analysis.issues, key=lambda i: order.get(i.severity, 1)):
            icon = icons.get(issue.severity, QStyle.StandardPixmap.SP_MessageBoxWarning)
            text = str(issue)
            if issue.fix is not None:
                text += f"   [double-click: {issue.fix.label}]"
            item = QListWidgetItem(style.standardIcon(icon), text)
            item.setData(NODE_ROLE, issue.node_id or "")
            item.setData(FIX_ROLE, issue.fix)
            self.list.addItem(item)
        if not analysis.issues and not self.notes:
            item = QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
                                   "No problems: every shape fits.")
            self.list.addItem(item)

    def _clicked(self, item):
        node = item.data(NODE_ROLE)
        if node:
            self.node_clicked.emit(node)

    def _activated(self, item):
        fix = item.data(FIX_ROLE)
        if fix is not None:
            self.document.apply_fix(fix)
