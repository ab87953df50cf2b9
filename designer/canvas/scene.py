"""GraphScene: mirrors the GraphDocument's nodes and edges as items; turns mouse work into document edits."""
from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QMenu, QToolTip

from designer import dialogs, theme
from designer.canvas.block_item import BlockItem
from designer.canvas.collapse import Collapser
from designer.canvas.connect_drag import ConnectDrag
from designer.canvas.edge_item import EdgeItem
from designer.canvas.node_item import NODE_HEIGHT, NODE_WIDTH, NodeItem
from designer.canvas.ports import PortItem
from designer.graph_edits import can_insert_on_edge, free_position, input_port_count
from designer.mime import BLOCK_MIME, LAYER_KIND_MIME, block_from_mime, kind_from_mime
from engine.registry import REGISTRY
from engine.summary import shape_text

GRID = 20.0


class GraphScene(QGraphicsScene):
    status_message = Signal(str)
    files_dropped = Signal(list)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_items: dict = {}
        self.edge_items: dict = {}
        self.node_menu_actions: list = []        # set by the window: Cut, Copy, Duplicate, Delete, ...
        self.background_menu_actions: list = []  # Paste, Select All, Auto-layout, Fit
        self._drag = None
        self._drop_edge = None
        # Qt's BSP index: with a linear scan every paint asked all items (500 layers, their ports, edges and
        # labels: thousands of calls into Python) for their bounds. Measured with bench/canvas.py: a drag frame
        # 11 ms -> 6.5 ms; a parameter edit that relabels every item costs the same either way.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.edge_added.connect(self._on_edge_added)
        document.edge_removed.connect(self._on_edge_removed)
        document.params_changed.connect(self._on_params_changed)
        document.node_moved.connect(self._on_node_moved)
        document.analysis_changed.connect(self._on_analysis_changed)
        document.graph_replaced.connect(self._on_graph_replaced)
        self.collapser = Collapser(self)
        document.graph_changed.connect(self.collapser.refresh)
        document.about_to_replace.connect(self.collapser.collapsed.clear)   # another design: nothing collapsed
        self.block_menu_actions: list = []       # set by the window: Ungroup, Make unique
        self.rebuild()

    # ---- mirroring the document ---------------------------------------------------------------
    def rebuild(self) -> None:
        """Replay what the document already holds (used at start and after loading a big design)."""
        self.clearSelection()
        for item in list(self.edge_items.values()):
            item.detach()
        self.clear()
        self.node_items, self.edge_items = {}, {}
        for node in self.document.graph.nodes:
            self._on_node_added(node.id)
        for edge in self.document.graph.edges:
            self._on_edge_added(edge)
        self._on_analysis_changed(self.document.analysis)
        self.collapser.items = {}   # clear() removed them
        self.collapser.refresh()
        self.setSceneRect(self._design_rect())

    def _on_graph_replaced(self):
        self.setSceneRect(self._design_rect())

    def _design_rect(self) -> QRectF:
        """The design's extent plus a wide margin, so there is always room to scroll and drop around it."""
        xs = [n.pos[0] for n in self.document.graph.nodes] or [0.0]
        ys = [n.pos[1] for n in self.document.graph.nodes] or [0.0]
        margin = 3000.0
        return QRectF(min(xs) - margin, min(ys) - margin,
                      max(xs) - min(xs) + 2 * margin + NODE_WIDTH, max(ys) - min(ys) + 2 * margin + NODE_HEIGHT)

    def _grow_scene_rect(self):
        rect = self._design_rect()
        if not self.sceneRect().contains(rect):
            self.setSceneRect(self.sceneRect().united(rect))  # grow only: shrinking would make the view jump

    def _on_node_added(self, nid):
        graph = self.document.graph
        item = NodeItem(graph.node(nid), input_port_count(graph, nid))
        self.node_items[nid] = item
        self.addItem(item)

    def _on_node_removed(self, nid):
        item = self.node_items.pop(nid, None)
        if item is not None:
            self.removeItem(item)

    def _on_edge_added(self, edge):
        src, dst = self.node_items.get(edge.source), self.node_items.get(edge.target)
        if src is None or dst is None:
            return
        self._update_ports(edge.target)
        item = EdgeItem(edge, src, dst)
        info = self.document.analysis.nodes.get(edge.source)
        if info is not None:
            item.set_label(shape_text(info.shape) if info.shape else "")
        self.edge_items[edge] = item
        self.addItem(item)

    def _on_edge_removed(self, edge):
        item = self.edge_items.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)
        self._update_ports(edge.target)

    def _update_ports(self, nid):
        item = self.node_items.get(nid)
        if item is not None and self.document.graph.has_node(nid):
            count = input_port_count(self.document.graph, nid)
            if count != len(item.input_ports):
                item.set_input_port_count(count)
                for edge in item.edges:
                    edge.refresh()

    def _on_params_changed(self, nid):
        item = self.node_items.get(nid)
        if item is not None:
            item.set_spec(self.document.graph.node(nid))

    def _on_node_moved(self, nid):
        item = self.node_items.get(nid)
        if item is not None:
            pos = QPointF(*self.document.graph.node(nid).pos)
            if item.pos() != pos:
                item.setPos(pos)

    def _on_analysis_changed(self, analysis):
        self._grow_scene_rect()
        issues: dict = {}
        for issue in analysis.issues:
            if issue.node_id and (issue.node_id not in issues or issue.severity == "error"
                                  and issues[issue.node_id].severity != "error"):
                issues[issue.node_id] = issue
        changed_sources = set()
        for nid, item in self.node_items.items():
            info = analysis.nodes.get(nid)
            issue = issues.get(nid)
            if info is not item.info or issue != item.issue:
                if item.info is None or info is None or info.shape != item.info.shape:
                    changed_sources.add(nid)
                item.set_info(info, issue)
        for edge, item in self.edge_items.items():
            if edge.source in changed_sources or not item.label:
                info = analysis.nodes.get(edge.source)
                item.set_label(shape_text(info.shape) if info is not None and info.shape else "")

    def helpEvent(self, event):
        """Layers and connections make their tooltips when asked (see NodeItem.toolTip); Qt's own help event
        only knows tooltips stored with setToolTip, which would cost every edit a rebuild of all of them."""
        for item in self.items(event.scenePos()):
            if isinstance(item, (NodeItem, EdgeItem, BlockItem)):
                QToolTip.showText(event.screenPos(), item.toolTip(), event.widget())
                event.accept()
                return
            if QGraphicsItem.toolTip(item):   # a port or another item with a stored tooltip
                break
        super().helpEvent(event)

    # ---- queries ----------------------------------------------------------------------------
    def selected_node_ids(self) -> list:
        """Selected layers; a selected collapsed block stands for all of its layers."""
        ids = []
        for i in self.selectedItems():
            if isinstance(i, NodeItem):
                ids.append(i.node_id)
            elif isinstance(i, BlockItem):
                ids.extend(i.block.members)
        return list(dict.fromkeys(ids))

    def selected_blocks(self) -> list:
        return [i.scope for i in self.selectedItems() if isinstance(i, BlockItem)]

    def selected_edges(self) -> list:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids) -> None:
        self.clearSelection()
        for nid in node_ids:
            item = self.node_items.get(nid)
            if item is not None:
                item.setSelected(True)

    def edge_into(self, node_id, slot):
        for edge, item in self.edge_items.items():
            if edge.target == node_id and edge.slot == slot:
                return item
        return None

    def edge_at(self, pos: QPointF):
        for item in self.items(pos):
            if isinstance(item, EdgeItem):
                return item
            if isinstance(item, (NodeItem, PortItem)):
                return None
        return None

    # ---- mouse: connecting and moving ---------------------------------------------------------
    def mousePressEvent(self, event):
        if self._drag is None and event.button() == Qt.MouseButton.LeftButton:
            for item in self.items(event.scenePos()):
                if isinstance(item, PortItem) and isinstance(item.parentItem(), BlockItem):
                    break   # a collapsed block's boundary: expand the block to rewire inside it
                if isinstance(item, PortItem):
                    self._drag = ConnectDrag(self, item)
                    event.accept()
                    return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._drag is not None:
            self._drag.move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._drag is not None:
            drag, self._drag = self._drag, None
            drag.finish(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def mouseDoubleClickEvent(self, event):
        block = next((i for i in self.items(event.scenePos()) if isinstance(i, BlockItem)), None)
        if block is not None:   # open the block in place: its layers come back, laid out as now shown
            self.collapser.set_collapsed(block.scope, False)
            self.document.auto_layout(self.collapser.collapsed)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def commit_moves(self) -> None:
        """One undo step for everything a drag moved (a collapsed block moves all of its layers)."""
        graph = self.document.graph
        moved = {}
        for item in self.selectedItems():
            if isinstance(item, BlockItem) and item.pos() != item.origin:
                moved.update(self.collapser.moved(item))
        for item in self.selectedItems():
            if isinstance(item, NodeItem) and graph.has_node(item.node_id):
                x, y = round(item.pos().x(), 1), round(item.pos().y(), 1)
                old = graph.node(item.node_id).pos
                if abs(old[0] - x) > 0.05 or abs(old[1] - y) > 0.05:
                    moved[item.node_id] = (x, y)
        if moved:
            self.document.move_nodes(moved)

    # ---- drops from the palette (and design files) ----------------------------------------------
    def dragEnterEvent(self, event):
        self._accept_drag(event)

    def dragMoveEvent(self, event):
        self._accept_drag(event)

    def dragLeaveEvent(self, event):
        self._set_drop_edge(None)

    def _accept_drag(self, event):
        mime = event.mimeData()
        kind = kind_from_mime(mime)
        if mime.hasFormat(BLOCK_MIME):
            self._set_drop_edge(self.edge_at(event.scenePos()))
            event.acceptProposedAction()
        elif kind in REGISTRY:
            edge = self.edge_at(event.scenePos()) if can_insert_on_edge(kind) else None
            self._set_drop_edge(edge)
            event.acceptProposedAction()
        elif mime.hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def _set_drop_edge(self, edge_item):
        if edge_item is self._drop_edge:
            return
        if self._drop_edge is not None and self._drop_edge.scene() is self:
            self._drop_edge.drop_highlight = False
            self._drop_edge.update()
        self._drop_edge = edge_item
        if edge_item is not None:
            edge_item.drop_highlight = True  # "the layer goes in here"
            edge_item.update()

    def dropEvent(self, event):
        mime = event.mimeData()
        self._set_drop_edge(None)
        if mime.hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
            self.drop_block(block_from_mime(mime), event.scenePos())
        elif mime.hasFormat(LAYER_KIND_MIME):
            event.acceptProposedAction()
            self.drop_kind(kind_from_mime(mime), event.scenePos())
        elif mime.hasUrls():
            event.acceptProposedAction()
            self.files_dropped.emit([u.toLocalFile() for u in mime.urls() if u.isLocalFile()])

    def drop_kind(self, kind: str, scene_pos: QPointF) -> str:
        """Add a layer where it was dropped, or insert it into the connection under the drop point."""
        if kind not in REGISTRY:
            self.status_message.emit(f"Unknown layer kind {kind!r}; drag a layer from the palette.")
            return ""
        pos = (round(scene_pos.x() - NODE_WIDTH / 2, 1), round(scene_pos.y() - NODE_HEIGHT / 2, 1))
        edge = self.edge_at(scene_pos) if can_insert_on_edge(kind) else None
        if edge is not None:
            nid = self.document.insert_on_edge(edge.edge, kind, pos)
            self.status_message.emit(f"Inserted {kind} between {edge.edge.source} and {edge.edge.target}.")
            return nid
        # Dropped onto other layers: slide to the nearest free spot, so no port ends up hidden under a layer.
        return self.document.add_node(kind, free_position(self.document.graph, pos, (NODE_WIDTH, NODE_HEIGHT)))

    def drop_block(self, ref: str, scene_pos: QPointF) -> list:
        """Add a block from the library or another use of one of the design's blocks; dropped on a connection,
        the block goes into it."""
        from engine.block_library import LIBRARY
        from engine.blocks import blocks, fragment_of

        source, _, name = ref.partition(":")
        graph = self.document.graph
        if source == "library" and name in LIBRARY:
            fragment, class_name = LIBRARY[name].build(), LIBRARY[name].class_name
        elif source == "design" and any(b.class_name == name for b in blocks(graph).values()):
            scope = next(s for s, b in blocks(graph).items() if b.class_name == name)
            fragment, class_name = fragment_of(graph, scope), name
        else:
            self.status_message.emit("That block is no longer available; drag one from the Blocks list.")
            return []
        edge = self.edge_at(scene_pos)
        pos = (round(scene_pos.x() - NODE_WIDTH / 2, 1), round(scene_pos.y() - NODE_HEIGHT / 2, 1))
        ids = self.document.insert_block(fragment, class_name, pos, edge.edge if edge is not None else None)
        self.status_message.emit(f"Added a {class_name} block of {len(ids)} layers"
                                 + (f" between {edge.edge.source} and {edge.edge.target}." if edge is not None else
                                    "; connect its input and output."))
        return ids

    # ---- context menu ---------------------------------------------------------------------------
    def contextMenuEvent(self, event):
        item = next((i for i in self.items(event.scenePos()) if isinstance(i, (NodeItem, EdgeItem, BlockItem))),
                    None)
        menu = QMenu()
        if isinstance(item, BlockItem):
            if not item.isSelected():
                self.clearSelection()
                item.setSelected(True)
            menu.addAction("Expand", lambda: (self.collapser.set_collapsed(item.scope, False),
                                              self.document.auto_layout(self.collapser.collapsed)))
            for action in self.block_menu_actions + [None] + self.node_menu_actions:
                menu.addAction(action) if action is not None else menu.addSeparator()
        elif isinstance(item, NodeItem):
            if not item.isSelected():
                self.select_nodes([item.node_id])
            issue = item.issue
            if issue is not None and issue.fix is not None:
                fix = issue.fix
                menu.addAction(f"Fix: {fix.label}", lambda: self.document.apply_fix(fix))
                menu.addSeparator()
            for action in self.node_menu_actions:
                menu.addAction(action) if action is not None else menu.addSeparator()
        elif isinstance(item, EdgeItem):
            edge = item.edge
            menu.addAction("Delete connection", lambda: self.document.remove_edges([edge]))
        else:
            for action in self.background_menu_actions:
                menu.addAction(action) if action is not None else menu.addSeparator()
        if not menu.isEmpty():
            dialogs.exec_menu(menu, event.screenPos())
        event.accept()

    # ---- background ------------------------------------------------------------------------------
    def drawBackground(self, painter, rect):
        c = theme.colors()
        painter.fillRect(rect, c.background)
        scale = painter.worldTransform().m11()
        if scale < 0.45:
            return  # a grid denser than a few pixels is only noise
        step = GRID * (2 if scale < 0.8 else 1)
        left, top = math.floor(rect.left() / step) * step, math.floor(rect.top() / step) * step
        columns = int((rect.right() - left) / step) + 1
        rows = int((rect.bottom() - top) / step) + 1
        lines = [QLineF(left + i * step, rect.top(), left + i * step, rect.bottom()) for i in range(columns)]
        lines += [QLineF(rect.left(), top + j * step, rect.right(), top + j * step) for j in range(rows)]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)   # hairlines on whole pixels: 3× faster
        painter.setPen(QPen(c.grid, 0))
        painter.drawLines(lines)  # one call: much cheaper than a Python loop of drawLine
        painter.restore()
