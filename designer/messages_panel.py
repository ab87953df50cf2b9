"""The message list: the analysis's errors and warnings (click to select the layer, double-click to fix),
and notes such as files that could not be opened."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
FIX_ROLE = Qt.ItemDataRole.UserRole + 2


class MessagesPanel(QWidget):
    node_clicked = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.notes: list = []
        self._icons: dict = {}
        self._shown = None   # what the list shows, to skip rebuilding it when nothing changed
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
        order = {"error": 0, "warning": 1, "todo": 2}
        rows = [("note", note, "", None) for note in self.notes]
        for issue in sorted(analysis.issues, key=lambda i: order.get(i.severity, 1)):
            text = str(issue) + (f"   [double-click: {issue.fix.label}]" if issue.fix is not None else "")
            rows.append((issue.severity, text, issue.node_id or "", issue.fix))
        if not rows:
            rows.append(("ok", "No problems: every shape fits.", "", None))
        key = [(severity, text, node) for severity, text, node, _ in rows]
        if key == self._shown:   # most edits leave the messages as they were: keep the list (and its scroll)
            for i, (*_, fix) in enumerate(rows):
                self.list.item(i).setData(FIX_ROLE, fix)
            return
        self._shown = key
        self.list.clear()
        for severity, text, node, fix in rows:
            item = QListWidgetItem(self._icon(severity), text)
            item.setData(NODE_ROLE, node)
            item.setData(FIX_ROLE, fix)
            self.list.addItem(item)

    def _icon(self, severity: str):
        """The style's standard icons, looked up once: building one took most of a refresh."""
        if severity not in self._icons:
            which = {"note": QStyle.StandardPixmap.SP_MessageBoxInformation,
                     "todo": QStyle.StandardPixmap.SP_MessageBoxInformation,
                     "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
                     "ok": QStyle.StandardPixmap.SP_DialogApplyButton}.get(severity,
                                                                           QStyle.StandardPixmap.SP_MessageBoxWarning)
            self._icons[severity] = self.style().standardIcon(which)
        return self._icons[severity]

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.PaletteChange) and hasattr(self, "_icons"):   # a theme change: new icons
            self._icons.clear()
            self._shown = None
            self.refresh(self.document.analysis)
        super().changeEvent(event)

    def _clicked(self, item):
        node = item.data(NODE_ROLE)
        if node:
            self.node_clicked.emit(node)

    def _activated(self, item):
        fix = item.data(FIX_ROLE)
        if fix is not None:
            self.document.apply_fix(fix)
