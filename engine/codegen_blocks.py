"""The module tree of exported code: layers placed by their module paths, groups written as classes.

Each layer sits at its module path (engine.module_paths), so the exported network's state_dict keys are the
design's, and an imported model's original weights load with strict=True. A group of layers (every path
under `layer1.0`) becomes:
- an `nn.Sequential` when its members are numbered and each feeds the next and nothing else;
- a class with its own forward when it computes one value from values outside it and no path leaves it and
  comes back (engine.codegen_slots shares one class between instances of the same structure);
- otherwise an `nn.ModuleDict` that only holds its layers (a ModuleHolder when one is a bare weight, which a
  ModuleDict cannot hold); the enclosing forward calls them.
"""
from __future__ import annotations

import heapq
import keyword
import re
from dataclasses import dataclass, field

from engine.analysis import Analysis
from engine.codegen_slots import ClassTemplate
from engine.graph import GraphSpec
from engine.module_paths import module_path
from engine.registry import get_kind

INDENT = "    "


@dataclass(eq=False)
class Scope:
    path: str
    members: dict = field(default_factory=dict)   # local name -> Scope, or [node id, ...] (a layer)
    nodes: set = field(default_factory=set)       # every layer under it
    mode: str = "class"                           # "class", "sequential" or "dict"
    output: str = ""                              # the node whose value leaves it


@dataclass(frozen=True)
class Unit:
    """One call in a forward: a layer, or a group called as a whole."""

    access: tuple      # member names from the forward's class down to it
    member: object     # Scope or [node id, ...]
    inside: frozenset  # the layers it computes
    output: str        # the node whose value it returns


def build_tree(graph: GraphSpec, order: list[str]) -> Scope:
    """The module tree of the layers in `order` (Input and Output left out)."""
    nodes = graph.node_map()
    root = Scope("")
    for nid in order:
        if nodes[nid].kind in ("Input", "Output"):
            continue
        parts = module_path(nodes[nid]).split(".")
        scope = root
        scope.nodes.add(nid)
        for depth, part in enumerate(parts[:-1]):
            child = scope.members.get(part)
            if not isinstance(child, Scope):
                child = scope.members[part] = Scope(".".join(parts[:depth + 1]))
            scope = child
            scope.nodes.add(nid)
        scope.members.setdefault(parts[-1], []).append(nid)
    return root


class TreeWriter:
    """Decides what each group becomes and writes one ClassTemplate per class instance."""

    def __init__(self, graph: GraphSpec, analysis: Analysis, order: list[str]) -> None:
        self.graph, self.analysis, self.order = graph, analysis, order
        self.nodes = graph.node_map()
        self.position = {nid: i for i, nid in enumerate(order)}
        self.sources: dict = {nid: [e.source for e in graph.in_edges(nid)] for nid in order}
        self.successors: dict = {nid: [] for nid in order}
        for nid in order:
            for s in self.sources[nid]:
                self.successors[s].append(nid)
        self.class_hints = dict(graph.module_classes)
        self.templates: list = []   # every class instance but the network's, innermost first
        self.uses_ordered_dict = False
        self.uses_holder = False

    # ---- what each group becomes ----------------------------------------------------------------
    def classify(self, scope: Scope) -> None:
        for member in scope.members.values():
            if isinstance(member, Scope):
                self.classify(member)
        if not scope.path:
            return
        leaving = [n for n in scope.nodes if any(s not in scope.nodes for s in self.successors[n])]
        if len(leaving) != 1 or not self._convex(scope.nodes):
            scope.mode = "holder" if self._holds_bare_parameter(scope) else "dict"
            return
        scope.output = leaving[0]
        scope.mode = "sequential" if self._is_chain(scope) else "class"

    def _holds_bare_parameter(self, scope: Scope) -> bool:
        """An nn.ModuleDict cannot hold a weight directly; such a group is written as a ModuleHolder."""
        return any(isinstance(m, list) and self._is_bare(m[0]) for m in scope.members.values())

    def _is_bare(self, nid: str) -> bool:
        spec = self.nodes[nid]
        kind = get_kind(spec.kind)
        return bool(kind.bare_parameter and spec.name and kind.emit_bare)

    def _convex(self, inside: set) -> bool:
        """No path leaves the group and comes back into it, so one call can compute it."""
        last = max(self.position[n] for n in inside)
        stack = [s for n in inside for s in self.successors[n] if s not in inside]
        seen = set(stack)
        while stack:
            nid = stack.pop()
            for s in self.successors[nid]:
                if s in inside:
                    return False
                if s not in seen and self.position[s] < last:
                    seen.add(s)
                    stack.append(s)
        return True

    def _is_chain(self, scope: Scope) -> bool:
        """Numbered members, each a module called on one value, each feeding only the next one."""
        if not all(local.isdigit() and local == str(int(local)) for local in scope.members):
            return False
        members = [scope.members[k] for k in sorted(scope.members, key=int)]
        entering = None
        for i, member in enumerate(members):
            if isinstance(member, Scope):
                if member.mode not in ("class", "sequential"):
                    return False
                inside, out = member.nodes, member.output
            else:
                if len(member) != 1 or get_kind(self.nodes[member[0]].kind).emit_forward or self._is_bare(member[0]):
                    return False
                inside, out = {member[0]}, member[0]
            outer = list(dict.fromkeys(s for n in inside for s in self.sources[n] if s not in inside))
            if len(outer) != 1 or (i and outer[0] != entering):
                return False
            if i + 1 < len(members) and any(s not in _nodes_of(members[i + 1]) for s in self.successors[out]):
                return False
            entering = out
        return True

    # ---- writing --------------------------------------------------------------------------------
    def network(self, root: Scope, input_node: str) -> ClassTemplate:
        """The template of the network itself (the root group), with shape comments on its layers."""
        return self._template(root, "", [input_node], True)

    def constructor(self, scope: Scope) -> str:
        """Source that builds a group: its class (a placeholder until classes are grouped), nn.Sequential or
        nn.ModuleDict."""
        if scope.mode == "class":
            template = self._template(scope, self._class_hint(scope), self._inputs(scope), False)
            template.placeholder = f"__block_{len(self.templates)}__"
            self.templates.append(template)
            return template.placeholder
        entries = [(local, self._member_constructor(member)) for local, member in self._ordered(scope)
                   if not self._is_expression(member)]
        if scope.mode == "sequential":
            if [local for local, _ in entries] == [str(i) for i in range(len(entries))]:
                return "nn.Sequential(\n" + "".join(f"{INDENT}{_indent(c)},\n" for _, c in entries) + ")"
            self.uses_ordered_dict = True
            return ("nn.Sequential(OrderedDict([\n"
                    + "".join(f'{INDENT}("{local}", {_indent(c)}),\n' for local, c in entries) + "]))")
        holder = "ModuleHolder" if scope.mode == "holder" else "nn.ModuleDict"
        self.uses_holder |= scope.mode == "holder"
        return holder + "({\n" + "".join(f'{INDENT}"{local}": {_indent(c)},\n' for local, c in entries) + "})"

    def _is_expression(self, member: Scope | list) -> bool:
        """A layer written as an expression in the forward (`a + b`): no module to hold."""
        return isinstance(member, list) and get_kind(self.nodes[member[0]].kind).emit_forward is not None

    def _member_constructor(self, member: Scope | list) -> str:
        if isinstance(member, Scope):
            return self.constructor(member)
        spec = self.nodes[member[0]]
        kind, info = get_kind(spec.kind), self.analysis.nodes[member[0]]
        if self._is_bare(member[0]):
            return kind.emit_bare(spec.params, list(info.in_shapes))
        return kind.emit(spec.params, list(info.in_shapes))

    def _ordered(self, scope: Scope) -> list:
        """Members in the order the forward first uses them."""
        return sorted(scope.members.items(), key=lambda item: min(self.position[n] for n in _nodes_of(item[1])))

    def _template(self, scope: Scope, hint: str, inputs: list, shapes: bool) -> ClassTemplate:
        init, comments = [], []
        for local, member in self._ordered(scope):
            if self._is_expression(member):
                continue
            init.append((local, self._member_constructor(member)))
            comments.append(self._comment(member) if shapes else "")
        units = self._units(scope, ())
        params = [_param(i) for i in range(len(inputs))]
        forward, optional = self._forward(scope, units, inputs, params)
        return ClassTemplate(scope.path, hint, init, forward, params, optional, comments=comments)

    def _comment(self, member: Scope | list) -> str:
        out = member.output if isinstance(member, Scope) else member[-1]
        shape = self.analysis.nodes[out].shape if out else None
        return "-> " + "×".join(map(str, shape)) if shape else ""

    def _units(self, scope: Scope, access: tuple) -> list:
        """What a forward calls: its layers and groups; a dict group's members are called from here."""
        units = []
        for local, member in scope.members.items():
            here = access + (local,)
            if isinstance(member, Scope) and member.mode in ("dict", "holder"):
                units += self._units(member, here)
            elif isinstance(member, Scope):
                units.append(Unit(here, member, frozenset(member.nodes), member.output))
            else:
                units += [Unit(here, member, frozenset({nid}), nid) for nid in member]
        return units

    def _inputs(self, scope: Scope) -> list:
        """Values from outside the group that it reads, in order of first use."""
        seen: dict = {}
        for nid in sorted(scope.nodes, key=self.position.get):
            for s in self.sources[nid]:
                if s not in scope.nodes:
                    seen.setdefault(s, None)
        return list(seen)

    def _forward(self, scope: Scope, units: list, inputs: list, params: list) -> tuple:
        owner = {n: i for i, u in enumerate(units) for n in u.inside}
        ready = _dependency_order(units, owner, self.sources, self.position)
        names = dict(zip(inputs, params))
        uses: dict = {}
        for u in units:
            for s in self._outer_sources(u):
                uses[s] = uses.get(s, 0) + 1
        lines, taken, calls = [], set(params), []
        for i in ready:
            u = units[i]
            sources = self._outer_sources(u)
            args = [names[s] for s in sources]
            target = self._access(scope, u.access)
            spec = self.nodes[u.output] if isinstance(u.member, list) else None
            kind = get_kind(spec.kind) if spec is not None else None
            if kind is not None and kind.emit_forward:
                expr = kind.emit_forward(args)
            elif spec is not None and self._is_bare(spec.id):
                expr = f"{args[0]} * {target}"
            else:
                expr = f"{target}({', '.join(args)})"
            if sources and uses[sources[0]] == 1:
                var = names[sources[0]]       # a straight run reuses its variable, as hand-written code does
            else:
                var = _fresh("out" if "out" not in taken else _variable(u.access[-1]), taken)
                taken.add(var)
            names[u.output] = var
            lines.append(f"{var} = {expr}")
            calls.append((u, args, var))
        result = names[scope.output] if scope.path else names[self._network_output()]
        lines.append(f"return {result}")
        return lines, _optional_shortcut(calls, params, scope)

    def _outer_sources(self, unit: Unit) -> list:
        """The values a unit reads from outside itself, in argument order: a group's distinct inputs (its
        forward's parameters), a layer's inputs slot by slot."""
        if isinstance(unit.member, Scope):
            return self._inputs(unit.member)
        return [s for n in sorted(unit.inside, key=self.position.get) for s in self.sources[n]
                if s not in unit.inside]

    def _access(self, scope: Scope, access: tuple) -> str:
        """`self.layer1`, `self.features["2"]` or `getattr(self, "0")` for a member below `scope`."""
        text, current = "self", scope
        for part in access:
            if part.isidentifier() and not keyword.iskeyword(part):
                text += f".{part}"
            elif current.mode == "dict" and current is not scope:
                text += f'["{part}"]'
            else:
                text = f'getattr({text}, "{part}")'
            current = current.members.get(part) if isinstance(current.members.get(part), Scope) else current
        return text

    def _network_output(self) -> str:
        out = next(n for n in self.order if self.nodes[n].kind == "Output")
        return self.sources[out][0]

    def _class_hint(self, scope: Scope) -> str:
        hint = self.class_hints.get(scope.path, "")
        if hint and hint not in ("Sequential", "ModuleList", "ModuleDict"):
            return hint
        words = [p for p in scope.path.split(".") if not p.isdigit()] or ["group"]
        return "".join(w[:1].upper() + w[1:] for w in words[-1].split("_") if w)


def _nodes_of(member: Scope | list) -> set:
    return set(member.nodes) if isinstance(member, Scope) else set(member)


def _dependency_order(units: list, owner: dict, sources: dict, position: dict) -> list:
    """Unit indices, each after every unit it reads from, otherwise in the design's own order."""
    needs = {i: {owner[s] for n in u.inside for s in sources[n] if owner.get(s, i) != i}
             for i, u in enumerate(units)}
    users: dict = {i: [] for i in needs}
    for i, deps in needs.items():
        for j in deps:
            users[j].append(i)
    first = {i: min(position[n] for n in u.inside) for i, u in enumerate(units)}
    heap = [(first[i], i) for i, deps in needs.items() if not deps]
    heapq.heapify(heap)
    order, waiting = [], {i: len(d) for i, d in needs.items()}
    while heap:
        _, i = heapq.heappop(heap)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(heap, (first[u], u))
    return order


def _optional_shortcut(calls: list, params: list, scope: Scope) -> tuple | None:
    """(line, attribute, variable) of a direct member that only transforms the group's one input for one later
    use (ResNet's `downsample`): what a variant without it would read the input for instead."""
    if not scope.path or len(params) != 1:
        return None
    for index, (unit, args, var) in enumerate(calls):
        if len(unit.access) != 1 or args != [params[0]] or var in (params[0], "out") or index == 0:
            continue
        later = [a for _, a, _ in calls[index + 1:] if var in a]
        if len(later) == 1:
            return index, unit.access[0], var
    return None


def _param(i: int) -> str:
    return "x" if i == 0 else f"x{i}"


def _variable(local: str) -> str:
    name = re.sub(r"\W", "_", local)
    name = name if name.isidentifier() and not keyword.iskeyword(name) else f"v{name}"
    return "value" if name in ("self", "x", "torch", "nn", "super") else name


def _fresh(name: str, taken: set) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _indent(text: str) -> str:
    return text.replace("\n", "\n" + INDENT)
