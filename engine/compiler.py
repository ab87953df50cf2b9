"""Compile a layer graph into a PyTorch module.

The result is a `torch.fx.GraphModule`: its submodules are named by node id and its forward is generated
Python code that calls them in dependency order, with no interpreter loop on the hot path. It traces, scripts
and exports to ONNX like any hand-written module.

Its state_dict keys are the layers' module paths (engine.module_paths): the node id for a layer drawn on the
canvas (`conv2d_1.weight`), the original's path for an imported one (`layer1.0.conv1.weight`). Everything
that finds a layer's module keeps using the node id.
"""
from __future__ import annotations

import torch
from torch import fx, nn

from engine.analysis import Analysis, analyze
from engine.graph import GraphSpec
from engine.memory_limit import ResourceLimitError, check_memory  # noqa: F401  (ResourceLimitError: for callers)
from engine.module_paths import StateKeyNames, install_state_names, state_key_map
from engine.registry import get_kind


class GraphInvalidError(ValueError):
    """The graph has errors; `analysis.errors` lists them."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        super().__init__("The network cannot be built yet:\n" + analysis.error_text())


def compile_graph(graph: GraphSpec, analysis: Analysis | None = None) -> fx.GraphModule:
    """Build the module. Raises ResourceLimitError, before allocating anything, when the network needs more
    memory than the limit (engine.memory_limit), and GraphInvalidError when the analysis finds errors."""
    analysis = analysis or analyze(graph)
    check_memory(graph, analysis)
    if not analysis.ok:
        raise GraphInvalidError(analysis)
    nodes = graph.node_map()
    needed = _ancestors_of_output(graph)
    modules: dict = {}
    fxg = fx.Graph()
    values: dict = {}
    result = None
    for nid in analysis.order:
        if nid not in needed:
            continue
        spec, info = nodes[nid], analysis.nodes[nid]
        kind = get_kind(spec.kind)
        args = tuple(values[e.source] for e in graph.in_edges(nid))
        if spec.kind == "Input":
            values[nid] = fxg.placeholder("x")
        elif spec.kind == "Output":
            result = args[0]
        else:
            modules[nid] = kind.build(spec.params, list(info.in_shapes))
            values[nid] = fxg.call_module(nid, args)
    fxg.output(result)
    module = fx.GraphModule(_Root(modules), fxg, class_name="DesignedNetwork")
    module.node_order = [nid for nid in analysis.order if nid in modules]
    install_state_names(module, _state_names(graph, modules))
    return module


def _state_names(graph: GraphSpec, modules: dict[str, nn.Module]) -> StateKeyNames:
    """The renaming from node ids to module paths; two layers that would store weights under one key (a design
    file edited by hand) are refused here, where the modules are known."""
    nodes = graph.node_map()
    bare = {nid: get_kind(nodes[nid].kind).bare_parameter for nid in modules
            if nodes[nid].name and get_kind(nodes[nid].kind).bare_parameter}
    names = StateKeyNames(state_key_map(graph, modules), bare)
    owners: dict = {}
    for nid, sub in modules.items():
        for key in sub.state_dict():
            outside = names.outward(f"{nid}.{key}")
            if outside in owners and owners[outside] != nid:
                raise ValueError(f"layers {owners[outside]} and {nid} would both store weights as {outside!r}; "
                                 f"give them different module names")
            owners[outside] = nid
    return names


class _Root(nn.Module):
    def __init__(self, modules: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, m in modules.items():
            self.add_module(name, m)


def _ancestors_of_output(graph: GraphSpec) -> set[str]:
    outputs = [n.id for n in graph.nodes if n.kind == "Output"]
    seen, stack = set(outputs), list(outputs)
    while stack:
        for e in graph.in_edges(stack.pop()):
            if e.source not in seen:
                seen.add(e.source)
                stack.append(e.source)
    return seen


def input_shape(graph: GraphSpec) -> tuple[int, int, int]:
    """(channels, height, width) of the graph's Input node."""
    p = graph.nodes_of_kind("Input")[0].params
    return (p["channels"], p["height"], p["width"])


def example_input(graph: GraphSpec, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, *input_shape(graph))
