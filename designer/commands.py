"""Undo commands. Every edit is one `GraphEditCommand`: the graph before and after, applied by the
document as a minimal diff so only the changed items are told about it.

Typing into one inspector field or one drag produces commands with the same `merge_key`, which Qt merges
into a single undo step.
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

_MERGE_ID = 1


class GraphEditCommand(QUndoCommand):
    def __init__(self, document, text: str, before, after, merge_key=None, select=None):
        super().__init__(text)
        self._document = document
        self.before = before
        self.after = after
        self.merge_key = merge_key
        self.select = list(select or [])   # node ids to select after redo (pasted, inserted)

    def id(self) -> int:
        return _MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, GraphEditCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True

    def redo(self):
        self._document._apply(self.after)

    def undo(self):
        self._document._apply(self.before)
