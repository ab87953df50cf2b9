"""A collapsed block on the canvas: one node standing for every layer of one use of a block, with the block's
class, its name, its totals (layers, parameters, multiply-accumulates) and the shape it passes on. Its ports
are the block's boundary: one input per layer outside that feeds it, one output per layer inside that feeds
out. Double-click (or Expand) shows the layers again."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer import theme
from designer.canvas.node_item import (BODY_FONT, BODY_METRICS, CORNER, HEADER_FONT, HEADER_HEIGHT, HEADER_METRICS,
                                       NODE_HEIGHT, NODE_WIDTH, SHAPE_FONT, SHAPE_METRICS, TEXT_PAD, _header_path,
                                       follow_change)
from designer.canvas.ports import PortItem
from engine.summary import shape_text
from engine.summary import human_count as format_count

BLOCK_COLOUR = "#5b6b8c"


def _short(n: int) -> str:
    """216k, 1.2M: a block's parameter count in the width its node has (the tooltip has the exact one)."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)


class BlockPortItem(PortItem):
    """A port of a collapsed block: it stands for a port of the layer inside (for connecting and re-attaching)."""

    def __init__(self, block_item, is_output: bool, index: int, node_id: str, slot: int):
        super().__init__(block_item, is_output, slot)
        self.index, self._node_id = index, node_id

    @property
    def node_id(self) -> str:
        return self._node_id


class BlockItem(QGraphicsItem):
    def __init__(self, block, inputs: list, outputs: list, totals: dict, pos: QPointF):
        """inputs: [(member id, slot)] per outside layer feeding the block; outputs: [member id] feeding out."""
        super().__init__()
        self.block, self.scope = block, block.scope
        self.node_id = outputs[0] if outputs else (block.members[0] if block.members else "")
        self.edges: list = []
        self.totals = totals
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setZValue(1)
        self.setPos(pos)
        self.origin = QPointF(pos)   # where the drag started: members move by the difference
        self.input_ports = [BlockPortItem(self, False, i, nid, slot) for i, (nid, slot) in enumerate(inputs)]
        for i, port in enumerate(self.input_ports):
            port.setPos(0.0, NODE_HEIGHT * (i + 1) / (len(inputs) + 1))
        self.output_ports = [BlockPortItem(self, True, i, nid, 0) for i, nid in enumerate(outputs)]
        for i, port in enumerate(self.output_ports):
            port.setPos(NODE_WIDTH, NODE_HEIGHT * (i + 1) / (len(outputs) + 1))
        self.output_port = self.output_ports[0] if self.output_ports else None

    def input_port(self, index: int):
        return self.input_ports[index] if 0 <= index < len(self.input_ports) else None

    def output_port_for(self, node_id: str):
        return next((p for p in self.output_ports if p.node_id == node_id), self.output_port)

    def center(self) -> QPointF:
        return self.pos() + QPointF(NODE_WIDTH / 2, NODE_HEIGHT / 2)

    def toolTip(self) -> str:
        t = self.totals
        return (f"Block {self.block.class_name} ({self.scope}): {t['layers']} layers, {format_count(t['params'])} "
                f"parameters, {format_count(t['macs'])} multiply-accumulates.\nDouble-click to show its layers; "
                f"right-click for Ungroup and Make unique.")

    def boundingRect(self) -> QRectF:
        return QRectF(-3, -3, NODE_WIDTH + 9, NODE_HEIGHT + 9)

    def paint(self, painter, option, widget=None):
        c = theme.colors()
        painter.setPen(QPen(c.node_border, 1.0))
        painter.setBrush(QBrush(c.node_fill))
        painter.drawRoundedRect(QRectF(5, 5, NODE_WIDTH - 2, NODE_HEIGHT - 2), CORNER, CORNER)   # a stack of layers
        selected = self.isSelected()
        error = self.totals.get("error", False)
        painter.setPen(QPen(c.node_selected if selected else (c.error_border if error else c.node_border),
                            2.5 if selected or error else 1.2))
        painter.drawRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT), CORNER, CORNER)
        painter.fillPath(_header_path(), QBrush(QColor(BLOCK_COLOUR)))
        width = int(NODE_WIDTH - 2 * TEXT_PAD)
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        fit = lambda text, metrics: metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)  # noqa: E731
        painter.setPen(c.header_text)
        painter.setFont(HEADER_FONT)
        painter.drawText(QRectF(TEXT_PAD, 1, width, HEADER_HEIGHT), left, fit(f"▣  {self.block.class_name}",
                                                                               HEADER_METRICS))
        painter.setFont(BODY_FONT)
        painter.setPen(c.text)
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 3, width, 17), left, fit(self.scope, BODY_METRICS))
        painter.setPen(c.muted_text)
        t = self.totals
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 20, width, 17), left,
                         fit(f"{t['layers']} layers · {_short(t['params'])}", BODY_METRICS))
        painter.setFont(SHAPE_FONT)
        painter.setPen(c.error_border if error else c.text)
        shape = "⚠ error" if error else ("→ " + shape_text(t["shape"]) if t.get("shape") else "")
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 38, width, 20), left, fit(shape, SHAPE_METRICS))

    def itemChange(self, change, value):
        follow_change(self, change, value)
        return super().itemChange(change, value)
