"""The layer graph: immutable nodes and edges with stable string ids.

Every change produces a new `GraphSpec` (see the `with_*`/`without_*` helpers), so a snapshot handed to
a training thread can never change under it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from collections.abc import Sequence
from typing import Iterable, Optional

from engine.registry import LayerKind, get_kind

NODE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}_[0-9]{1,6}$")


@dataclass(frozen=True)
class LayerSpec:
    """One layer on the canvas. `params` is already normalized by the kind's schema."""

    id: str
    kind: str
    params: dict = field(default_factory=dict, compare=True)
    pos: tuple = (0.0, 0.0)
    label: str = ""
    # Module path of the weights, e.g. "layer1.0.conv1" for an imported layer (engine.module_paths); "" keeps
    # them under the id.
    name: str = ""

    __hash__ = None  # params is a dict; compare by value, never hash

    @property
    def layer_kind(self) -> LayerKind:
        return get_kind(self.kind)

    @property
    def title(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class EdgeSpec:
    """A tensor flowing from `source`'s output into input `slot` of `target`."""

    source: str
    target: str
    slot: int = 0


@dataclass(frozen=True)
class GraphSpec:
    nodes: tuple = ()
    edges: tuple = ()
    name: str = ""
    description: str = ""
    # (module path, class name) of the modules that group named layers in an imported model, such as
    # ("layer1.0", "BasicBlock"): the exported code defines one class per name (engine.codegen_blocks).
    module_classes: tuple = ()

    __hash__ = None

    # ---- lookups -------------------------------------------------------------------------------
    def node(self, node_id: str) -> LayerSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(f"no node {node_id!r}")

    def has_node(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self.nodes)

    def node_map(self) -> dict:
        return {n.id: n for n in self.nodes}

    def in_edges(self, node_id: str) -> list:
        return sorted((e for e in self.edges if e.target == node_id), key=lambda e: e.slot)

    def out_edges(self, node_id: str) -> list:
        return [e for e in self.edges if e.source == node_id]

    def nodes_of_kind(self, kind: str) -> list:
        return [n for n in self.nodes if n.kind == kind]

    def new_id(self, kind: str) -> str:
        """A fresh id such as `conv2d_3`: one more than the highest number in use for that prefix."""
        prefix = get_kind(kind).prefix
        used = [int(n.id.rsplit("_", 1)[1]) for n in self.nodes if n.id.rsplit("_", 1)[0] == prefix]
        return f"{prefix}_{max(used, default=0) + 1}"

    # ---- edits (each returns a new graph) ------------------------------------------------------
    def with_node(self, node: LayerSpec) -> "GraphSpec":
        if self.has_node(node.id):
            return replace(self, nodes=tuple(node if n.id == node.id else n for n in self.nodes))
        return replace(self, nodes=self.nodes + (node,))

    def without_node(self, node_id: str) -> "GraphSpec":
        return replace(self, nodes=tuple(n for n in self.nodes if n.id != node_id),
                       edges=tuple(e for e in self.edges if node_id not in (e.source, e.target)))

    def with_edge(self, edge: EdgeSpec) -> "GraphSpec":
        if edge in self.edges:
            return self
        return replace(self, edges=self.edges + (edge,))

    def without_edge(self, edge: EdgeSpec) -> "GraphSpec":
        return replace(self, edges=tuple(e for e in self.edges if e != edge))

    def with_params(self, node_id: str, params: dict) -> "GraphSpec":
        n = self.node(node_id)
        merged = n.layer_kind.normalize({**n.params, **params})
        return self.with_node(replace(n, params=merged))

    def insert_on_edge(self, edge: EdgeSpec, node: LayerSpec) -> "GraphSpec":
        """Put a one-input node in the middle of `edge`."""
        g = self.without_edge(edge).with_node(node)
        return g.with_edge(EdgeSpec(edge.source, node.id, 0)).with_edge(EdgeSpec(node.id, edge.target, edge.slot))


def make_node(graph: GraphSpec, kind: str, params: Optional[dict] = None, pos: Sequence[float] = (0.0, 0.0),
              label: str = "", node_id: Optional[str] = None) -> LayerSpec:
    """Build a node of `kind` with normalized params and a fresh id for `graph`."""
    k = get_kind(kind)
    return LayerSpec(node_id or graph.new_id(kind), kind, k.normalize(params or {}), file_position(pos), label)


def file_position(pos: Sequence[float]) -> tuple:
    """(x, y) at the precision design files store (1/100 of a unit), so what is saved reopens identically."""
    return (round(float(pos[0]), 2), round(float(pos[1]), 2))


def chain(kinds_and_params: Iterable, name: str = "", description: str = "", spacing: float = 140.0) -> GraphSpec:
    """Build a straight chain graph from (kind, params) pairs, laid out top to bottom."""
    g = GraphSpec(name=name, description=description)
    prev = None
    for i, (kind, params) in enumerate(kinds_and_params):
        node = make_node(g, kind, params, (0.0, i * spacing))
        g = g.with_node(node)
        if prev is not None:
            g = g.with_edge(EdgeSpec(prev, node.id, 0))
        prev = node.id
    return g
