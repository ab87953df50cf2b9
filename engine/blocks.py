"""Blocks: named groups of layers, used as one unit, as architects draw networks (a residual block, an
inception module, a VGG stage).

A block is a module path that groups layers (engine.module_paths), with a class name in the design's
module_classes: `("layer1.0", "BasicBlock")` makes every layer named `layer1.0.*` one use of the block
BasicBlock. Blocks nest (`layer1` may hold `layer1.0` and `layer1.1`), several uses may share one class, and
the graph itself stays flat: analysis, compilation, training, feature maps and weights files see the same
layers whether or not they are grouped, so a blocked design computes exactly what its flat form computes.
What blocks add is structure: the canvas collapses a use into one node, an edit inside one use is made in every
use of its class (until "Make unique" gives that use a class of its own), and exported code writes one
nn.Module class per block (engine.codegen_blocks).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.graph import GraphSpec

if TYPE_CHECKING:
    from engine.block_library import BlockFragment
from engine.module_paths import module_path, path_problem

_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
NOT_IN_BLOCKS = ("Input", "Output")


class BlockError(ValueError):
    """A grouping the design cannot have, in words for the person (what to select instead)."""


@dataclass(frozen=True)
class Block:
    """One use of a block: its module path, class name, the layers directly and indirectly inside it."""

    scope: str
    class_name: str
    members: tuple       # node ids of every layer inside, nested blocks' too, in graph order
    children: tuple      # scopes of the blocks directly inside

    @property
    def name(self) -> str:
        """The use's own name: the last part of its path (`0` in `layer1.0`)."""
        return self.scope.rsplit(".", 1)[-1]


def scope_of(path: str) -> str:
    """The module path's folder: `layer1.0` for `layer1.0.conv1`, "" at the top."""
    return path.rpartition(".")[0]


def local_name(path: str) -> str:
    return path.rpartition(".")[2]


def blocks(graph: GraphSpec) -> dict[str, Block]:
    """{scope: Block} for every block of the design, outer blocks first."""
    classes = dict(graph.module_classes)
    members: dict = {scope: [] for scope in classes}
    for node in graph.nodes:
        if not node.name:
            continue
        for scope in classes:
            if node.name.startswith(scope + "."):
                members[scope].append(node.id)
    out = {}
    for scope in sorted(classes, key=lambda s: (s.count("."), s)):
        inner = tuple(s for s in classes if s != scope and scope_of(s) == scope)
        out[scope] = Block(scope, classes[scope], tuple(members[scope]), inner)
    return out


def block_of(graph: GraphSpec, node_id: str, outermost: bool = False) -> Block | None:
    """The innermost (or outermost) block holding the node, or None."""
    node = graph.node(node_id)
    if not node.name:
        return None
    found = [b for b in blocks(graph).values() if node.name.startswith(b.scope + ".")]
    if not found:
        return None
    return min(found, key=lambda b: b.scope.count(".")) if outermost else max(found, key=lambda b: b.scope.count("."))


def uses(graph: GraphSpec, class_name: str) -> list[str]:
    """The scopes of every use of a block class."""
    return [scope for scope, cls in graph.module_classes if cls == class_name]


def boundary(graph: GraphSpec, members: Iterable[str]) -> tuple[list, list]:
    """(edges into the group, edges out of it)."""
    inside = set(members)
    ins = [e for e in graph.edges if e.target in inside and e.source not in inside]
    outs = [e for e in graph.edges if e.source in inside and e.target not in inside]
    return ins, outs


def group(graph: GraphSpec, node_ids: Iterable[str], name: str, class_name: str) -> GraphSpec:
    """Make the layers one use of a block: each gets the module path `SCOPE.local` where SCOPE is `name` inside
    the block that holds all of them (if any) and local is its current last name part (or its id)."""
    ids = list(dict.fromkeys(node_ids))
    if not ids:
        raise BlockError("Select the layers to group first.")
    nodes = graph.node_map()
    if any(i not in nodes for i in ids):
        raise BlockError("A selected layer is no longer in the design.")
    ends = [i for i in ids if nodes[i].kind in NOT_IN_BLOCKS]
    if ends:
        raise BlockError(f"{nodes[ends[0]].kind} cannot go into a block: a block is a part of the network "
                         f"between its Input and its Output. Leave {ends[0]} out of the selection.")
    if not _CLASS.match(class_name or ""):
        raise BlockError(f"{class_name!r} cannot name a block: use letters, digits and underscores, starting with "
                         f"a letter (for example ResidualBlock).")
    parent = _common_scope(graph, ids)
    split = _split_block(graph, ids, parent)
    if split:
        raise BlockError(f"The selection holds part of the block {split}: select all of its layers or none.")
    scope = f"{parent}.{name}" if parent else name
    why = path_problem(scope)
    if why:
        raise BlockError(f"The block cannot be called {name!r}: {why}.")
    paths = {module_path(n) for n in graph.nodes}
    if scope in paths or any(p.startswith(scope + ".") for p in paths):
        raise BlockError(f"The design already has {scope!r}; choose another name for the block.")
    if _leaves_and_returns(graph, ids):
        raise BlockError("These layers are not one piece of the network: a path leaves the selection and comes back "
                         "into it. Add the layers on that path to the selection, or select fewer.")
    renamed = {}
    for i in ids:
        node = nodes[i]
        below = module_path(node)[len(parent) + 1:] if parent else module_path(node)
        renamed[i] = f"{scope}.{below}"
    existing = uses(graph, class_name)
    if existing:   # another use of this block: its layers take the same names inside, so they are one class
        renamed = {i: f"{scope}.{local}" for i, local in _align(graph, ids, existing[0], class_name).items()}
    new_nodes = tuple(replace(n, name=renamed[n.id]) if n.id in renamed else n for n in graph.nodes)
    moved = tuple((f"{scope}.{s[len(parent) + 1:] if parent else s}" if _under_all(graph, s, ids) else s, c)
                  for s, c in graph.module_classes)
    return replace(graph, nodes=new_nodes, module_classes=moved + ((scope, class_name),))


def ungroup(graph: GraphSpec, scope: str) -> GraphSpec:
    """Dissolve one use of a block: its layers (and inner blocks) move up to the block's own folder. A layer
    whose path becomes its id again is stored under the id, as if it had never been grouped."""
    if scope not in dict(graph.module_classes):
        raise BlockError(f"There is no block {scope!r} in the design.")
    parent = scope_of(scope)

    def lifted(path: str) -> str:
        rest = path[len(scope) + 1:]
        return f"{parent}.{rest}" if parent else rest

    nodes = []
    for n in graph.nodes:
        if n.name.startswith(scope + "."):
            path = lifted(n.name)
            n = replace(n, name="" if path == n.id else path)
        nodes.append(n)
    classes = tuple((lifted(s) if s.startswith(scope + ".") else s, c) for s, c in graph.module_classes if s != scope)
    return replace(graph, nodes=tuple(nodes), module_classes=classes)


def make_unique(graph: GraphSpec, scope: str) -> GraphSpec:
    """Give one use of a shared block a class of its own (`BasicBlock_2`), so edits to it stay there."""
    classes = dict(graph.module_classes)
    if scope not in classes:
        raise BlockError(f"There is no block {scope!r} in the design.")
    taken = set(classes.values())
    base, number = classes[scope], 2
    while f"{base}_{number}" in taken:
        number += 1
    return replace(graph, module_classes=tuple((s, f"{base}_{number}" if s == scope else c)
                                               for s, c in graph.module_classes))


def counterparts(graph: GraphSpec, node_id: str) -> list[str]:
    """The same layer in every other use of the node's innermost block (matched by its path inside the block)."""
    block = block_of(graph, node_id)
    if block is None:
        return []
    inner = graph.node(node_id).name[len(block.scope) + 1:]
    wanted = {f"{scope}.{inner}" for scope in uses(graph, block.class_name) if scope != block.scope}
    return [n.id for n in graph.nodes if n.name in wanted]


def with_params_everywhere(graph: GraphSpec, node_id: str, params: dict) -> GraphSpec:
    """Set parameters on the node and on the same layer in every other use of its block, where that layer had
    the same value: uses that differ in a setting (a ResNet stage's first block has stride 2 and more channels)
    keep their own, as arguments of one class do."""
    node = graph.node(node_id)
    after = graph.with_params(node_id, params)
    new = after.node(node_id).params
    changed = {k: v for k, v in new.items() if node.params.get(k) != v}
    for nid in counterparts(graph, node_id):
        other = graph.node(nid)
        if other.kind != node.kind:
            continue
        shared = {k: v for k, v in changed.items() if other.params.get(k) == node.params.get(k)}
        if shared:
            after = after.with_params(nid, shared)
    return after


def free_block_name(graph: GraphSpec, stem: str = "block") -> str:
    """block1, block2, ... (or stem1, ...): the first not yet a module path or folder of one in the design."""
    taken = {module_path(n) for n in graph.nodes} | {s for s, _ in graph.module_classes}
    folders = {p.split(".")[0] for p in taken}
    number = 1
    while f"{stem}{number}" in taken or f"{stem}{number}" in folders:
        number += 1
    return f"{stem}{number}"


def snake(class_name: str) -> str:
    """BasicBlock -> basic_block: a use's name from its class."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower() or "block"


def fragment_of(graph: GraphSpec, scope: str) -> BlockFragment:
    """A copy of one use of a block as an engine.block_library.BlockFragment (its layers, where its input goes
    in and where its output leaves), for adding another use of it."""
    from engine.block_library import BlockFragment

    block = blocks(graph)[scope]
    inside = set(block.members)
    nodes = tuple(replace(n, name="") for n in graph.nodes if n.id in inside)
    edges = tuple(e for e in graph.edges if e.source in inside and e.target in inside)
    ins, outs = boundary(graph, inside)
    entries = tuple(dict.fromkeys((e.target, e.slot) for e in ins))
    leaving = [e.source for e in outs]
    last = leaving[0] if leaving else _internal_order(graph, inside)[0][-1]
    return BlockFragment(GraphSpec(nodes=nodes, edges=edges), entries, last)


def _internal_order(graph: GraphSpec, ids: Iterable[str]) -> tuple[list, set]:
    """(the layers in topological order, ties in design order; their internal edges as index triples)."""
    ids = [n.id for n in graph.nodes if n.id in set(ids)]
    inside = set(ids)
    edges = [e for e in graph.edges if e.source in inside and e.target in inside]
    waiting = {i: sum(1 for e in edges if e.target == i) for i in ids}
    order, ready = [], [i for i in ids if waiting[i] == 0]
    while ready:
        current = ready.pop(0)
        order.append(current)
        for e in edges:
            if e.source == current:
                waiting[e.target] -= 1
                if waiting[e.target] == 0:
                    ready.append(e.target)
    index = {nid: k for k, nid in enumerate(order)}
    return order, {(index[e.source], index[e.target], e.slot) for e in edges}


def _align(graph: GraphSpec, ids: list, scope: str, class_name: str) -> dict[str, str]:
    """{selected layer: its name inside the block}, matched layer by layer to the existing use at `scope`."""
    nodes = graph.node_map()
    theirs = [n.id for n in graph.nodes if n.name.startswith(scope + ".")]
    mine_order, mine_edges = _internal_order(graph, ids)
    their_order, their_edges = _internal_order(graph, theirs)
    kinds = lambda order: [nodes[i].kind for i in order]  # noqa: E731
    if kinds(mine_order) != kinds(their_order) or mine_edges != their_edges:
        raise BlockError(f"The selected layers are not built like the block {class_name} ({len(theirs)} layers: "
                         f"{', '.join(kinds(their_order)[:6])}{', …' if len(theirs) > 6 else ''}); give the new block "
                         f"another name, or select layers of the same kinds, wired the same way.")
    return {mine: nodes[their].name[len(scope) + 1:] for mine, their in zip(mine_order, their_order)}


def _common_scope(graph: GraphSpec, ids: list) -> str:
    """The deepest block holding every selected layer ("" for none): the new block goes inside it."""
    nodes = graph.node_map()
    holders = None
    for i in ids:
        path = nodes[i].name
        mine = {scope for scope, _ in graph.module_classes if path.startswith(scope + ".")}
        holders = mine if holders is None else holders & mine
    return max(holders, key=lambda s: s.count("."), default="") if holders else ""


def _split_block(graph: GraphSpec, ids: list, parent: str) -> str:
    """A block below `parent` with some but not all of its layers selected, or ""."""
    chosen = set(ids)
    for scope, _ in graph.module_classes:
        if parent and not scope.startswith(parent + "."):
            continue
        inside = {n.id for n in graph.nodes if n.name.startswith(scope + ".")}
        if inside & chosen and not inside <= chosen:
            return scope
    return ""


def _under_all(graph: GraphSpec, scope: str, ids: list) -> bool:
    """A block lies wholly inside the selection, so it moves into the new block with its layers."""
    nodes = graph.node_map()
    inside = [n.id for n in graph.nodes if n.name.startswith(scope + ".")]
    return bool(inside) and all(i in ids for i in inside) and all(nodes[i].name for i in inside)


def _leaves_and_returns(graph: GraphSpec, ids: list) -> bool:
    inside = set(ids)
    outgoing: dict = {}
    for e in graph.edges:
        outgoing.setdefault(e.source, []).append(e.target)
    start = [t for s in inside for t in outgoing.get(s, ()) if t not in inside]
    seen = set(start)
    while start:
        node = start.pop()
        for t in outgoing.get(node, ()):
            if t in inside:
                return True
            if t not in seen:
                seen.add(t)
                start.append(t)
    return False


def outermost(graph: GraphSpec, scopes: Iterable[str]) -> dict[str, str]:
    """{node id: the outermost of `scopes` holding it} for the layers inside any of them."""
    every = blocks(graph)
    owner: dict = {}
    for scope in sorted((s for s in scopes if s in every), key=lambda s: s.count(".")):
        for nid in every[scope].members:
            owner.setdefault(nid, scope)
    return owner


def collapsed_layout(graph: GraphSpec, scopes: Iterable[str]) -> GraphSpec:
    """Lay the design out as it looks with `scopes` collapsed: each collapsed block takes one node's place in
    the layered layout, and its layers keep their arrangement at that place (hidden until it is expanded)."""
    from engine.graph import EdgeSpec, LayerSpec
    from engine.layout import WRAP_COLUMNS, layered_positions

    owner = outermost(graph, scopes)
    proxy = {nid: f"\u00a7{scope}" for nid, scope in owner.items()}   # § cannot start a node id
    shown = [n for n in graph.nodes if n.id not in owner]
    nodes = tuple(shown) + tuple(LayerSpec(p, "Block") for p in dict.fromkeys(proxy.values()))
    edges = tuple(dict.fromkeys(EdgeSpec(proxy.get(e.source, e.source), proxy.get(e.target, e.target), e.slot)
                                for e in graph.edges if proxy.get(e.source, e.source) != proxy.get(e.target, e.target)))
    # A collapsed design is short: wrap it into a squarer block of rows than the flat layout's six columns, so
    # ResNet-50's thirteen visible nodes fit a laptop's canvas at a readable zoom.
    wrap = max(3, min(WRAP_COLUMNS, math.ceil(math.sqrt(len(nodes)))))
    at = layered_positions(GraphSpec(nodes=nodes, edges=edges), wrap=wrap)
    members: dict = {}
    for nid, scope in owner.items():
        members.setdefault(scope, []).append(nid)
    positions = {n.id: at[n.id] for n in shown}
    node_map = graph.node_map()
    for scope, ids in members.items():
        x0 = min(node_map[i].pos[0] for i in ids)
        y0 = min(node_map[i].pos[1] for i in ids)
        bx, by = at[f"\u00a7{scope}"]
        for i in ids:
            positions[i] = (round(bx + node_map[i].pos[0] - x0, 1), round(by + node_map[i].pos[1] - y0, 1))
    return replace(graph, nodes=tuple(replace(n, pos=positions.get(n.id, n.pos)) for n in graph.nodes))
