"""Pure graph edits the designer needs beyond engine/graph.py: connection checks, pasting, deleting.

Qt-free, but specific to interactive editing, so it lives in designer/.
"""
from __future__ import annotations

from dataclasses import replace

from engine.graph import EdgeSpec, GraphSpec, LayerSpec, file_position, make_node
from engine.layout import COLUMN_SPACING, ROW_SPACING
from engine.registry import get_kind


def input_port_count(graph: GraphSpec, node_id: str) -> int:
    """How many input ports to draw: fixed for most kinds; for Add/Concat one free port after the used ones."""
    kind = get_kind(graph.node(node_id).kind)
    if kind.max_inputs is not None:
        return kind.max_inputs
    used = [e.slot for e in graph.edges if e.target == node_id]
    return max(kind.min_inputs, max(used, default=-1) + 2)


def reaches(graph: GraphSpec, start: str, goal: str) -> bool:
    """True when `goal` can be reached from `start` by following edges forward."""
    outgoing: dict = {}
    for e in graph.edges:
        outgoing.setdefault(e.source, []).append(e.target)
    seen, stack = {start}, [start]
    while stack:
        nid = stack.pop()
        if nid == goal:
            return True
        for t in outgoing.get(nid, ()):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return False


def connection_problem(graph: GraphSpec, edge: EdgeSpec, ignore: EdgeSpec | None = None) -> str:
    """Why `edge` may not be added ('' when it may). `ignore` is an edge being re-attached."""
    if ignore is not None:
        graph = graph.without_edge(ignore)
    if not (graph.has_node(edge.source) and graph.has_node(edge.target)):
        return "That layer no longer exists."
    src, dst = graph.node(edge.source), graph.node(edge.target)
    if not get_kind(src.kind).has_outputs:
        return "Output is the end of the network; nothing can follow it."
    if get_kind(dst.kind).max_inputs == 0:
        return f"{dst.title} is an Input; it takes no connections."
    if edge.source == edge.target:
        return "A layer cannot feed itself."
    if edge.slot < 0 or (get_kind(dst.kind).max_inputs is not None and edge.slot >= get_kind(dst.kind).max_inputs):
        return f"{dst.title} has no input {edge.slot + 1}."
    if edge in graph.edges:
        return "These ports are already connected."
    if any(e.target == edge.target and e.slot == edge.slot for e in graph.edges):
        return f"Input {edge.slot + 1} of {dst.title} is already connected; delete that connection first."
    if reaches(graph, edge.target, edge.source):
        return (f"Connecting {src.title} → {dst.title} would make a cycle; "
                "a network must flow one way from Input to Output.")
    return ""


def can_insert_on_edge(kind_name: str) -> bool:
    kind = get_kind(kind_name)
    return kind.has_outputs and kind.min_inputs <= 1 and (kind.max_inputs is None or kind.max_inputs >= 1)


def without_nodes(graph: GraphSpec, node_ids) -> GraphSpec:
    ids = set(node_ids)
    return replace(graph, nodes=tuple(n for n in graph.nodes if n.id not in ids),
                   edges=tuple(e for e in graph.edges if e.source not in ids and e.target not in ids))


def subgraph(graph: GraphSpec, node_ids) -> GraphSpec:
    """The chosen nodes and the edges between them (what Copy puts on the clipboard)."""
    ids = set(node_ids)
    return GraphSpec(tuple(n for n in graph.nodes if n.id in ids),
                     tuple(e for e in graph.edges if e.source in ids and e.target in ids))


def merge_pasted(graph: GraphSpec, pasted: GraphSpec, offset=(0.0, 0.0)):
    """Add `pasted` to `graph` with fresh ids and shifted positions. Returns (new_graph, new ids)."""
    renamed: dict = {}
    for node in pasted.nodes:
        fresh = make_node(graph, node.kind, node.params, (node.pos[0] + offset[0], node.pos[1] + offset[1]),
                          node.label)
        renamed[node.id] = fresh.id
        graph = graph.with_node(fresh)
    for e in pasted.edges:
        graph = graph.with_edge(EdgeSpec(renamed[e.source], renamed[e.target], e.slot))
    return graph, [renamed[n.id] for n in pasted.nodes]


def moved(graph: GraphSpec, positions: dict) -> GraphSpec:
    return replace(graph, nodes=tuple(replace(n, pos=file_position(positions[n.id])) if n.id in positions else n
                                      for n in graph.nodes))


def relabelled(graph: GraphSpec, node_id: str, label: str) -> GraphSpec:
    return graph.with_node(replace(graph.node(node_id), label=label))


def _covers(others, pos, size, gap) -> bool:
    """Whether a node of `size` at `pos` would overlap (or touch within `gap`) a node at any of `others`."""
    w, h = size
    return any(abs(ox - pos[0]) < w + gap and abs(oy - pos[1]) < h + gap for ox, oy in others)


def free_position(graph: GraphSpec, pos, size=(116.0, 84.0), ignore=(), gap=16.0) -> tuple:
    """`pos`, or the nearest spot straight above or below it where a node of `size` covers no other node."""
    x, y = pos
    others = [n.pos for n in graph.nodes if n.id not in ignore]
    step = (size[1] + gap) / 2
    for k in range(400):
        dy = (k + 1) // 2 * step * (-1 if k % 2 else 1)   # 0, -s, +s, -2s, +2s, ...
        if not _covers(others, (x, y + dy), size, gap):
            return (round(x, 1), round(y + dy, 1))
    return (round(x, 1), round(y, 1))


def room_on_edge(graph: GraphSpec, source: str, target: str, pos=None, size=(116.0, 84.0), ignore=(),
                 gap=16.0, spacing=(COLUMN_SPACING, ROW_SPACING)) -> tuple:
    """Where a layer inserted between `source` and `target` goes, and the graph with layers moved aside for it.

    `pos` (the drop point, else halfway) is used when nothing is there. Otherwise the new layer takes the
    target's place, and the target moves on one column together with every layer level with it and beyond
    it, or one row down for a top-to-bottom flow, so the chain reads straight on and no connection loops."""
    w, h = size
    src, dst = graph.node(source).pos, graph.node(target).pos
    if pos is None:
        pos = ((src[0] + dst[0]) / 2, (src[1] + dst[1]) / 2)
    others = [n for n in graph.nodes if n.id not in ignore]
    if not _covers([n.pos for n in others], pos, size, gap):
        return graph, (round(pos[0], 1), round(pos[1], 1))
    horizontal = abs(dst[0] - src[0]) >= abs(dst[1] - src[1])
    if horizontal:
        shift = {n.id: (n.pos[0] + spacing[0], n.pos[1]) for n in others
                 if abs(n.pos[1] - dst[1]) < h + gap and n.pos[0] >= dst[0] - 1.0}
    else:
        shift = {n.id: (n.pos[0], n.pos[1] + spacing[1]) for n in others
                 if abs(n.pos[0] - dst[0]) < w + gap and n.pos[1] >= dst[1] - 1.0}
    return moved(graph, shift), (round(dst[0], 1), round(dst[1], 1))


def free_offset(graph: GraphSpec, nodes, offset, size=(116.0, 84.0), gap=16.0) -> tuple:
    """`offset`, or the nearest one further down, that puts `nodes` (pasted or duplicated layers, at their
    original places) where they cover no layer of `graph`."""
    w, h = size
    others = [n.pos for n in graph.nodes]
    dx, dy = offset
    for k in range(400):
        moved = [(n.pos[0] + dx, n.pos[1] + dy + k * (h + gap) / 2) for n in nodes]
        if not any(abs(ox - x) < w + gap and abs(oy - y) < h + gap for x, y in moved for ox, oy in others):
            return (dx, dy + k * (h + gap) / 2)
    return (dx, dy)


def blank_graph() -> GraphSpec:
    """A new design: an Input and an Output, waiting for the layers in between."""
    g = GraphSpec(name="Untitled")
    g = g.with_node(make_node(g, "Input", {}, (0.0, 0.0)))
    return g.with_node(make_node(g, "Output", {}, (600.0, 0.0)))


def node_bounds(nodes) -> tuple:
    xs = [n.pos[0] for n in nodes] or [0.0]
    ys = [n.pos[1] for n in nodes] or [0.0]
    return min(xs), min(ys), max(xs), max(ys)


__all__ = ["input_port_count", "reaches", "connection_problem", "can_insert_on_edge", "without_nodes",
           "subgraph", "merge_pasted", "moved", "relabelled", "blank_graph", "node_bounds", "LayerSpec"]
