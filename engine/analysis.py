"""Static analysis of a layer graph: shapes, errors with fix-its, parameters, MACs, memory, receptive field.

Runs after every edit, so it is plain arithmetic with caches; analysing a bad graph never raises, every
problem becomes an `Issue` on a node or on the whole graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

import torch

from engine.graph import GraphSpec
from engine.memory_limit import find_problem
from engine.module_paths import path_problems
from engine.registry import Receptive, ShapeError, get_kind

if TYPE_CHECKING:
    from engine.fixes import Fix

BYTES_PER_VALUE = 4  # float32 activations


@dataclass(frozen=True)
class Issue:
    message: str
    node_id: str | None = None
    severity: str = "error"  # or "warning", or "todo": a step not taken yet (an unfinished design, not a mistake)
    fix: Fix | None = None

    __hash__ = None

    def __str__(self) -> str:
        return f"{self.node_id}: {self.message}" if self.node_id else self.message


@dataclass(frozen=True)
class NodeInfo:
    """What the analysis knows about one node. `shape` is None when it cannot be computed."""

    shape: tuple | None = None
    in_shapes: tuple = ()
    params: int = 0
    macs: int = 0
    memory: int = 0                 # bytes of output activation per sample
    receptive_field: tuple | None = None  # (h, w) input pixels seen by one output value (at most)
    jump: tuple | None = None    # (h, w) input pixels between neighbouring outputs (a Fraction after upsampling)
    error: Issue | None = None
    rf_exact: tuple | None = None  # the receptive field before rounding up (Fractions after upsampling)

    __hash__ = None


@dataclass
class Analysis:
    nodes: dict[str, NodeInfo]
    issues: list[Issue]
    order: list[str]                # node ids in dependency order (nodes on cycles left out)

    @property
    def errors(self) -> list[Issue]:
        """Everything that stops the design from training: mistakes and steps not taken yet (todos)."""
        return [i for i in self.issues if i.severity in ("error", "todo")]

    @property
    def mistakes(self) -> list[Issue]:
        """The errors that are wrong rather than unfinished: these are drawn in red."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def issues_for(self, node_id: str) -> list[Issue]:
        return [i for i in self.issues if i.node_id == node_id]

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.nodes.values())

    @property
    def total_macs(self) -> int:
        return sum(i.macs for i in self.nodes.values())

    @property
    def total_memory(self) -> int:
        return sum(i.memory for i in self.nodes.values())

    def error_text(self) -> str:
        return "\n".join(str(i) for i in self.errors)


def _freeze(params: dict) -> tuple:
    return tuple(sorted(params.items()))


@lru_cache(maxsize=4096)
def _count_params(kind: str, frozen_params: tuple, in_shapes: tuple) -> int:
    """Parameters of the module PyTorch would build, counted on the meta device (no memory used)."""
    k = get_kind(kind)
    if k.build is None:
        return 0
    with torch.device("meta"):
        module = k.build(dict(frozen_params), list(in_shapes))
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=4096)
def _holds_state(kind: str, frozen_params: tuple, in_shapes: tuple) -> bool:
    """Whether the module holds weights or buffers (built on the meta device)."""
    k = get_kind(kind)
    if k.build is None:
        return False
    with torch.device("meta"):
        return bool(k.build(dict(frozen_params), list(in_shapes)).state_dict())


def _check_module_paths(graph: GraphSpec, infos: dict, issues: list) -> None:
    """Module paths (engine.module_paths) name where weights are stored: each is valid and used once, except
    by layers without weights standing for one module the original called twice."""
    for problem in path_problems(graph):
        issues.append(Issue(problem))
    shared: dict = {}
    for spec in graph.nodes:
        if spec.name and spec.kind not in ("Input", "Output"):
            shared.setdefault(spec.name, []).append(spec)
    for path, specs in shared.items():
        if len(specs) < 2:
            continue
        for spec in specs:
            info = infos.get(spec.id)
            if info is not None and info.error is None and _holds_state(spec.kind, _freeze(spec.params),
                                                                        info.in_shapes):
                others = ", ".join(s.id for s in specs if s is not spec)
                issues.append(Issue(f"holds weights under the module path {path!r}, which {others} also uses; "
                                    f"give each layer with weights a name of its own", spec.id))
                break


class Analyzer:
    """Analyses graphs, reusing per-node results whose node and inputs did not change."""

    def __init__(self) -> None:
        self._cache: dict = {}

    def analyze(self, graph: GraphSpec) -> Analysis:
        issues: list = []
        nodes = graph.node_map()
        incoming = {nid: [] for nid in nodes}
        outgoing = {nid: [] for nid in nodes}
        for e in graph.edges:
            if e.source in nodes and e.target in nodes:
                incoming[e.target].append(e)
                outgoing[e.source].append(e)
        node_errors: dict = {}
        _check_structure(graph, nodes, incoming, outgoing, issues, node_errors)
        order, cyclic = _dependency_order(nodes, incoming, outgoing)
        for nid in cyclic:
            node_errors.setdefault(nid, Issue("is part of a cycle; a network must flow one way from Input to "
                                              "Output", nid))
        image_size = _input_image_size(graph)
        infos: dict = {}
        new_cache: dict = {}
        for nid in order:
            spec = nodes[nid]
            edges = incoming[nid]
            sources = [infos[e.source] for e in (sorted(edges, key=_slot) if len(edges) > 1 else edges)]
            error = node_errors.get(nid)
            cached = self._cache.get(nid)
            # Unchanged nodes keep their LayerSpec object and, below, their NodeInfo object, so most of
            # this check is identity comparison.
            ordered = sorted(edges, key=_slot) if len(edges) > 1 else edges
            feeding = tuple((nodes[e.source], len(outgoing[e.source])) for e in ordered)
            slots = tuple(e.slot for e in ordered)
            if (cached is not None and cached[0] is spec and cached[2] == error and cached[3] == image_size
                    and cached[6] == slots
                    and len(cached[1]) == len(sources) and all(a is b for a, b in zip(cached[1], sources))
                    and len(cached[5]) == len(feeding)
                    and all(a[0] is b[0] and a[1] == b[1] for a, b in zip(cached[5], feeding))):
                info = cached[4]
            else:
                info = _analyze_node(nid, spec, sources, error, image_size, feeding, slots)
                if cached is not None and cached[4] == info:
                    info = cached[4]  # same result: keep the object so the layers below hit the fast path
            new_cache[nid] = (spec, sources, error, image_size, info, feeding, slots)
            infos[nid] = info
        for nid in cyclic:
            infos[nid] = NodeInfo(error=node_errors[nid])
        self._cache = new_cache
        for nid in order + list(cyclic):
            if infos[nid].error is not None:
                issues.append(infos[nid].error)
        problem = find_problem(infos, nodes)
        if problem is not None:  # e.g. a typo of 1,000,000 outputs; the compiler refuses it before allocating
            issues.append(Issue(problem.message, problem.node_id))
        _check_paths(graph, nodes, outgoing, issues)
        _check_module_paths(graph, infos, issues)
        _warn_softmax_before_output(graph, nodes, incoming, issues)
        return Analysis(infos, issues, order)


def _slot(edge):
    return edge.slot


def analyze(graph: GraphSpec) -> Analysis:
    """One-off analysis (no reuse between calls)."""
    return Analyzer().analyze(graph)


def _check_structure(graph, nodes, incoming, outgoing, issues, node_errors):
    inputs = [n for n in graph.nodes if n.kind == "Input"]
    outputs = [n for n in graph.nodes if n.kind == "Output"]
    if not inputs:
        issues.append(Issue("The network has no Input layer; drag one from the palette (Input/Output)."))
    if not outputs:
        issues.append(Issue("The network has no Output layer; drag one from the palette (Input/Output)."))
    for extra in inputs[1:]:
        node_errors[extra.id] = Issue(f"more than one Input; the network must have exactly one (first is "
                                      f"{inputs[0].id})", extra.id)
    for extra in outputs[1:]:
        node_errors[extra.id] = Issue(f"more than one Output; the network must have exactly one (first is "
                                      f"{outputs[0].id})", extra.id)
    for nid, spec in nodes.items():
        if nid in node_errors:
            continue
        kind = get_kind(spec.kind)
        ins = incoming[nid]
        slots = [e.slot for e in ins]
        if not kind.has_outputs and outgoing[nid]:
            node_errors[nid] = Issue("Output is the end of the network; remove the connection leaving it", nid)
        elif len(set(slots)) != len(slots):
            node_errors[nid] = Issue("has two connections into the same input; remove one", nid)
        elif kind.max_inputs is not None and len(ins) > kind.max_inputs:
            node_errors[nid] = Issue(f"takes {_inputs_text(kind.max_inputs)} but has {len(ins)}; "
                                     f"remove the extra connection", nid)
        elif kind.max_inputs is not None and any(s >= kind.max_inputs for s in slots):
            # only a file can say this (the canvas has no such port); fix-its assume the slot exists
            node_errors[nid] = Issue(f"has a connection into input {max(slots) + 1}, but takes "
                                     f"{_inputs_text(kind.max_inputs)}; delete it and connect input 1", nid)
        elif len(ins) < kind.min_inputs:
            if not ins and not outgoing[nid] and spec.kind == "Output" and len(nodes) > 1:   # unfinished, not wrong
                node_errors[nid] = Issue("waits for the last layer: connect a layer's output to it", nid, "todo")
            elif not ins and not outgoing[nid] and len(nodes) > 1:
                node_errors[nid] = Issue("is not connected; connect it or delete it", nid)
            elif kind.max_inputs == kind.min_inputs:
                node_errors[nid] = Issue("has no input; connect a layer to it", nid)
            else:
                node_errors[nid] = Issue(f"needs at least {kind.min_inputs} inputs but has {len(ins)}", nid)
        elif kind.min_inputs == 0 and not outgoing[nid] and spec.kind == "Input" and len(nodes) > 1:
            node_errors[nid] = Issue("waits for the first layer: drag a layer from the palette and connect "
                                     "this output to it", nid, "todo")
        elif kind.min_inputs == 0 and not outgoing[nid] and len(nodes) > 1:
            node_errors[nid] = Issue("is not connected; connect it or delete it", nid)


def _inputs_text(n):
    return "no input" if n == 0 else ("one input" if n == 1 else f"{n} inputs")


def _dependency_order(nodes, incoming, outgoing):
    """Kahn's algorithm, keeping the graph's own node order among ready nodes. Returns (order, cyclic)."""
    remaining = {nid: len(incoming[nid]) for nid in nodes}
    ready = [nid for nid in nodes if remaining[nid] == 0]
    order = []
    position = {nid: i for i, nid in enumerate(nodes)}
    while ready:
        nid = ready.pop(0)
        order.append(nid)
        newly = []
        for e in outgoing[nid]:
            remaining[e.target] -= 1
            if remaining[e.target] == 0:
                newly.append(e.target)
        if newly:
            ready.extend(newly)
            ready.sort(key=position.__getitem__)
    placed = set(order)
    return order, [nid for nid in nodes if nid not in placed]


def _input_image_size(graph):
    for n in graph.nodes:
        if n.kind == "Input":
            return (n.params["height"], n.params["width"])
    return (1, 1)


def _analyze_node(nid, spec, sources, structural_error, image_size, feeding=(), slots=()) -> NodeInfo:
    kind = get_kind(spec.kind)
    in_shapes = tuple(s.shape for s in sources)
    if kind.placeholder:
        return _placeholder_info(nid, spec, kind, in_shapes, image_size)
    if structural_error is not None and (structural_error.severity != "todo" or len(in_shapes) < kind.min_inputs):
        return NodeInfo(in_shapes=in_shapes, error=structural_error)
    if any(s is None for s in in_shapes):
        return NodeInfo(in_shapes=in_shapes)  # an upstream error already explains this
    try:
        shape = tuple(kind.infer(spec.params, list(in_shapes)))
        if kind.check_image_size is not None and image_size is not None:
            kind.check_image_size(spec.params, shape, image_size)
    except ShapeError as exc:
        fix = exc.fix.for_node(nid) if exc.fix is not None else None
        if fix is not None and fix.slot < len(slots):   # the rule counts inputs; a fix names the port (slots may skip)
            fix = replace(fix, slot=slots[fix.slot])
            position = slots.index(fix.slot)
        else:
            position = fix.slot if fix is not None else 0
        if fix is not None and fix.adjustable and position < len(feeding):
            source, consumers = feeding[position]
            if source.kind == fix.kind and consumers == 1:
                fix = _adjust_instead(fix, source)
        return NodeInfo(in_shapes=in_shapes, error=Issue(exc.message, nid, fix=fix))
    except (ValueError, ZeroDivisionError) as exc:
        return NodeInfo(in_shapes=in_shapes, error=Issue(str(exc), nid))
    rf, jump, rf_exact = _receptive_field(kind, spec.params, sources, in_shapes, image_size)
    memory = BYTES_PER_VALUE * _numel(shape) if kind.name != "Output" else 0
    try:
        params = _count_params(spec.kind, _freeze(spec.params), in_shapes)
    except (RuntimeError, ValueError) as exc:  # PyTorch refused what the shape rule allowed
        return NodeInfo(in_shapes=in_shapes, error=Issue(f"PyTorch refuses this layer: {exc}", nid))
    # an Input waiting for its first layer (a todo) still has its shape, so its edge and Explain can show it
    return NodeInfo(shape, in_shapes, params, kind.macs(spec.params, list(in_shapes), shape), memory, rf, jump,
                    structural_error, rf_exact)


def _placeholder_info(nid, spec, kind, in_shapes, image_size) -> NodeInfo:
    """An operation an import could not map: always an error, but its recorded output shape carries on, so
    the layers after it keep their shapes (and the person sees what fits where)."""
    from engine.layers.placeholder import problem

    shape = tuple(kind.infer(spec.params, list(in_shapes)))
    return NodeInfo(shape, in_shapes, 0, 0, BYTES_PER_VALUE * _numel(shape), image_size, image_size,
                    Issue(problem(spec.params), nid))


def _adjust_instead(fix, source):
    """Where the layer a fix would insert is already the (sole) layer feeding this input, for example a
    Linear right before the Output, change that layer's adjustable parameters instead of stacking another."""
    from engine.fixes import params_fix

    params = {k: fix.params[k] for k in fix.adjustable}
    kind = get_kind(source.kind)
    changes = ", ".join(f"{kind.param(k).title.lower()} of {source.title} to {v}" for k, v in params.items())
    return params_fix(f"Set {changes}", params).for_node(source.id)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _receptive_field(kind, params, sources, in_shapes, image_size):
    """(receptive field rounded up, jump, receptive field exact). After upsampling, neighbouring outputs are a
    fraction of an input pixel apart, so the recurrence runs on fractions and the field shown is rounded up:
    the most input pixels one value can see."""
    if not sources:
        return (1, 1), (1, 1), (1, 1)
    exact = [s.rf_exact or s.receptive_field for s in sources]
    if len(sources) == 1:  # the common case, kept cheap: it runs for every node after every edit
        rf_in, jump_in = exact[0], sources[0].jump
    else:
        rf_in = (max(r[0] for r in exact), max(r[1] for r in exact))
        jump_in = (max(s.jump[0] for s in sources), max(s.jump[1] for s in sources))
    r: Receptive = kind.receptive(params, list(in_shapes))
    if r.global_ or rf_in == image_size and jump_in == image_size:
        return image_size, image_size, image_size
    (kh, kw), (sh, sw), (uh, uw) = r.kernel, r.stride, r.upsample
    rf = (_whole(rf_in[0] + (kh - 1) * jump_in[0]), _whole(rf_in[1] + (kw - 1) * jump_in[1]))
    jump = (_whole(Fraction(jump_in[0]) * sh / uh), _whole(Fraction(jump_in[1]) * sw / uw))
    return (math.ceil(rf[0]), math.ceil(rf[1])), jump, rf


def _whole(x):
    """An int where a Fraction is whole, so plain networks keep plain numbers."""
    return int(x) if isinstance(x, Fraction) and x.denominator == 1 else x


def _check_paths(graph, nodes, outgoing, issues):
    inputs = [n.id for n in graph.nodes if n.kind == "Input"]
    outputs = [n.id for n in graph.nodes if n.kind == "Output"]
    if not inputs or not outputs:
        return
    seen, stack = {inputs[0]}, [inputs[0]]
    while stack:
        for e in outgoing[stack.pop()]:
            if e.target not in seen:
                seen.add(e.target)
                stack.append(e.target)
    if outputs[0] not in seen:
        # Unfinished rather than wrong: nothing is drawn in red for it (a blank design starts here)
        issues.append(Issue(f"There is no path from {inputs[0]} to {outputs[0]} yet; add layers in between and "
                            f"connect them.", severity="todo"))


def _warn_softmax_before_output(graph, nodes, incoming, issues):
    for n in graph.nodes:
        if n.kind != "Output":
            continue
        for e in incoming[n.id]:
            if nodes[e.source].kind == "Softmax":
                issues.append(Issue("Softmax right before Output: training's cross-entropy loss already applies "
                                    "softmax, so this one slows learning; remove it", e.source, "warning"))
