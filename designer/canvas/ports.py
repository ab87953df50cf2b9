"""Connection points on a node: inputs on the left edge, the output on the right edge."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer import theme

PORT_RADIUS = 6.5
HIT_RADIUS = 12.0  # generous, so a port is easy to hit at normal zoom


class PortItem(QGraphicsItem):
    """An input (`is_output` False, with a `slot`) or the output of its parent NodeItem."""

    def __init__(self, node_item, is_output: bool, slot: int = 0):
        super().__init__(node_item)
        self.node_item = node_item
        self.is_output = is_output
        self.slot = slot
        self.hovered = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        self.setToolTip("Drag to an input port to connect" if is_output
                        else f"Input {slot + 1}: drag from an output port here")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return QRectF(-HIT_RADIUS, -HIT_RADIUS, 2 * HIT_RADIUS, 2 * HIT_RADIUS)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def set_hovered(self, on: bool) -> None:
        if on != self.hovered:
            self.hovered = on
            self.update()

    def hoverEnterEvent(self, event):
        self.set_hovered(True)

    def hoverLeaveEvent(self, event):
        self.set_hovered(False)

    def paint(self, painter, option, widget=None):
        c = theme.colors()
        fill = c.port_hover if self.hovered else (c.port_out if self.is_output else c.port_in)
        painter.setPen(QPen(c.node_fill, 2))
        painter.setBrush(QBrush(fill))
        r = PORT_RADIUS + (1.5 if self.hovered else 0)
        painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))
