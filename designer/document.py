"""GraphDocument: the only owner of the editable graph.

Views never change the graph; they call the edit methods here, which push a `GraphEditCommand`. Applying a
command diffs the old and new graph and emits past-tense signals for exactly what changed, then re-analyses
(incrementally) and emits `analysis_changed` and `graph_changed`.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from designer import graph_edits as edits
from designer.commands import GraphEditCommand
from engine.analysis import Analyzer
from engine.fixes import apply_fix
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine import blocks
from engine.layout import auto_layout


class GraphDocument(QObject):
    node_added = Signal(str)
    node_removed = Signal(str)
    edge_added = Signal(object)
    edge_removed = Signal(object)
    params_changed = Signal(str)      # params or label of a node changed
    node_moved = Signal(str)
    analysis_changed = Signal(object)
    graph_changed = Signal()
    file_path_changed = Signal(str)
    selection_requested = Signal(list)  # node ids an edit wants selected (paste, insert, fix)
    about_to_replace = Signal()         # set_graph is starting: per-design state must let go of the old one
    graph_replaced = Signal()           # set_graph: a different design (New, Open, restore)

    node_size = (116.0, 84.0)  # the canvas's node size, so inserted layers land in free space

    def __init__(self, graph: GraphSpec | None = None, parent=None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._analyzer = Analyzer()
        self._graph = GraphSpec()
        self._analysis = self._analyzer.analyze(self._graph)
        self.revision = 0
        self.file_path = ""
        if graph is not None:
            self.set_graph(graph, "")

    # ---- state -------------------------------------------------------------------------------
    @property
    def graph(self) -> GraphSpec:
        return self._graph

    @property
    def analysis(self):
        return self._analysis

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def display_name(self) -> str:
        if self.file_path:
            from pathlib import Path
            return Path(self.file_path).name
        return self._graph.name or "Untitled"

    def set_graph(self, graph: GraphSpec, path: str = "") -> None:
        """Replace the whole design (New, Open, restore); clears the undo history."""
        self.about_to_replace.emit()
        self.undo_stack.clear()
        self._apply(graph)
        self.set_file_path(path)
        self.undo_stack.setClean()
        self.graph_replaced.emit()

    def set_file_path(self, path: str) -> None:
        self.file_path = path or ""
        self.file_path_changed.emit(self.file_path)

    def reanalyze(self) -> None:
        """Analyse the unchanged graph again (the memory limit changed) and emit the new analysis."""
        self._analysis = self._analyzer.analyze(self._graph)
        self.analysis_changed.emit(self._analysis)

    # ---- edits (each is one undo step) -------------------------------------------------------
    def push(self, text: str, after: GraphSpec, merge_key=None, select=None) -> bool:
        if after == self._graph:
            return False
        self.undo_stack.push(GraphEditCommand(self, text, self._graph, after, merge_key, select))
        if select:
            self.selection_requested.emit(list(select))
        return True

    def add_node(self, kind: str, pos=(0.0, 0.0), params=None) -> str:
        node = make_node(self._graph, kind, params, pos)
        self.push(f"Add {kind}", self._graph.with_node(node), select=[node.id])
        return node.id

    def remove_nodes(self, node_ids) -> None:
        ids = [i for i in node_ids if self._graph.has_node(i)]
        if ids:
            what = self._graph.node(ids[0]).title if len(ids) == 1 else f"{len(ids)} layers"
            self.push(f"Delete {what}", edits.without_nodes(self._graph, ids))

    def remove_edges(self, edges) -> None:
        g = self._graph
        for e in edges:
            g = g.without_edge(e)
        self.push("Delete connection" if len(edges) == 1 else f"Delete {len(edges)} connections", g)

    def remove(self, node_ids, edges) -> None:
        """Delete nodes (with their edges) and edges in one step."""
        g = edits.without_nodes(self._graph, node_ids)
        for e in edges:
            g = g.without_edge(e)
        self.push("Delete selection", g)

    def connect(self, edge: EdgeSpec, replacing: EdgeSpec | None = None) -> str:
        """Add (or re-attach) a connection; return '' or the reason it was refused."""
        problem = edits.connection_problem(self._graph, edge, ignore=replacing)
        if problem:
            return problem
        g = self._graph.without_edge(replacing) if replacing is not None else self._graph
        self.push("Reconnect" if replacing else "Connect", g.with_edge(edge))
        return ""

    def insert_on_edge(self, edge: EdgeSpec, kind: str, pos=None) -> str:
        room, spot = edits.room_on_edge(self._graph, edge.source, edge.target, pos, self.node_size)
        node = make_node(room, kind, {}, spot)
        self.push(f"Insert {kind}", room.insert_on_edge(edge, node), select=[node.id])
        return node.id

    def set_params(self, node_id: str, params: dict, merge_field: str | None = None) -> str:
        """Change parameters; return '' or the validation message. Typing into one field merges."""
        try:   # inside a block used several times, the edit is made in every use (engine.blocks)
            after = blocks.with_params_everywhere(self._graph, node_id, params)
        except ValueError as exc:
            return str(exc)
        key = ("params", node_id, merge_field) if merge_field else None
        self.push(f"Change {', '.join(params)} of {self._graph.node(node_id).title}", after, key)
        return ""

    def set_label(self, node_id: str, label: str, merge: bool = True) -> None:
        key = ("label", node_id) if merge else None
        self.push(f"Rename {node_id}", edits.relabelled(self._graph, node_id, label.strip()), key)

    def move_nodes(self, positions: dict) -> None:
        positions = {k: (float(v[0]), float(v[1])) for k, v in positions.items() if self._graph.has_node(k)}
        if positions:
            text = "Move layer" if len(positions) == 1 else f"Move {len(positions)} layers"
            self.push(text, edits.moved(self._graph, positions))

    def apply_fix(self, fix) -> None:
        after, inserted = apply_fix(self._graph, fix)
        if inserted:  # the engine puts it halfway along the edge, usually on top of its neighbours
            source = next(e.source for e in after.edges if e.target == inserted)
            target = next(e.target for e in after.edges if e.source == inserted)
            after, spot = edits.room_on_edge(after, source, target, None, self.node_size, ignore=(inserted,))
            after = edits.moved(after, {inserted: spot})
        self.push(fix.label, after, select=[inserted or fix.node_id])

    def auto_layout(self, collapsed=()) -> None:
        """Lay the design out; with collapsed blocks, as it looks with them collapsed (one place each)."""
        self.push("Auto-layout", blocks.collapsed_layout(auto_layout(self._graph), collapsed) if collapsed
                  else auto_layout(self._graph))

    # ---- blocks (engine.blocks): each is one undo step ------------------------------------------------
    def group(self, node_ids, class_name: str, name: str = "") -> str:
        """Group layers into a new use of a block; return '' or why not (in words)."""
        name = name or blocks.free_block_name(self._graph)
        try:
            after = blocks.group(self._graph, node_ids, name, class_name)
        except blocks.BlockError as exc:
            return str(exc)
        self.push(f"Group {len(list(node_ids))} layers into {class_name}", after)
        return ""

    def insert_block(self, fragment, class_name: str, pos=(0.0, 0.0), edge: EdgeSpec | None = None) -> list:
        """Add a use of a block from a fragment (engine.block_library, or a copy of a use in this design) at
        `pos`, or into the connection `edge`; return the new layers' ids. A block of the same class joins it
        (its settings shared) when built alike, else it gets a class of its own."""
        xs = [n.pos[0] for n in fragment.graph.nodes] or [0.0]
        ys = [n.pos[1] for n in fragment.graph.nodes] or [0.0]
        after, ids = edits.merge_pasted(self._graph, fragment.graph, (pos[0] - min(xs), pos[1] - min(ys)))
        new = dict(zip((n.id for n in fragment.graph.nodes), ids))
        if edge is not None and edge in after.edges:
            after = after.without_edge(edge)
            for node, slot in fragment.entries:
                after = after.with_edge(EdgeSpec(edge.source, new[node], slot))
            after = after.with_edge(EdgeSpec(new[fragment.exit], edge.target, edge.slot))
        name = blocks.free_block_name(after, blocks.snake(class_name))
        try:
            grouped = blocks.group(after, ids, name, class_name)
        except blocks.BlockError:   # built differently from this design's block of that name: one of its own
            grouped = blocks.group(after, ids, name, _free_class(after, class_name))
        self.push(f"Add block {class_name}", grouped, select=ids)
        return ids

    def ungroup(self, scope: str) -> str:
        return self._block_edit(f"Ungroup {scope}", blocks.ungroup, scope)

    def make_unique(self, scope: str) -> str:
        return self._block_edit(f"Make {scope} unique", blocks.make_unique, scope)

    def _block_edit(self, text: str, edit, scope: str) -> str:
        """Push edit(graph, scope) as one undo step; '' or why it cannot be done."""
        try:
            after = edit(self._graph, scope)
        except blocks.BlockError as exc:
            return str(exc)
        self.push(text, after)
        return ""

    def paste(self, pasted: GraphSpec, offset=(40.0, 40.0)) -> list:
        after, ids = edits.merge_pasted(self._graph, pasted, offset)
        self.push("Paste" if len(ids) != 1 else f"Paste {pasted.nodes[0].kind}", after, select=ids)
        return ids

    # ---- applying a graph (commands call this) -----------------------------------------------
    def _apply(self, after: GraphSpec) -> None:
        before = self._graph
        old_nodes, new_nodes = before.node_map(), after.node_map()
        old_edges, new_edges = set(before.edges), set(after.edges)
        self._graph = after
        for e in before.edges:
            if e not in new_edges:
                self.edge_removed.emit(e)
        for nid in old_nodes:
            if nid not in new_nodes:
                self.node_removed.emit(nid)
        for nid, node in new_nodes.items():
            old = old_nodes.get(nid)
            if old is None:
                self.node_added.emit(nid)
                continue
            if old.params != node.params or old.label != node.label or old.kind != node.kind:
                self.params_changed.emit(nid)
            if old.pos != node.pos:
                self.node_moved.emit(nid)
        for e in after.edges:
            if e not in old_edges:
                self.edge_added.emit(e)
        self.revision += 1
        self._analysis = self._analyzer.analyze(after)
        self.analysis_changed.emit(self._analysis)
        self.graph_changed.emit()


def _free_class(graph: GraphSpec, class_name: str) -> str:
    taken = {cls for _, cls in graph.module_classes}
    number = 2
    while f"{class_name}{number}" in taken:
        number += 1
    return f"{class_name}{number}"
