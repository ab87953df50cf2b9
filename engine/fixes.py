"""Fix-its: repairs the analysis offers for an error, as data the GUI applies in one undo step."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from engine.graph import GraphSpec, make_node


@dataclass(frozen=True)
class Fix:
    """A repair. action "insert" puts a new `kind` node on input `slot` of `node_id`;
    action "set_params" changes `params` on `node_id`."""

    label: str
    action: str
    kind: str = ""
    params: dict = field(default_factory=dict)
    slot: int = 0
    node_id: str = ""
    adjustable: tuple = ()  # params to change on a same-kind layer already feeding `slot`, instead of inserting

    __hash__ = None

    def for_node(self, node_id: str) -> "Fix":
        return replace(self, node_id=node_id)


def insert_fix(kind: str, params: dict | None = None, slot: int = 0, label: str = "",
               adjustable: Iterable[str] = ()) -> Fix:
    return Fix(label or f"Insert {kind}", "insert", kind=kind, params=dict(params or {}), slot=slot,
               adjustable=tuple(adjustable))


def params_fix(label: str, params: dict) -> Fix:
    return Fix(label, "set_params", params=dict(params))


def apply_fix(graph: GraphSpec, fix: Fix) -> tuple[GraphSpec, str | None]:
    """Return (new_graph, id of the inserted node or None)."""
    if fix.action == "set_params":
        return graph.with_params(fix.node_id, fix.params), None
    if fix.action == "insert":
        edge = next(e for e in graph.in_edges(fix.node_id) if e.slot == fix.slot)
        src, dst = graph.node(edge.source), graph.node(fix.node_id)
        pos = ((src.pos[0] + dst.pos[0]) / 2, (src.pos[1] + dst.pos[1]) / 2)
        node = make_node(graph, fix.kind, fix.params, pos)
        return graph.insert_on_edge(edge, node), node.id
    raise ValueError(f"unknown fix action {fix.action!r}")
