"""Helpers that drive the canvas the way a person would: drops, port drags, clicks in view coordinates."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine.graph import EdgeSpec, GraphSpec, make_node


def view_point(window, scene_pos: QPointF) -> QPoint:
    return window.canvas.mapFromScene(scene_pos)


def drop_mime(window, mime, scene_pos: QPointF) -> None:
    """Deliver a drag-and-drop of `mime` at `scene_pos` to the canvas, as Qt does for a real drag."""
    viewport = window.canvas.viewport()
    window.canvas.centerOn(scene_pos)
    point = view_point(window, scene_pos)  # Qt's drag enter/move events take an integer QPoint
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point, actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, enter)
    move = QDragMoveEvent(point, actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(QPointF(point), actions, mime, buttons, mods, QEvent.Type.Drop)
    QApplication.sendEvent(viewport, drop)


def drag_between(qtbot, window, start: QPointF, end: QPointF, steps: int = 5) -> None:
    """Press at `start`, move in steps, release at `end` (scene coordinates), with the left button."""
    window.canvas.centerOn((start + end) / 2)
    viewport = window.canvas.viewport()
    a, b = view_point(window, start), view_point(window, end)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(viewport, p)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=b)


def port_pos(window, node_id: str, output: bool, slot: int = 0) -> QPointF:
    item = window.scene.node_items[node_id]
    port = item.output_port if output else item.input_ports[slot]
    return port.scenePos()


def chain_graph(*kinds_and_params, spacing=220.0) -> GraphSpec:
    """Input (1×28×28) → kinds... → Output(10), connected in a row."""
    g = GraphSpec(name="test")
    prev = None
    items = [("Input", {})] + list(kinds_and_params) + [("Output", {})]
    for i, (kind, params) in enumerate(items):
        node = make_node(g, kind, params, (i * spacing, 0.0))
        g = g.with_node(node)
        if prev is not None:
            g = g.with_edge(EdgeSpec(prev, node.id, 0))
        prev = node.id
    return g


def loose_graph(*kinds, spacing=220.0) -> GraphSpec:
    """Unconnected nodes in a row."""
    g = GraphSpec(name="loose")
    for i, kind in enumerate(kinds):
        g = g.with_node(make_node(g, kind, {}, (i * spacing, 0.0)))
    return g


def small_training(window, dataset, epochs: int, batch_size: int = 32):
    """The window's dashboard set up for a short run on `dataset`."""
    d = window.training
    d.data.set_dataset(dataset)
    d.form.batch_size.setValue(batch_size)
    d.form.epochs.setValue(epochs)
    return d


def show_panel(window, qtbot, dock_name: str, widget) -> None:
    """Bring a dock to the front, as a user does before reading it (hidden panels may defer their updates)."""
    dock = window.workspace.dock(dock_name)
    dock.show()
    dock.raise_()
    qtbot.waitUntil(widget.isVisible)
