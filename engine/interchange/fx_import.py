"""Import a PyTorch nn.Module as a layer graph by tracing it with torch.fx.

    result = import_module(model, (3, 224, 224))
    result.graph            # a laid-out GraphSpec
    result.weight_map       # original state_dict key -> compiled module key ("layer1.0.conv1.weight" -> "conv2d_2.weight")
    result.convert_state_dict(model.state_dict())  # ready for compile_graph(result.graph).load_state_dict

What does not map is listed per fx node (`UnmappedOp`). By default the import then stops with
`UnmappableModelError`; with keep_partial=True it keeps what maps: an unmapped node that keeps its input's
shape is bridged, anything else leaves its consumers unconnected for the person to finish in the designer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from engine.analysis import analyze
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.interchange.fx_mapping import Alias, ImportTracer, NotMappable, map_call, op_name
from engine.layout import auto_layout
from engine.registry import get_kind

LABEL_LIMIT = 200


class ImportFailedError(ValueError):
    """The model cannot be imported at all (tracing or running it failed); the message says why."""


@dataclass(frozen=True)
class UnmappedOp:
    node: str        # the fx node name, e.g. "mul_3"
    op: str          # what it does, e.g. "torch.mul" or "nn.Upsample"
    reason: str
    bridged: bool = False  # in a partial import: its input was passed straight through

    def __str__(self):
        return f"{self.node} ({self.op}): {self.reason}"


class UnmappableModelError(ImportFailedError):
    """Some operations have no registered layer kind. `unmapped` lists them; import again with
    keep_partial=True to keep what maps."""

    def __init__(self, unmapped: list):
        self.unmapped = list(unmapped)
        lines = "\n".join(f"  - {u}" for u in self.unmapped[:40])
        more = f"\n  ... and {len(self.unmapped) - 40} more" if len(self.unmapped) > 40 else ""
        super().__init__(f"{len(self.unmapped)} operation(s) have no layer kind in CNN Designer:\n{lines}{more}\n"
                         f"Import anyway to keep the layers that map and finish the rest by hand.")


@dataclass
class ImportResult:
    graph: GraphSpec
    weight_map: dict                       # original state_dict key -> compiled module key
    unmapped: list = field(default_factory=list)
    original_parameters: int = 0
    imported_parameters: int = 0
    warnings: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unmapped

    def convert_state_dict(self, state_dict: dict) -> dict:
        """Rename an original state_dict to the compiled module's keys (skips what did not map)."""
        return {new: state_dict[old] for old, new in self.weight_map.items() if old in state_dict}


def trace(module: nn.Module) -> fx.GraphModule:
    try:
        graph = ImportTracer().trace(module)
        return fx.GraphModule(module, graph, type(module).__name__)
    except Exception as exc:  # fx raises many types; all mean the same to the person
        raise ImportFailedError(
            f"torch.fx cannot trace {type(module).__name__}: {_first_line(exc)}. Models whose forward depends on "
            f"the values of tensors (if/for on data) cannot be imported; simplify the forward or import a "
            f"sub-module.") from None


def import_module(module: nn.Module, input_shape, *, keep_partial: bool = False, name: str = "",
                  description: str = "") -> ImportResult:
    """Trace `module` (switched to eval mode) on inputs of per-sample `input_shape` (C, H, W) and build a graph."""
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ImportFailedError(f"the input shape must be channels, height, width (e.g. 3×224×224); got {input_shape}")
    try:
        get_kind("Input").normalize(dict(zip(("channels", "height", "width"), input_shape)))
    except ValueError as exc:
        raise ImportFailedError(f"the input shape does not fit the designer: {exc}") from None
    module.eval()
    traced = trace(module)
    shapes = _propagate_shapes(traced, input_shape, type(module).__name__)
    builder = _GraphBuilder(traced, shapes, name or type(module).__name__, description)
    builder.run(input_shape)
    if builder.unmapped and not keep_partial:
        raise UnmappableModelError(builder.unmapped)
    graph = auto_layout(builder.graph)
    analysis = analyze(graph)
    original = sum(p.numel() for p in module.parameters())
    result = ImportResult(graph, builder.weight_map, builder.unmapped, original, analysis.total_params)
    if builder.unmapped:
        result.warnings.append("The import is partial: connect or replace the missing layers before training.")
    elif not analysis.ok:  # a mapping bug, not the person's fault: say so plainly instead of handing over a broken graph
        raise ImportFailedError("the imported graph does not check out:\n" + analysis.error_text())
    if not builder.unmapped and original != analysis.total_params:
        result.warnings.append(f"The original has {original:,} parameters but only {analysis.total_params:,} take "
                               f"part in its forward pass; unused layers were left out.")
    return result


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _propagate_shapes(traced: fx.GraphModule, input_shape, name) -> dict:
    """fx node -> per-sample shape (batch excluded) for nodes that produce one tensor. A batch of 2 tells
    a flatten (batch kept) from a reshape that mixes samples."""
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(torch.zeros(2, *input_shape))
    except Exception as exc:
        raise ImportFailedError(f"{name} does not run on inputs of shape {'×'.join(map(str, input_shape))}: "
                                f"{_first_line(exc)}. Choose an input size the model accepts.") from None
    shapes = {}
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata) and len(meta.shape) >= 1 and meta.shape[0] == 2:
            shapes[node] = tuple(int(s) for s in meta.shape[1:])
    return shapes


class _GraphBuilder:
    def __init__(self, traced: fx.GraphModule, shapes: dict, name: str, description: str):
        self.traced, self.shapes = traced, shapes
        self.graph = GraphSpec(name=name[:LABEL_LIMIT], description=description[:LABEL_LIMIT])
        self.ids: dict = {}           # fx node -> graph node id, or None when its value is missing
        self.weight_map: dict = {}
        self.unmapped: list = []
        self.module_owner: dict = {}  # submodule target -> node id that took over its weights

    def run(self, input_shape):
        placeholders = [n for n in self.traced.graph.nodes if n.op == "placeholder"]
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":
                if node is placeholders[0]:
                    c, h, w = input_shape
                    self._add(node, "Input", {"channels": c, "height": h, "width": w}, [], "input")
                else:
                    self._unmapped(node, "placeholder", "the network takes more than one input")
            elif node.op == "output":
                self._output(node)
            elif node.op == "get_attr" or node not in self.shapes:
                continue  # constants and shape arithmetic (x.size(0)) only matter to the ops that use them
            else:
                self._call(node)

    def _call(self, node):
        try:
            mapped = map_call(node, self.traced, self.shapes)
            if isinstance(mapped, Alias):
                self.ids[node] = self.ids.get(mapped.source)
                return
            owner = self.module_owner.get(mapped.module_target)
            if owner and self._has_state(mapped.module_target):
                raise NotMappable(f"it reuses the weights of {mapped.module_target} ({owner}); every layer in "
                                  f"the designer has its own weights")
            for src in mapped.inputs:
                if src not in self.ids and src in self.shapes:
                    raise NotMappable(f"its input {src.name} is not a tensor the designer knows")
                if src not in self.shapes:
                    raise NotMappable(f"its input {src.name} is not a tensor computed by the network")
            label = mapped.module_target or node.name
            nid = self._add(node, mapped.kind, mapped.params, mapped.inputs, label)
            if mapped.module_target is not None:
                self.module_owner[mapped.module_target] = nid
                sub = self.traced.get_submodule(mapped.module_target)
                for key in sub.state_dict():
                    self.weight_map[f"{mapped.module_target}.{key}"] = f"{nid}.{key}"
        except NotMappable as exc:
            self._unmapped(node, op_name(node, self.traced), str(exc))
        except ValueError as exc:  # parameter outside the schema's bounds
            self._unmapped(node, op_name(node, self.traced), f"its parameters do not fit: {exc}")

    def _has_state(self, target) -> bool:
        return bool(self.traced.get_submodule(target).state_dict()) if target else False

    def _add(self, node, kind, params, inputs, label) -> str:
        spec = make_node(self.graph, kind, params, label=str(label)[:LABEL_LIMIT])
        self.graph = self.graph.with_node(spec)
        for slot, src in enumerate(inputs):
            if self.ids.get(src):
                self.graph = self.graph.with_edge(EdgeSpec(self.ids[src], spec.id, slot))
        self.ids[node] = spec.id
        return spec.id

    def _unmapped(self, node, op, reason):
        tensors = [a for a in node.all_input_nodes if a in self.shapes]
        bridged = (len(tensors) == 1 and node in self.shapes and self.shapes[node] == self.shapes[tensors[0]]
                   and self.ids.get(tensors[0]) is not None)
        self.ids[node] = self.ids.get(tensors[0]) if bridged else None
        self.unmapped.append(UnmappedOp(node.name, op, reason, bridged))

    def _output(self, node):
        value = node.args[0]
        if not isinstance(value, fx.Node) or value not in self.shapes:
            self._unmapped(node, "output", "the network must return one tensor of class scores, not several values")
            return
        shape = self.shapes[value]
        if len(shape) != 1:
            self._unmapped(node, "output", f"the network returns shape {shape}; the designer's Output expects "
                                           f"flat class scores (classes,)")
            return
        if shape[0] > get_kind("Output").param("classes").maximum:
            self._unmapped(node, "output", f"{shape[0]} classes is more than the designer supports")
            return
        self._add(node, "Output", {"classes": shape[0]}, [value], "output")
