"""An image or feature map scaled to fit with crisp pixels, and under a feature map a colour legend with
its minimum, zero and maximum, so a student can read what the colours mean."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from designer.training.images import GREY, image_to_qimage, map_to_qimage
from engine.teaching.playground import format_number

# Diverging: blue for negative, near-white for zero, red for positive (symmetric around zero).
_DIVERGING_STOPS = np.array([[33, 102, 172], [103, 169, 207], [247, 247, 247], [239, 138, 98], [178, 24, 43]],
                            dtype=np.float64)
DIVERGING = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _DIVERGING_STOPS[:, c]) for c in range(3)],
                     axis=1).round().astype(np.uint8)
LEGEND_HEIGHT = 34


def map_colours(values: np.ndarray) -> tuple:
    """(QImage, lo, hi, colormap): signed maps use the diverging map symmetric around 0, the others grey."""
    v = np.asarray(values, dtype=np.float32)
    lo, hi = float(v.min()), float(v.max())
    if lo < 0 < hi:
        m = max(-lo, hi)
        return map_to_qimage(v, -m, m, DIVERGING), -m, m, DIVERGING
    return map_to_qimage(v, lo, hi, GREY), lo, hi, GREY


class ImageMapView(QWidget):
    """Paints one QImage scaled to fit; with `set_map` a legend bar (colours, min, 0, max) goes under it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.legend = None          # (colormap, lo, hi, actual min, actual max)
        self.empty_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(200, 200 + LEGEND_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(90, 90)

    def set_image(self, image) -> None:
        """A data-set image (C×H×W in 0..1)."""
        self.image, self.legend = image_to_qimage(image), None
        self.update()

    def set_map(self, values) -> None:
        """A 2-D feature map, coloured, with its legend."""
        qimage, lo, hi, cmap = map_colours(values)
        v = np.asarray(values)
        self.image, self.legend = qimage, (cmap, lo, hi, float(v.min()), float(v.max()))
        self.update()

    def clear(self, text: str = "") -> None:
        self.image, self.legend, self.empty_text = None, None, text
        self.update()

    def image_rect(self) -> QRectF:
        if self.image is None:
            return QRectF()
        legend = LEGEND_HEIGHT  # kept free even without a legend, so an image and its map line up
        scale = min(self.width() / self.image.width(), (self.height() - legend) / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - legend - h) / 2, w, h)

    def paintEvent(self, event):
        p = QPainter(self)
        pal = self.palette()
        if self.image is None:
            p.setPen(pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            p.end()
            return
        rect = self.image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels, as people inspect them
        p.drawImage(rect, self.image)
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.drawRect(rect)
        if self.legend is not None:
            self._paint_legend(p, rect)
        p.end()

    def _paint_legend(self, p: QPainter, above: QRectF):
        """The part of the colour map the values use, from their minimum to their maximum, 0 marked."""
        cmap, lo, hi, vmin, vmax = self.legend
        pal = self.palette()
        width = max(120.0, min(above.width(), 260.0))
        bar = QRectF((self.width() - width) / 2, above.bottom() + 6, width, 10)  # right under the map
        span = (hi - lo) or 1.0
        i0, i1 = (int(round((v - lo) / span * 255)) for v in (vmin, vmax))
        colours = np.ascontiguousarray(cmap[min(i0, i1):max(i0, i1) + 1][None, :, :])
        strip = QImage(colours.data, colours.shape[1], 1, colours.shape[1] * 3, QImage.Format.Format_RGB888).copy()
        p.drawImage(bar, strip)
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.drawRect(bar)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        text_rect = QRectF(bar.left() - 30, bar.bottom() + 2, bar.width() + 60, LEGEND_HEIGHT - 16)
        p.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"min {format_number(vmin)}")
        p.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, f"max {format_number(vmax)}")
        if vmin < 0 < vmax:
            x = bar.left() + bar.width() * (0 - vmin) / (vmax - vmin)
            p.drawLine(int(x), int(bar.top()) - 2, int(x), int(bar.bottom()) + 2)
            if bar.left() + 50 < x < bar.right() - 50:  # else it would overlap the min or max label
                p.drawText(QRectF(x - 20, bar.bottom() + 2, 40, LEGEND_HEIGHT - 16),
                           Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, "0")
