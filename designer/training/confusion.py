"""A confusion-matrix heat map with counts, per-class accuracy beside each row; cells are clickable."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from designer.plain_text import plain_tooltip
from designer.training.images import VIRIDIS


class ConfusionMatrixView(QWidget):
    cell_clicked = Signal(int, int)   # true class, predicted class
    cell_hovered = Signal(str)        # what the cell under the mouse holds ("" when none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.confusion = np.zeros((0, 0), np.int64)
        self.detection = False
        self.class_names: tuple = ()
        self.selected = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(180, 110)   # fits the bottom row of a 720-pixel-high window's Train layout

    def set_matrix(self, confusion, class_names, detection: bool = False) -> None:
        """detection: the counts are objects, and the last class is "nothing" (missed objects, empty detections)."""
        self.confusion = np.asarray(confusion, dtype=np.int64)
        self.class_names = tuple(class_names)
        self.detection = detection
        self.selected = None
        self._hovered = None
        self.update()

    def cell_description(self, true: int, pred: int) -> str:
        """The count of a cell in words, as the tooltip and the hover line show it."""
        n = int(self.confusion[true, pred])
        total = int(self.confusion[true].sum())
        share = f" ({n / total:.1%} of class {self.class_names[true]})" if total else ""
        images = "test image" if n == 1 else "test images"
        if self.detection:
            return self._object_description(n, true, pred)
        if true == pred:
            return f"{n} {images} of class {self.class_names[true]} classified correctly{share}"
        return f"{n} {images} of class {self.class_names[true]} predicted as {self.class_names[pred]}{share}"

    def _object_description(self, n: int, true: int, pred: int) -> str:
        names, nothing = self.class_names, len(self.class_names) - 1
        objects = "object" if n == 1 else "objects"
        if pred == nothing:
            return f"{n} {names[true]} {objects} missed"
        if true == nothing:
            return f"{n} {'detection' if n == 1 else 'detections'} of {names[pred]} where there is nothing"
        if true == pred:
            return f"{n} {names[true]} {objects} found"
        return f"{n} {names[true]} {objects} found as {names[pred]}"

    def sizeHint(self) -> QSize:
        return QSize(460, 420)

    # ---- geometry --------------------------------------------------------------------------------
    def _layout(self):
        fm = QFontMetrics(self.font())
        n = max(1, len(self.class_names))
        label_w = min(120, max((fm.horizontalAdvance(c) for c in self.class_names), default=20) + 10)
        acc_w = fm.horizontalAdvance("100.0%") + 14
        top = fm.height() * 2 + 6
        left = label_w + fm.height() + 4
        cell = max(8, min((self.width() - left - acc_w - 4) / n, (self.height() - top - fm.height() * 2 - 8) / n))
        return left, top, cell, acc_w

    def cell_rect(self, true: int, pred: int) -> QRectF:
        left, top, cell, _ = self._layout()
        return QRectF(left + pred * cell, top + true * cell, cell, cell)

    def cell_at(self, x: float, y: float):
        left, top, cell, _ = self._layout()
        n = len(self.class_names)
        col, row = int((x - left) // cell), int((y - top) // cell)
        if x >= left and y >= top and 0 <= row < n and 0 <= col < n:
            return row, col
        return None

    # ---- painting --------------------------------------------------------------------------------
    def paintEvent(self, _event):
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        n = len(self.class_names)
        if n == 0 or self.confusion.size == 0:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "The confusion matrix appears when a run finishes,\nor press “Evaluate current weights”.")
            return
        left, top, cell, acc_w = self._layout()
        label_font, every = self.label_font(cell)
        fm = QFontMetrics(label_font)
        totals = self.confusion.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(totals > 0, self.confusion / np.maximum(totals, 1), 0.0)  # row-normalised colour
        text_colour = self.palette().text().color()
        # Square-root colour scale: a 2 % mistake gets a visible 14 % of the colour range instead of 2 %.
        level = np.sqrt(share)
        count_font = self._count_font(cell)
        for t in range(n):
            for q in range(n):
                r = self.cell_rect(t, q)
                colour = QColor(*VIRIDIS[int(round(level[t, q] * 255))])
                p.fillRect(r, colour)
                if count_font is not None and self.confusion[t, q]:
                    p.setFont(count_font)
                    p.setPen(QColor("black") if level[t, q] > 0.6 else QColor("white"))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(int(self.confusion[t, q])))
        p.setFont(label_font)
        p.setPen(QPen(QColor("#444"), 1))
        p.drawRect(QRectF(left, top, cell * n, cell * n))
        if self.selected is not None:
            p.setPen(QPen(QColor("#ff2a2a"), 3))
            p.drawRect(self.cell_rect(*self.selected))
        p.setPen(text_colour)
        for i, name in enumerate(self.class_names):
            if i % every:
                continue   # rows too short for every label: every other one (or third), never overlapping
            p.drawText(QRectF(0, top + i * cell, left - 4, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(name, Qt.TextElideMode.ElideRight, int(left - fm.height() - 8)))
            p.save()
            p.translate(left + (i + 0.5) * cell, top - 4)
            p.rotate(-45 if cell < fm.horizontalAdvance(name) + 4 else 0)
            w = fm.horizontalAdvance(name)
            p.drawText(QRectF(-w / 2 if cell >= w + 4 else 0, -fm.height(), w + 2, fm.height()),
                       Qt.AlignmentFlag.AlignLeft, name)
            p.restore()
            correct = self.confusion[i, i] / totals[i, 0] if totals[i, 0] else float("nan")
            if self.detection and i == n - 1:
                correct = float("nan")   # "nothing" found where there is nothing is not counted
            p.drawText(QRectF(left + n * cell + 6, top + i * cell, acc_w, cell), Qt.AlignmentFlag.AlignVCenter,
                       "—" if np.isnan(correct) else f"{correct:.1%}")
        p.setFont(self.font())
        fm = QFontMetrics(self.font())
        p.drawText(QRectF(left, top + n * cell + 4, n * cell, fm.height()), Qt.AlignmentFlag.AlignCenter,
                   "predicted class")
        p.drawText(QRectF(left + n * cell + 6, 0, acc_w, top - 4), Qt.AlignmentFlag.AlignBottom, "correct")
        p.save()
        p.translate(fm.height() - 2, top + n * cell / 2)
        p.rotate(-90)
        p.drawText(QRectF(-n * cell / 2, -fm.height(), n * cell, fm.height()), Qt.AlignmentFlag.AlignCenter,
                   "true class")
        p.restore()
        p.end()

    def label_font(self, cell: float) -> tuple:
        """(font, every): the class names and row accuracies in a font whose lines fit a cell, down to 6 pt,
        labelling every `every`-th row and column when even that is too tall (a laptop's short dock)."""
        font = QFont(self.font())
        size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
        while size > 6.0 and QFontMetrics(font).height() > cell:
            size = max(6.0, size - 0.5)
            font.setPointSizeF(size)
        return font, max(1, math.ceil(QFontMetrics(font).height() / max(cell, 1.0)))

    def _count_font(self, cell: float):
        """A font in which the largest count fits a cell, down to 6 pt; None when even that is too big
        (then the counts are in the tooltip and the hover line)."""
        font = self.font()
        widest = str(int(self.confusion.max())) if self.confusion.size else "0"
        size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
        while size >= 6.0:
            font.setPointSizeF(size)
            fm = QFontMetrics(font)
            if fm.horizontalAdvance(widest) + 2 <= cell and fm.height() <= cell + 1:
                return font
            size -= 0.5
        return None

    def mousePressEvent(self, event):
        pos = event.position()
        found = self.cell_at(pos.x(), pos.y())
        if found is not None and event.button() == Qt.MouseButton.LeftButton:
            self.selected = found
            self.update()
            self.cell_clicked.emit(*found)

    def mouseMoveEvent(self, event):
        pos = event.position()
        found = self.cell_at(pos.x(), pos.y())
        if found != self._hovered:
            self._hovered = found
            self.cell_hovered.emit(self.cell_description(*found) if found is not None else "")

    def leaveEvent(self, event):
        self._hovered = None
        self.cell_hovered.emit("")
        super().leaveEvent(event)

    def event(self, event):
        # A tooltip per cell, placed over that cell, so it follows the mouse from cell to cell
        if event.type() == QEvent.Type.ToolTip:
            pos = event.position() if hasattr(event, "position") else event.pos()
            found = self.cell_at(pos.x(), pos.y())
            if found is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), plain_tooltip(self.cell_description(*found) + "; click to see them"), self,
                                  self.cell_rect(*found).toRect())
            return True
        return super().event(event)
