"""A grid of small images with captions, drawn in one widget (hundreds of QLabels would be slow).

Clicking a tile reports which tile and which source pixel was hit, so feature maps can map a click to
a position in the layer's output.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

CAPTION_HEIGHT = 14
GAP = 6


class TileGrid(QWidget):
    tile_clicked = Signal(int, int, int)   # tile index, source row, source column

    def __init__(self, parent=None, tile_size: int = 72):
        super().__init__(parent)
        self._images: list = []
        self._captions: list = []
        self._tooltips: list = []
        self.tile_size = tile_size
        self.marker = None       # (tile, row, col) drawn as a small square
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)

    # ---- content ---------------------------------------------------------------------------------
    def set_tiles(self, images, captions=None, tooltips=None) -> None:
        # Only a new count needs a new layout; live updates of the same maps just repaint this widget.
        relayout = len(images) != len(self._images)
        self._images = list(images)
        self._captions = list(captions or [""] * len(self._images))
        self._tooltips = list(tooltips or [""] * len(self._images))
        if self.marker and self.marker[0] >= len(self._images):
            self.marker = None
        if relayout:
            self.updateGeometry()
        self.update()

    @property
    def tile_count(self) -> int:
        return len(self._images)

    def caption(self, index: int) -> str:
        return self._captions[index]

    def set_tile_size(self, size: int) -> None:
        self.tile_size = max(16, int(size))
        self.updateGeometry()
        self.update()

    # ---- geometry --------------------------------------------------------------------------------
    def _columns(self, width=None) -> int:
        width = self.width() if width is None else width
        return max(1, (width - GAP) // (self.tile_size + GAP))

    def tile_rect(self, index: int) -> QRect:
        cols = self._columns()
        r, c = divmod(index, cols)
        return QRect(GAP + c * (self.tile_size + GAP), GAP + r * (self.tile_size + CAPTION_HEIGHT + GAP),
                     self.tile_size, self.tile_size)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        rows = -(-len(self._images) // self._columns(width)) if self._images else 1
        return GAP + rows * (self.tile_size + CAPTION_HEIGHT + GAP)

    def sizeHint(self) -> QSize:
        return QSize(4 * (self.tile_size + GAP) + GAP, self.heightForWidth(max(self.width(), 200)))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.tile_size + 2 * GAP, self.tile_size + CAPTION_HEIGHT + 2 * GAP)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.setMinimumHeight(self.heightForWidth(self.width()))

    # ---- painting and clicks ---------------------------------------------------------------------
    def _image_rect(self, index: int) -> QRect:
        """Where the image sits inside its tile, keeping its aspect ratio."""
        tile, img = self.tile_rect(index), self._images[index]
        w, h = max(img.width(), 1), max(img.height(), 1)
        scale = min(tile.width() / w, tile.height() / h)
        sw, sh = max(1, int(w * scale)), max(1, int(h * scale))
        return QRect(tile.x() + (tile.width() - sw) // 2, tile.y() + (tile.height() - sh) // 2, sw, sh)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        font = p.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        p.setFont(font)
        exposed = event.rect()
        for i, img in enumerate(self._images):
            tile = self.tile_rect(i)
            if not exposed.intersects(tile.adjusted(0, 0, 0, CAPTION_HEIGHT)):
                continue
            target = self._image_rect(i)
            p.drawImage(target, img)
            p.setPen(QPen(QColor("#999"), 1))
            p.drawRect(target.adjusted(0, 0, -1, -1))
            p.setPen(self.palette().text().color())
            p.drawText(QRect(tile.x() - GAP // 2, tile.bottom() + 1, tile.width() + GAP, CAPTION_HEIGHT),
                       Qt.AlignmentFlag.AlignCenter, self._captions[i])
        if self.marker and self.marker[0] < len(self._images):
            i, row, col = self.marker
            target, img = self._image_rect(i), self._images[i]
            sx, sy = target.width() / img.width(), target.height() / img.height()
            p.setPen(QPen(QColor("#ff2a2a"), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRect(target.x() + int(col * sx), target.y() + int(row * sy),
                             max(3, int(sx)), max(3, int(sy))))
        p.end()

    def hit(self, pos: QPoint):
        """(tile, row, col) of the source pixel under `pos`, or None."""
        for i, img in enumerate(self._images):
            target = self._image_rect(i)
            if target.contains(pos):
                col = min(img.width() - 1, (pos.x() - target.x()) * img.width() // target.width())
                row = min(img.height() - 1, (pos.y() - target.y()) * img.height() // target.height())
                return i, row, col
        return None

    def mousePressEvent(self, event):
        found = self.hit(event.position().toPoint())
        if found is not None and event.button() == Qt.MouseButton.LeftButton:
            self.marker = found
            self.update()
            self.tile_clicked.emit(*found)

    def mouseMoveEvent(self, event):
        found = self.hit(event.position().toPoint())
        self.setToolTip(self._tooltips[found[0]] if found and self._tooltips[found[0]] else "")
