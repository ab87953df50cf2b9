"""Wheel scrolling over a long settings panel scrolls the panel, not the spin box or list under the mouse.

Without this, scrolling down the Training panel silently changed whatever value passed under the pointer
(the data-set size, the learning rate). A field still takes the wheel once it has been clicked (focused).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QScrollArea


class WheelGuard(QObject):
    def __init__(self, scroll_area: QScrollArea):
        super().__init__(scroll_area)
        self._scroll = scroll_area

    def guard(self, root) -> None:
        """Guard every spin box and combo box inside `root`."""
        for w in root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox):
            w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)   # wheel alone must not focus it
            w.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Wheel and not obj.hasFocus():
            QApplication.sendEvent(self._scroll.verticalScrollBar(), event)
            return True
        return False
