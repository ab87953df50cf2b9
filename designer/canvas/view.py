"""GraphView: zoom with the wheel around the cursor, pan with the middle button or Space+drag, fit."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontInfo, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsView

from designer.canvas.block_item import BlockItem
from designer.canvas.node_item import BODY_FONT, NodeItem

MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
READABLE_PIXELS = 9.0   # node text smaller than this on screen is hard to read


def readable_zoom() -> float:
    """The smallest zoom at which the nodes' body text is READABLE_PIXELS high on screen (about 0.8 at 96 dpi)."""
    return READABLE_PIXELS / max(1, QFontInfo(BODY_FONT).pixelSize())


def text_pixels(zoom: float) -> float:
    """How high the nodes' body text is on screen at `zoom`."""
    return QFontInfo(BODY_FONT).pixelSize() * zoom


class GraphView(QGraphicsView):
    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_start = None
        self._space_down = False
        # A design just opened keeps being fitted as docks settle and the window resizes, until the user
        # zooms, pans or clicks in the canvas: from then on the view stays where they put it.
        self._keep_fitted = False

    # ---- zoom -------------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        self._keep_fitted = False
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        if abs(factor - 1) > 1e-6:
            self.scale(factor, factor)

    def zoom_in(self):
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.zoom_by(1.25)
        self.setTransformationAnchor(anchor)

    def zoom_out(self):
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.zoom_by(0.8)
        self.setTransformationAnchor(anchor)

    def reset_zoom(self):
        self._keep_fitted = False
        self.setTransform(QTransform.fromScale(1.0, 1.0))

    def wheelEvent(self, event):
        self._keep_fitted = False
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # Shift+wheel scrolls, as in most editors
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_at(1.15 ** steps, event.position().toPoint())
        event.accept()

    def zoom_at(self, factor: float, view_pos) -> None:
        """Zoom keeping the scene point under `view_pos` (the cursor) where it is."""
        scene_point = self.mapToScene(view_pos)
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.zoom_by(factor)
        self.setTransformationAnchor(anchor)
        drift = self.mapFromScene(scene_point) - view_pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())

    def fit_all(self) -> None:
        """Show the whole design (Fit to Window)."""
        self._fit(readable=False)
        self._keep_fitted = False

    def show_design(self) -> None:
        """Show a freshly opened (or auto-laid-out) design: all of it if that stays readable, else its start
        (the Input, top-left) at a readable zoom; again whenever the viewport resizes, until the user acts."""
        self._fit(readable=True)
        self._keep_fitted = True

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._keep_fitted:
            self._fit(readable=True)

    def _fit(self, readable: bool) -> None:
        items = [i for i in self.scene().items() if isinstance(i, (NodeItem, BlockItem)) and i.isVisible()]
        if not items:
            self.setTransform(QTransform())
            self.centerOn(0, 0)
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect.adjust(-50, -60, 50, 60)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        zoom = self.zoom()
        target = min(max(zoom, readable_zoom() if readable else MIN_ZOOM), 1.25)
        if abs(target - zoom) > 1e-6:
            self.setTransform(QTransform.fromScale(target, target))
            if target > zoom and readable:  # too big to fit readably: show where the data comes in
                width, height = self.viewport().width() / target, self.viewport().height() / target
                y = rect.top() + height / 2 if rect.height() > height else rect.center().y()
                self.centerOn(rect.left() + width / 2, y)
            else:
                self.centerOn(rect.center())

    def center_on_node(self, item) -> None:
        self.ensureVisible(item.sceneBoundingRect(), 80, 80)

    def visible_center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # ---- pan ---------------------------------------------------------------------------------------
    def keyPressEvent(self, event):
        self._keep_fitted = False
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event):
        self._keep_fitted = False
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_start = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_start is not None:
            delta = event.position() - self._pan_start
            self._pan_start = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_start is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan_start = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)
