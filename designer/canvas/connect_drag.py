"""The mouse interaction that makes or re-attaches a connection by dragging between ports."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem

from designer import theme
from designer.canvas.edge_item import curve
from designer.canvas.ports import PortItem
from engine.graph import EdgeSpec


class ConnectDrag:
    """Started by a press on a port. From an output: find an input. From a connected input: pick up that
    connection's end and re-attach it elsewhere. From a free input: find an output."""

    def __init__(self, scene, port: PortItem):
        self.scene = scene
        self.start_port = port
        self.replacing = None
        self.fixed_port = port  # the end that stays put
        if not port.is_output:
            existing = scene.edge_into(port.node_id, port.slot)
            if existing is not None:
                self.replacing = existing.edge
                existing.hidden_for_drag = True
                existing.update()
                self.fixed_port = existing.source_item.output_port
        self.hover = None
        self.line = QGraphicsPathItem()
        self.line.setPen(QPen(theme.colors().edge_selected, 2, Qt.PenStyle.DashLine))
        self.line.setZValue(3)
        scene.addItem(self.line)
        self.move(port.scenePos())

    @property
    def wants_output(self) -> bool:
        return not self.fixed_port.is_output

    def move(self, pos: QPointF) -> None:
        port = self._port_at(pos)
        if port is not self.hover:
            if self.hover is not None:
                self.hover.set_hovered(False)
            self.hover = port
            if port is not None:
                port.set_hovered(True)
        end = port.scenePos() if port is not None else pos
        start = self.fixed_port.scenePos()
        self.line.setPath(curve(end, start) if self.wants_output else curve(start, end))

    def finish(self, pos: QPointF) -> None:
        port = self._port_at(pos)
        self.cancel(pos)
        if port is None:
            if self.replacing is not None:
                self.scene.status_message.emit("Connection left where it was; press Delete to remove a "
                                               "selected connection.")
            return
        if self.wants_output:
            edge = EdgeSpec(port.node_id, self.fixed_port.node_id, self.fixed_port.slot)
        else:
            edge = EdgeSpec(self.fixed_port.node_id, port.node_id, port.slot)
        if edge == self.replacing:
            return
        problem = self.scene.document.connect(edge, replacing=self.replacing)
        if problem:
            self.scene.status_message.emit(problem)

    def cancel(self, pos: QPointF | None = None) -> None:
        if self.hover is not None:
            self.hover.set_hovered(False)
        # The scene sends no hover-leave while the mouse is grabbed: without this the port where the drag
        # started stayed highlighted after the connection was made elsewhere.
        self.start_port.set_hovered(pos is not None and self.start_port.contains(self.start_port.mapFromScene(pos)))
        if self.line.scene() is not None:
            self.scene.removeItem(self.line)
        if self.replacing is not None:
            item = self.scene.edge_items.get(self.replacing)
            if item is not None:
                item.hidden_for_drag = False
                item.update()

    def _port_at(self, pos: QPointF):
        for item in self.scene.items(pos):
            if isinstance(item, PortItem) and item.is_output == self.wants_output \
                    and item.node_id != self.fixed_port.node_id:
                return item
        return None
