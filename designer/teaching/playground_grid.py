"""A grid of numbers drawn with QPainter: padding cells hatched, values tinted by sign, a sliding window,
the current cell and chosen cells outlined, and (when editable) cells edited in place like a spreadsheet."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QLineEdit, QSizePolicy, QToolTip, QWidget

from designer.theme import colors
from engine.teaching.playground import format_number

POSITIVE, NEGATIVE = QColor(232, 93, 61), QColor(54, 122, 224)
MAX_CELL, HINT_CELL, MIN_CELL = 54, 34, 12


def parse_number(text: str) -> float | None:
    """A number typed by a person: accepts a typographic minus and a decimal comma; None if not a number."""
    text = text.strip().replace("−", "-").replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def link_cell_sizes(*grids) -> None:
    """Draw these grids with the same cell size (the smallest that fits all), so a 3×3 kernel next to a
    9×9 input looks like the window that slides over it."""
    group = list(grids)
    for g in group:
        g.group = group


class GridView(QWidget):
    """Shows `values` (2-D); the outer `padding` rows/columns are drawn as padding. Optional overlays:
    `window` (padded (r, c) cells under the kernel), `current` (one cell), `chosen` (cells to ring),
    `weights` (small numbers written in the window's cells) and `shown` (a mask; unshown cells stay empty)."""

    cell_edited = Signal(int, int, float)   # row, column in unpadded coordinates, new value

    def __init__(self, editable: bool = False, parent=None):
        super().__init__(parent)
        self.values = np.zeros((1, 1))
        self.padding = (0, 0)
        self.window: tuple = ()
        self.current: tuple | None = None
        self.chosen: tuple = ()
        self.weights: np.ndarray | None = None
        self.shown: np.ndarray | None = None
        self.tint_scale: float | None = None
        self.blank = False          # nothing to show (e.g. the settings are impossible)
        self.editable = editable
        self.selected: tuple | None = None
        self._editor: QLineEdit | None = None
        self._editing: tuple | None = None
        self.group: list = [self]   # grids shown side by side share one cell size (see link_cell_sizes)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        if editable:
            self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ---- content -------------------------------------------------------------------------------
    def set_values(self, values, padding=(0, 0)) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.padding = tuple(padding)
        self.blank = False
        rows, cols = self.values.shape
        if self.selected is not None and not (self.selected[0] < rows and self.selected[1] < cols):
            self.selected = None
        self.updateGeometry()
        for g in self.group:
            g.update()

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        for g in self.group:
            if g is not self:
                g.update()

    def set_blank(self) -> None:
        """Show nothing: there is no map (the settings are impossible, or no source)."""
        self.set_values(np.zeros((1, 1)))
        self.set_overlay(shown=np.zeros((1, 1), bool))
        self.blank = True

    def set_overlay(self, window=(), current=None, chosen=(), weights=None, shown=None) -> None:
        self.window, self.current, self.chosen = tuple(window), current, tuple(chosen)
        self.weights, self.shown = weights, shown
        self.update()

    def is_padding(self, r: int, c: int) -> bool:
        rows, cols = self.values.shape
        ph, pw = self.padding
        return r < ph or c < pw or r >= rows - ph or c >= cols - pw

    # ---- geometry ------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        rows, cols = self.values.shape
        return QSize(cols * HINT_CELL + 2, rows * HINT_CELL + 2)

    def minimumSizeHint(self) -> QSize:
        rows, cols = self.values.shape
        return QSize(min(cols * MIN_CELL, 240) + 2, min(rows * MIN_CELL, 240) + 2)

    def natural_cell_size(self) -> float:
        rows, cols = self.values.shape
        # whole pixels: fractional cells draw grid lines of uneven thickness
        return float(max(2, int(min((self.width() - 2) / cols, (self.height() - 2) / rows, MAX_CELL))))

    def cell_size(self) -> float:
        return min(g.natural_cell_size() for g in self.group if g.isVisible() or g is self)

    def _origin(self) -> QPointF:
        rows, cols = self.values.shape
        size = self.cell_size()
        return QPointF((self.width() - cols * size) // 2, (self.height() - rows * size) // 2)

    def cell_rect(self, r: int, c: int) -> QRectF:
        size, o = self.cell_size(), self._origin()
        return QRectF(o.x() + c * size, o.y() + r * size, size, size)

    def cell_at(self, pos) -> tuple | None:
        size, o = self.cell_size(), self._origin()
        r, c = int((pos.y() - o.y()) // size), int((pos.x() - o.x()) // size)
        rows, cols = self.values.shape
        return (r, c) if 0 <= r < rows and 0 <= c < cols and pos.x() >= o.x() and pos.y() >= o.y() else None

    # ---- painting ------------------------------------------------------------------------------
    def paintEvent(self, event):
        if self.blank:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pal = self.palette()
        rows, cols = self.values.shape
        size = self.cell_size()
        finite = self.values[np.isfinite(self.values)]
        scale = self.tint_scale or (float(np.abs(finite).max()) if finite.size else 0.0) or 1.0
        decimals = 2 if size >= 30 else 1
        labels = [[format_number(v, decimals) for v in row] for row in self.values]
        font = self._fitting_font(labels, size)
        small = QFont(self.font())
        small.setPixelSize(max(8, int(size * 0.24)))
        text_ok = font.pixelSize() >= 7
        window = set(self.window)
        grid_pen = QPen(pal.color(QPalette.ColorRole.Mid), 1)
        pad_fill = pal.color(QPalette.ColorRole.AlternateBase)
        muted = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        highlight = pal.color(QPalette.ColorRole.Highlight)
        for r in range(rows):
            for c in range(cols):
                rect = self.cell_rect(r, c)
                v = self.values[r, c]
                shown = self.shown is None or bool(self.shown[r, c])
                padding = self.is_padding(r, c)
                p.fillRect(rect, pad_fill if padding else pal.color(QPalette.ColorRole.Base))
                if padding:
                    p.fillRect(rect, QBrush(pal.color(QPalette.ColorRole.Mid), Qt.BrushStyle.BDiagPattern))
                elif shown and np.isfinite(v) and v != 0:
                    tint = QColor(POSITIVE if v > 0 else NEGATIVE)
                    tint.setAlpha(int(25 + 105 * min(1.0, abs(v) / scale)))
                    p.fillRect(rect, tint)
                if (r, c) in window:
                    fill = QColor(highlight)
                    fill.setAlpha(70)
                    p.fillRect(rect, fill)
                p.setPen(grid_pen)
                p.drawRect(rect)
                if shown and text_ok:
                    p.setFont(font)
                    p.setPen(muted if padding else pal.color(QPalette.ColorRole.Text))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, labels[r][c])
        self._paint_weights(p, small, size)
        self._paint_rings(p, size, highlight)
        if self.selected is not None and self.hasFocus() and self._editing is None:
            p.setPen(QPen(pal.color(QPalette.ColorRole.Text), 1, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.cell_rect(*self.selected).adjusted(2, 2, -2, -2))
        p.end()

    def _fitting_font(self, labels, size: float) -> QFont:
        """The largest font, up to 42% of the cell, in which the widest number still fits its cell."""
        font = QFont(self.font())
        font.setPixelSize(100)
        metrics = QFontMetricsF(font)
        widest = max((metrics.horizontalAdvance(t) for row in labels for t in row), default=1.0) or 1.0
        font.setPixelSize(max(1, int(min(size * 0.42, 100 * size * 0.86 / widest))))
        return font

    def _paint_weights(self, p: QPainter, font: QFont, size: float):
        """The kernel's weight in the corner of each window cell ("×-1"), so the products can be read off."""
        if self.weights is None or not self.window or size < 28:
            return
        p.setFont(font)
        p.setPen(self.palette().color(QPalette.ColorRole.Link))
        for (r, c), w in zip(self.window, np.asarray(self.weights).ravel()):
            rect = self.cell_rect(r, c).adjusted(2, 1, -3, -1)
            p.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, "×" + format_number(w, 2))

    def _paint_rings(self, p: QPainter, size: float, highlight: QColor):
        p.setBrush(Qt.BrushStyle.NoBrush)
        if self.window:
            rs = [r for r, _ in self.window]
            cs = [c for _, c in self.window]
            box = self.cell_rect(min(rs), min(cs)).united(self.cell_rect(max(rs), max(cs)))
            p.setPen(QPen(highlight, max(2.0, size / 14)))
            p.drawRect(box.adjusted(1, 1, -1, -1))
        pen = QPen(colors().warning_border, max(1.0, min(3.0, size / 12)))
        p.setPen(pen)
        for cell in self.chosen:
            p.drawRect(self.cell_rect(*cell).adjusted(2, 2, -2, -2))
        if self.current is not None:
            p.setPen(QPen(highlight, max(2.5, size / 10)))
            p.drawRect(self.cell_rect(*self.current).adjusted(1, 1, -1, -1))

    # ---- hover -------------------------------------------------------------------------------
    def event(self, ev):
        if ev.type() == ev.Type.ToolTip:
            cell = self.cell_at(ev.position() if hasattr(ev, "position") else ev.pos())
            if cell is not None and (self.shown is None or self.shown[cell]):
                r, c = cell
                where = "padding" if self.is_padding(r, c) else \
                    f"row {r - self.padding[0]}, column {c - self.padding[1]}"
                QToolTip.showText(ev.globalPos(), f"{format_number(self.values[r, c], 4)}  ({where})", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(ev)

    # ---- editing -------------------------------------------------------------------------------
    def editable_cell(self, cell) -> bool:
        return self.editable and cell is not None and not self.is_padding(*cell)

    def mousePressEvent(self, ev):
        cell = self.cell_at(ev.position())
        if self.editable_cell(cell):
            self.selected = cell
            self.setFocus()
            self.update()
        super().mousePressEvent(ev)

    def mouseDoubleClickEvent(self, ev):
        cell = self.cell_at(ev.position())
        if self.editable_cell(cell):
            self.start_editing(cell)

    def keyPressEvent(self, ev):
        if not self.editable or self.selected is None:
            return super().keyPressEvent(ev)
        key, text = ev.key(), ev.text()
        moves = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0), Qt.Key.Key_Down: (1, 0)}
        if key in moves:
            self._move_selection(*moves[key])
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2):
            self.start_editing(self.selected)
        elif text and (text[0].isdigit() or text[0] in "-−.,"):
            self.start_editing(self.selected, text)
        else:
            super().keyPressEvent(ev)

    def _move_selection(self, dr: int, dc: int):
        rows, cols = self.values.shape
        ph, pw = self.padding
        r = min(max(self.selected[0] + dr, ph), rows - ph - 1)
        c = min(max(self.selected[1] + dc, pw), cols - pw - 1)
        self.selected = (r, c)
        self.update()

    def start_editing(self, cell, initial: str | None = None) -> QLineEdit:
        """Open an editor over `cell` (padded coordinates); Enter commits, Escape cancels."""
        self._finish_editing(commit=False)
        self.selected = self._editing = cell
        editor = QLineEdit(self)
        editor.setAlignment(Qt.AlignmentFlag.AlignCenter)
        editor.setGeometry(self.cell_rect(*cell).adjusted(1, 1, 0, 0).toRect())
        editor.setText(initial if initial is not None else format_number(self.values[cell], 4).replace("−", "-"))
        if initial is None:
            editor.selectAll()
        # focus moving elsewhere commits a valid number (Return is handled above, the editor keeps focus)
        editor.editingFinished.connect(lambda: editor.hasFocus() or self._finish_editing(commit=True))
        editor.installEventFilter(self)
        self._editor = editor
        editor.show()
        editor.setFocus()
        return editor

    def eventFilter(self, obj, ev):
        # Handled here, not through returnPressed: QLineEdit passes Return on to its parent, which would
        # open a new editor at once.
        if obj is self._editor and ev.type() == ev.Type.KeyPress:
            if ev.key() == Qt.Key.Key_Escape:
                self._finish_editing(commit=False)
                return True
            if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._finish_editing(commit=True, advance=True)
                return True
        return super().eventFilter(obj, ev)

    def _finish_editing(self, commit: bool, advance: bool = False):
        editor, cell = self._editor, self._editing
        if editor is None:
            return
        value = parse_number(editor.text())
        if commit and value is None:
            QToolTip.showText(editor.mapToGlobal(editor.rect().bottomLeft()),
                              "Type a number, for example 2, -1 or 0.5", editor)
            if advance:
                return  # keep the editor open so the person can correct it
            commit = False
        self._editor = self._editing = None
        editor.removeEventFilter(self)
        editor.deleteLater()
        self.setFocus()
        if commit:
            self.cell_edited.emit(cell[0] - self.padding[0], cell[1] - self.padding[1], float(value))
            if advance:
                self._move_selection(0, 1)
        self.update()
