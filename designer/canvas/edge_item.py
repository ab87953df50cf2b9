"""A connection on the canvas: a curve from an output port to an input port, labelled with its tensor shape."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer import theme

LABEL_FONT = QFont()
LABEL_FONT.setPointSizeF(7.5)
_METRICS: list = []


def _label_metrics() -> QFontMetricsF:
    """One QFontMetricsF for every label (made after the application exists): hundreds are placed per edit."""
    if not _METRICS:
        _METRICS.append(QFontMetricsF(LABEL_FONT))
    return _METRICS[0]


def _label_width(text: str) -> float:
    return _label_metrics().horizontalAdvance(text) + 8


BACK_BULGE = 40.0   # how far a backward edge swings out past its ports before turning
BELOW_NODES = 75.0  # a backward edge between ports at about the same height runs this far below them


def curve(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal S-curve, so edges leave outputs to the right and enter inputs from the left.

    An edge that runs backwards (auto-layout wraps deep networks into bands, so the last layer of one band
    feeds the first of the next) turns down out of its output, runs back along the gap between the bands
    and turns into its input: an S-curve would swing far out on both sides and cut across the design."""
    path = QPainterPath(start)
    if end.x() < start.x() - 10.0:
        dy = end.y() - start.y()
        mid_y = start.y() + dy / 2 if abs(dy) > 110.0 else max(start.y(), end.y()) + BELOW_NODES
        out, into = start.x() + BACK_BULGE, end.x() - BACK_BULGE
        path.cubicTo(QPointF(out, start.y()), QPointF(out, mid_y), QPointF(start.x(), mid_y))
        path.lineTo(QPointF(end.x(), mid_y))
        path.cubicTo(QPointF(into, mid_y), QPointF(into, end.y()), end)
        return path
    dx = max(40.0, abs(end.x() - start.x()) * 0.5)
    path.cubicTo(start + QPointF(dx, 0), end - QPointF(dx, 0), end)
    return path


class EdgeLabel(QGraphicsItem):
    """An edge's shape label, drawn above the layers: a layer standing in the way of a connection hid the
    label under it. It takes no mouse buttons, so clicks reach the edge (or layer) below as before."""

    def __init__(self, edge):
        super().__init__()
        self.edge = edge
        self.setZValue(2)    # layers are at 1, a selected layer at 1.5
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        return self.edge._label_rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter, option, widget=None):
        edge = self.edge
        if not edge.label or edge.hidden_for_drag or not edge.isVisible():
            return
        c = theme.colors()
        strong = edge.isSelected() or edge.drop_highlight
        painter.setPen(QPen(c.port_hover if edge.drop_highlight else (c.edge_selected if strong else c.edge), 1))
        painter.setBrush(QBrush(c.edge_label_fill))
        painter.drawRoundedRect(edge._label_rect, 4, 4)
        painter.setFont(LABEL_FONT)
        painter.setPen(c.text)
        # never clipped: at some zooms the text is drawn a little wider than it measured ('6×26×2')
        painter.drawText(edge._label_rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextDontClip, edge.label)


class EdgeItem(QGraphicsItem):
    def __init__(self, edge, source_item, target_item):
        super().__init__()
        self.edge = edge
        self.source_item = source_item
        self.target_item = target_item
        self.label = ""
        self.hidden_for_drag = False
        self.drop_highlight = False   # a palette drag hovers here: the layer would be inserted
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._shape = None
        self.label_item = EdgeLabel(self)   # joins the scene with this edge (itemChange)
        self.target_slot = None   # a collapsed block's input port instead of the edge's own slot
        self.source_port = None   # a collapsed block's output port for this edge's layer
        source_item.edges.append(self)
        target_item.edges.append(self)
        self.refresh()

    def detach(self) -> None:
        for item in (self.source_item, self.target_item):
            if self in item.edges:
                item.edges.remove(self)

    def set_label(self, text: str) -> None:
        if text == self.label:
            return
        same_size = bool(self.label and text) and _label_width(text) == self._label_rect.width()
        self.label = text
        if same_size:
            # Only the text is new ("8×8×8" -> "9×9×8" after an edit upstream; digits are equally wide in
            # most fonts): no geometry changes, so the scene's index is left alone and only the label repaints.
            self.label_item.update()
            return
        self.prepareGeometryChange()
        self._place_label()  # the curve itself did not move
        self.update()

    def retarget(self, source_item, target_item, target_slot=None, source_port=None) -> None:
        """Attach to other items (a collapsed block standing for a layer, or the layer again)."""
        if source_item is None or target_item is None:
            return
        self.detach()
        self.source_item, self.target_item = source_item, target_item
        self.target_slot, self.source_port = target_slot, source_port
        source_item.edges.append(self)
        target_item.edges.append(self)
        self.refresh()

    def endpoints(self):
        out = self.source_port or self.source_item.output_port
        start = out.scenePos() if out else self.source_item.center()
        port = self.target_item.input_port(self.edge.slot if self.target_slot is None else self.target_slot)
        end = port.scenePos() if port is not None else self.target_item.center()
        return start, end

    def refresh(self) -> None:
        self.prepareGeometryChange()
        start, end = self.endpoints()
        self._path = curve(start, end)
        self._place_label()
        self.update()

    def _place_label(self) -> None:
        self._shape = None
        if self.label:
            w, h = _label_width(self.label), _label_metrics().height() + 2
            mid = self._path.pointAtPercent(0.5)
            # Just above the wire: clear of the ports, which sit on the wire at both ends.
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h - 7, w, h)
        else:
            self._label_rect = QRectF()
        self._bounds = self._path.boundingRect().adjusted(-6, -6, 6, 6).united(self._label_rect)  # asked often
        self.label_item.prepareGeometryChange()
        self.label_item.update()

    def toolTip(self) -> str:
        """Made when asked (the scene's help event), not each time the label changes."""
        return (f"{self.edge.source} → {self.edge.target}" + (f": {self.label}" if self.label else "")
                + "\nDrag the input end to re-attach it; Delete removes it.")

    def boundingRect(self) -> QRectF:
        return self._bounds

    def update(self, *args):
        # the label repaints with the edge: a drag hides both, a drop target highlights both
        super().update(*args)
        self.label_item.update()

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemSceneChange and self.label_item.scene() is not None:
            self.label_item.scene().removeItem(self.label_item)   # removed or moved: the label goes too
        elif change == QGraphicsItem.GraphicsItemChange.ItemSceneHasChanged and value is not None:
            value.addItem(self.label_item)
        elif change in (QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged,
                        QGraphicsItem.GraphicsItemChange.ItemVisibleHasChanged):
            self.label_item.update()
        return super().itemChange(change, value)

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(14)  # easy to click and to drop a layer onto
            self._shape = stroker.createStroke(self._path)
            if not self._label_rect.isNull():
                self._shape.addRect(self._label_rect)
        return self._shape

    def paint(self, painter, option, widget=None):
        if self.hidden_for_drag:
            return
        c = theme.colors()
        strong = self.isSelected() or self.drop_highlight
        color = c.port_hover if self.drop_highlight else (c.edge_selected if strong else c.edge)
        painter.setPen(QPen(color, 3.0 if strong else 1.8, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)   # the label is drawn by self.label_item, above the layers
