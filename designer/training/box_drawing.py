"""Pictures of boxes for localization and detection results: the true boxes on one copy of an image and the
predicted ones on another, in class colours (the segmentation masks' colours), each labelled."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from designer.training.images import image_to_qimage, mask_colour

PANEL = 168   # pixels a side each panel is drawn at: small test images are scaled up so labels stay legible
GAP = 4


def box_colour(cls: int) -> str:
    """A class's colour: the mask colour of class + 1 (mask class 0 is background, black)."""
    return mask_colour(int(cls) + 1)


def box_panels(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, names) -> QImage:
    """image: C×H×W in 0..1; truth: rows (class, x0, y0, x1, y1); predicted: rows (class, score, x0, y0, x1, y1),
    corners as fractions. Returns the two panels side by side: truth | prediction."""
    picture = image_to_qimage(image)
    h, w = picture.height(), picture.width()
    scale = PANEL / max(h, w, 1)
    pw, ph = max(1, round(w * scale)), max(1, round(h * scale))
    out = QImage(2 * pw + GAP, ph, QImage.Format.Format_RGB888)
    out.fill(QColor(128, 128, 128))
    painter = QPainter(out)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setPixelSize(11)
        painter.setFont(font)
        scaled = picture.scaled(pw, ph, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation)
        for left, rows, sure in ((0, truth, False), (pw + GAP, predicted, True)):
            painter.drawImage(left, 0, scaled)
            for row in rows:
                cls, score, corners = (int(row[0]), float(row[1]), row[2:6]) if sure else (int(row[0]), None, row[1:5])
                if cls < 0 or not all(math.isfinite(float(c)) for c in corners):
                    continue
                x0, y0, x1, y1 = (float(c) for c in corners)
                rect = QRectF(left + x0 * pw, y0 * ph, max(1.0, (x1 - x0) * pw), max(1.0, (y1 - y0) * ph))
                _draw_box(painter, rect, box_colour(cls), str(names[cls]) if cls < len(names) else str(cls), score,
                          left, pw)
    finally:
        painter.end()
    return out


def _draw_box(painter: QPainter, rect: QRectF, colour: str, name: str, score: float | None,
              panel_left: float, panel_width: float) -> None:
    painter.setPen(QPen(QColor(0, 0, 0, 160), 4))   # a dark halo keeps light boxes visible on light pictures
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(rect)
    painter.setPen(QPen(QColor(colour), 2))
    painter.drawRect(rect)
    text = name if score is None else f"{name} {score:.0%}"
    metrics = painter.fontMetrics()
    width = metrics.horizontalAdvance(text) + 4
    # inside the panel: a box at its right edge would push its tag over the gap (or off the picture)
    left = max(panel_left, min(rect.left(), panel_left + panel_width - width))
    tag = QRectF(left, max(0.0, rect.top() - metrics.height()), width, metrics.height())
    painter.fillRect(tag, QColor(colour))
    painter.setPen(QColor("black"))
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
