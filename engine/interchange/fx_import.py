"""Import a PyTorch nn.Module as a layer graph by tracing it with torch.fx.

    result = import_module(model, (3, 224, 224))
    result.graph            # a laid-out GraphSpec
    result.weight_map       # original state_dict key -> compiled module key ("layer1.0.conv1.weight" -> "conv2d_2.weight")
    result.convert_state_dict(model.state_dict())  # ready for compile_graph(result.graph).load_state_dict

What does not map is listed per fx node (`UnmappedOp`, with the module it came from and the line of the
user's code). By default the import then stops with `UnmappableModelError`; with keep_partial=True it keeps
everything, and each operation that does not map becomes an `Unsupported` placeholder node with its inputs,
its output shape and its reason, which the analysis reports as an error: nothing is dropped or bridged
silently, and such a design cannot be trained or exported as if it were the original.

Every import that can run is verified: the original and the imported network run on the same random input
and the largest difference is reported (`ImportResult.verification`); a difference that is not rounding
makes the import fail.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
import io
from dataclasses import dataclass, field, replace

import torch
from torch import fx, nn

from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from engine.analysis import analyze
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.interchange.fx_basics import Alias, NotMappable, op_name
from engine.interchange.fx_mapping import ImportTracer, map_call
from engine.interchange.fx_names import ModuleNamer
from engine.interchange.fx_where import node_source, node_where, user_line
from engine.layout import auto_layout
from engine.registry import TEXT_LIMIT, get_kind

LABEL_LIMIT = 200
DESCRIPTION_LIMIT = 1000


class ImportFailedError(ValueError):
    """The model cannot be imported at all (tracing or running it failed); the message says why."""


@dataclass(frozen=True)
class UnmappedOp:
    node: str        # the fx node name, e.g. "mul_3"
    op: str          # what it does, e.g. "torch.mul" or "nn.Upsample"
    reason: str
    source: str = ""     # the module it came from in the original, e.g. "blocks.0.bn1" ("" for the top level)
    where: str = ""      # the line of the user's code, e.g. "model.py:42: x = x[:, :16]"
    placeholder: str = ""  # in a partial import: the id of the Unsupported node that keeps its place

    def __str__(self):
        source = f" in {self.source}" if self.source else ""
        where = f" [{self.where}]" if self.where else ""
        return f"{self.op}{source}: {self.reason}{where}"


GROUPS_SHOWN = 25


def unmapped_summary(unmapped: list, limit: int | None = GROUPS_SHOWN) -> str:
    """The operations that did not map, one line per operation and reason with the modules it came from;
    `limit` groups at most (None: all of them)."""
    groups: dict = {}
    for u in unmapped:
        groups.setdefault((u.op, u.reason), []).append(u)
    lines = []
    for (op, reason), items in list(groups.items())[:limit]:
        sources = list(dict.fromkeys(u.source or "(top level)" for u in items))   # a module may do it twice
        shown = ", ".join(sources[:4]) + (f" and {len(sources) - 4} more" if len(sources) > 4 else "")
        count = f" ×{len(items)}" if len(items) > 1 else ""
        where = f" [{items[0].where}]" if items[0].where else ""
        lines.append(f"  - {op}{count} in {shown}: {reason}{where}")
    if limit is not None and len(groups) > limit:
        lines.append(f"  ... and {len(groups) - limit} more kinds of operation (list them all with "
                     f"--list-unsupported)")
    return "\n".join(lines)


class UnmappableModelError(ImportFailedError):
    """Some operations have no registered layer kind. `unmapped` lists them; import again with
    keep_partial=True to keep what maps, with a placeholder for each of them."""

    def __init__(self, unmapped: list):
        self.unmapped = list(unmapped)
        super().__init__(f"{len(self.unmapped)} operation(s) have no layer kind in CNN Designer:\n"
                         f"{unmapped_summary(self.unmapped)}\n"
                         f"Import anyway to keep the layers that map, with a placeholder for each operation "
                         f"above to replace by hand.")


class ImportMismatchError(ImportFailedError):
    """The imported network does not compute what the original does (a mapping bug, never the person's)."""


@dataclass
class ImportResult:
    graph: GraphSpec
    weight_map: dict                       # original state_dict key -> compiled module key
    unmapped: list = field(default_factory=list)
    original_parameters: int = 0
    imported_parameters: int = 0           # parameters of the layers in the design (placeholders hold none)
    warnings: list = field(default_factory=list)
    verification: str = ""                 # how the imported network compares with the original
    max_difference: float | None = None    # largest |original - imported| output, None when not comparable
    original_layers: int = 0               # operations of the original with weights or a computation
    imported_layers: int = 0               # layers of the design that stand for them (placeholders excluded)
    weight_shapes: dict = field(default_factory=dict)  # compiled key -> shape, where a weight is reshaped

    def counts_text(self) -> str:
        """What came across, in numbers of both: layers and parameters."""
        missing = f"; {len(self.unmapped)} operation(s) kept as placeholders to replace" if self.unmapped else ""
        return (f"imported {self.imported_layers} of {self.original_layers} layers and "
                f"{self.imported_parameters:,} of {self.original_parameters:,} parameters{missing}")

    @property
    def complete(self) -> bool:
        return not self.unmapped

    def convert_state_dict(self, state_dict: dict) -> dict:
        """Rename an original state_dict to the compiled module's keys (skips what did not map)."""
        converted = {new: state_dict[old] for old, new in self.weight_map.items() if old in state_dict}
        for key, shape in self.weight_shapes.items():
            if key in converted:
                converted[key] = converted[key].reshape(shape)
        return converted


def trace(module: nn.Module, input_shape: Sequence[int] | None = None) -> fx.GraphModule:
    """The module's forward as an fx graph. Plain symbolic tracing first; if the forward works out sizes in
    Python (`for s in x.size()[1:]`, `x.view(-1, self.num_flat_features(x))`, as tutorials write it), trace
    again with the input's shape known, so those sizes become the numbers they are for this input, the same
    fixed size the design's Input has."""
    try:
        graph = ImportTracer().trace(module)
        return fx.GraphModule(module, graph, type(module).__name__)
    except Exception as exc:  # fx raises many types; all mean the same to the person
        failure = exc
    if input_shape is not None:
        try:
            return _trace_with_shapes(module, input_shape)
        except Exception:   # not a shape question after all: report the first failure, which names the line
            pass
    where = user_line(failure.__traceback__)
    where = f" at {where}" if where else ""
    raise ImportFailedError(
        f"torch.fx cannot trace {type(module).__name__}{where}: {_first_line(failure)}. Tracing records the "
        f"operations of forward() without real data, so Python that needs tensor values (an `if` or `for` "
        f"on a tensor's contents) cannot be followed; rewrite that line with tensor operations, or "
        f"import a sub-module that does not contain it.") from None


def _trace_with_shapes(module: nn.Module, input_shape: Sequence[int]) -> fx.GraphModule:
    """Trace a weightless (meta) copy with a meta input of the real shape: sizes asked in Python are
    concrete. The graph then runs on the original module, whose submodules and weights it names."""
    import copy
    import inspect
    import warnings

    from torch.fx.experimental.meta_tracer import MetaProxy, MetaTracer

    class SizedProxy(MetaProxy):
        def size(self, dim: int | None = None):   # noqa: ANN201 (a size or a proxy of one)
            meta = getattr(self, "_tensor_meta", None)
            if dim is None or meta is None:
                return super().size(dim)
            if dim % meta.dim() == 0:   # the batch: kept symbolic, as plain tracing keeps it
                return self.tracer.create_proxy("call_method", "size", (self, dim), {})
            return meta.size(dim)       # (MetaProxy itself answers size(0) with the whole shape)

    class ShapeTracer(ImportTracer, MetaTracer):   # the import's leaf rules, MetaTracer's concrete sizes
        def proxy(self, node: fx.Node) -> MetaProxy:
            return SizedProxy(node, self)

    meta = copy.deepcopy(module).to("meta")
    first = next(iter(inspect.signature(meta.forward).parameters))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # MetaTracer warns for every op it cannot size; ShapeProp sizes them next
        graph = ShapeTracer().trace(meta, meta_args={first: torch.zeros(2, *input_shape, device="meta")})
    return fx.GraphModule(module, graph, type(module).__name__)


def import_module(module: nn.Module, input_shape: Sequence[int], *, keep_partial: bool = False, name: str = "",
                  description: str = "", keep_names: bool = True) -> ImportResult:
    """Trace `module` (switched to eval mode) on inputs of per-sample `input_shape` (C, H, W) and build a graph.
    With `keep_names`, layers keep the original's module paths (engine.interchange.fx_names), so the design's
    weights use the original's state_dict keys."""
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ImportFailedError(f"the input shape must be channels, height, width (e.g. 3×224×224); got {input_shape}")
    try:
        get_kind("Input").normalize(dict(zip(("channels", "height", "width"), input_shape)))
    except ValueError as exc:
        raise ImportFailedError(f"the input shape does not fit the designer: {exc}") from None
    module.eval()
    _refuse_attention(module)
    traced = trace(module, input_shape)
    traced.graph.eliminate_dead_code()   # values computed and never used (`a, b = x.chunk(2, 1)` using a)
    shapes = _propagate_shapes(traced, input_shape, type(module).__name__)
    namer = ModuleNamer(module) if keep_names else None
    builder = _GraphBuilder(traced, shapes, name or type(module).__name__, description, namer)
    builder.declared_task = getattr(type(module), "task", None)   # exported by CNN Designer: what the output means
    builder.run(input_shape)
    if namer is not None:
        builder.graph = replace(builder.graph, module_classes=namer.module_classes())
    if builder.unmapped and not keep_partial:
        raise UnmappableModelError(builder.unmapped)
    graph = auto_layout(builder.graph)
    analysis = analyze(graph)
    original = sum(p.numel() for p in module.parameters())
    result = ImportResult(graph, builder.weight_map, builder.unmapped, original, analysis.total_params,
                          weight_shapes=builder.weight_shapes,
                          original_layers=builder.layers_seen,
                          imported_layers=sum(1 for n in graph.nodes if _stands_for_a_layer(n.kind)))
    if builder.unmapped:
        # Said in the design itself, so it stays with the design, its bundles and its exported code's docstring
        # after the placeholders are replaced: what replaced them is the person's, not the original's.
        ops = ", ".join(dict.fromkeys(u.op for u in builder.unmapped))
        note = (f"Partial import of {name or type(module).__name__}: {len(builder.unmapped)} operation(s) had no "
                f"layer kind ({ops}); the layers that replace them are not the original's.")
        result.graph = replace(graph, description=f"{note} {graph.description}"[:DESCRIPTION_LIMIT].strip())
        result.warnings.append(f"The import is partial: {len(builder.unmapped)} operation(s) became placeholders, "
                               f"each marked as an error; replace them before training or export.")
        result.verification = (f"not compared with the original: the design holds {len(builder.unmapped)} "
                               f"placeholder(s) and cannot run until they are replaced")
        return result
    if not analysis.ok:  # a mapping bug, not the person's fault: say so plainly instead of handing over a broken graph
        raise ImportFailedError("the imported graph does not check out:\n" + analysis.error_text())
    verify(module, result, input_shape)
    if original != analysis.total_params:
        result.warnings.append(f"The original has {original:,} parameters but only {analysis.total_params:,} take "
                               f"part in its forward pass; unused layers were left out.")
    return result


def _refuse_attention(module: nn.Module) -> None:
    """Transformers (ViT, Swin, ...) are not convolutional networks: say so once, instead of listing every
    reshape and attention step as an operation without a layer kind."""
    for path, sub in module.named_modules():
        if isinstance(sub, nn.MultiheadAttention) or "attention" in type(sub).__name__.lower():
            where = f" ({type(sub).__name__} at {path})" if path else ""
            raise ImportFailedError(
                f"{type(module).__name__} uses attention{where}: it is a transformer, not a convolutional network. "
                f"CNN Designer designs and imports CNNs; vision transformers are not imported.")


VERIFY_TOLERANCE = 1e-4   # of the output's scale: float32 rounding of a deep network stays far below


def verify(module: nn.Module, result: ImportResult, input_shape: Sequence[int]) -> None:
    """Run the original and the imported network on the same random input (eval mode); record the largest
    difference, and raise ImportMismatchError when it is more than rounding."""
    from engine.compiler import compile_graph

    compiled = compile_graph(result.graph)
    missing = compiled.load_state_dict(result.convert_state_dict(module.state_dict()), strict=False)
    compiled.eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, *input_shape, generator=generator)
    with torch.no_grad():
        expected, got = module(x), compiled(x)
    if not isinstance(expected, torch.Tensor) or expected.shape != got.shape:
        raise ImportMismatchError(f"the imported network's output has shape {tuple(got.shape)}, the original's "
                                  f"{getattr(expected, 'shape', type(expected).__name__)}")
    difference = float((expected - got).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    result.max_difference = difference
    result.verification = (f"outputs match the original: largest difference {difference:.2e} on a random "
                           f"input of {'×'.join(map(str, input_shape))}")
    if not difference <= VERIFY_TOLERANCE * scale:   # also NaN
        unloaded = ", ".join(missing.missing_keys[:5])
        hint = f" (weights not carried over: {unloaded})" if unloaded else ""
        raise ImportMismatchError(
            f"the imported network does not compute what {type(module).__name__} computes: on the same random "
            f"input the outputs differ by up to {difference:.3g} (outputs are up to {scale:.3g}){hint}. This is "
            f"a fault of the importer, not of your model; please report it with the model's code.")


def _stands_for_a_layer(kind: str) -> bool:
    return kind not in ("Input", "Output") and not get_kind(kind).placeholder


def _first_line(exc: BaseException) -> str:
    """The gist of an exception's message: its first sentence of its first line, never cut mid-word."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    if len(text) > 160 and ". " in text[20:]:
        text = text[:text.index(". ", 20)]
    if len(text) > 300:
        text = text[:text.rindex(" ", 0, 300)] + " …"
    return text.rstrip(".")


class _ShapeProp(ShapeProp):
    """ShapeProp that remembers the node it is running, to name the user's line when the model fails."""

    current = None

    def run_node(self, n):
        self.current = n
        return super().run_node(n)


def _propagate_shapes(traced: fx.GraphModule, input_shape, name) -> dict:
    """fx node -> per-sample shape (batch excluded) for nodes that produce one tensor. A batch of 2 tells
    a flatten (batch kept) from a reshape that mixes samples."""
    prop = _ShapeProp(traced)
    try:
        # ShapeProp prints the traceback of a failing node itself; the message below says it in one sentence
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            prop.propagate(torch.zeros(2, *input_shape))
    except Exception as exc:
        cause = exc.__cause__ or exc     # ShapeProp wraps the model's own error in a dump of the node
        where = node_where(prop.current) if prop.current is not None else ""
        where = f" at {where}" if where else ""
        raise ImportFailedError(f"{name} does not run on inputs of shape {'×'.join(map(str, input_shape))}{where}: "
                                f"{_first_line(cause)}. Choose an input size the model accepts.") from None
    shapes = {}
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata) and len(meta.shape) >= 1 and meta.shape[0] == 2:
            shapes[node] = tuple(int(s) for s in meta.shape[1:])
    return shapes


class _GraphBuilder:
    def __init__(self, traced: fx.GraphModule, shapes: dict, name: str, description: str,
                 namer: ModuleNamer | None = None):
        self.traced, self.shapes, self.namer = traced, shapes, namer
        self.named: dict = {}         # module path -> (kind, params) of the first layer with that name
        self.graph = GraphSpec(name=name[:LABEL_LIMIT], description=description[:LABEL_LIMIT])
        self.ids: dict = {}           # fx node -> graph node id, or None when its value is missing
        self.weight_map: dict = {}
        self.weight_shapes: dict = {}  # compiled key -> shape, where the design holds a weight reshaped
        self.unmapped: list = []
        self.module_owner: dict = {}  # submodule target -> node id that took over its weights
        self.layers_seen = 0          # operations that compute a tensor (mapped or not), aliases excluded
        self.input_size: tuple = ()   # (height, width) of the Input
        self.declared_task = None     # a `task` class attribute of the model (exported code writes one)

    def run(self, input_shape):
        placeholders = [n for n in self.traced.graph.nodes if n.op == "placeholder"]
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":
                if node is placeholders[0]:
                    c, h, w = input_shape
                    self.input_size = (h, w)
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
            self.layers_seen += 1
            owner = self.module_owner.get(mapped.module_target)
            if owner and self._has_state(mapped.module_target):
                raise NotMappable(f"it reuses the weights of {mapped.module_target} ({owner}); every layer in "
                                  f"the designer has its own weights")
            for original in mapped.attr_weights.values():
                if original in self.weight_map:
                    raise NotMappable(f"it reuses the weight {original}; every layer in the designer has its own "
                                      f"weights")
            for src in mapped.inputs:
                if src not in self.ids and src in self.shapes:
                    raise NotMappable(f"its input {src.name} is not a tensor the designer knows")
                if src not in self.shapes:
                    raise NotMappable(f"its input {src.name} is not a tensor computed by the network")
            label = mapped.module_target or node.name
            name = self._name_for(node, mapped)
            nid = self._add(node, mapped.kind, mapped.params, mapped.inputs, label, name)
            stored = name or nid   # the compiled network's state_dict keys start with this
            if mapped.module_target is not None:
                self.module_owner[mapped.module_target] = nid
                sub = self.traced.get_submodule(mapped.module_target)
                for key in sub.state_dict():
                    self.weight_map[f"{mapped.module_target}.{key}"] = f"{stored}.{key}"
            bare = get_kind(mapped.kind).bare_parameter if name else ""
            for key, original in mapped.attr_weights.items():
                self.weight_map[original] = stored if key == bare else f"{stored}.{key}"
            for key, shape in mapped.reshape.items():
                self.weight_shapes[f"{stored}.{key}"] = tuple(shape)
        except NotMappable as exc:
            self._unmapped(node, op_name(node, self.traced), str(exc), counted=True)
        except ValueError as exc:  # parameter outside the schema's bounds
            self._unmapped(node, op_name(node, self.traced), f"its parameters do not fit: {exc}", counted=True)

    def _name_for(self, node, mapped) -> str:
        """The original's module path for the layer ("" keeps the id): its module's, its bare parameter's, or a
        name inside the module whose forward computes it. Weights the design holds in another shape keep the
        id, so nobody loads the original's tensors under those keys unconverted."""
        if self.namer is None or mapped.reshape:
            return ""
        kind = get_kind(mapped.kind)
        if mapped.module_target:
            name = self.namer.module(mapped.module_target)
        elif mapped.attr_weights:
            if not kind.bare_parameter or list(mapped.attr_weights) != [kind.bare_parameter]:
                return ""
            name = self.namer.module(mapped.attr_weights[kind.bare_parameter])
        else:
            name = self.namer.operation(node, node_source(node))
        stateful = self._has_state(mapped.module_target) or bool(mapped.attr_weights)
        first = self.named.get(name)
        if first is not None:   # the same module called again: one path, if it is the same layer without weights
            return name if first == (mapped.kind, mapped.params) and not stateful else ""
        name = self.namer.fit(name, stateful) if name else ""
        if name:
            self.named[name] = (mapped.kind, mapped.params)
        return name

    def _has_state(self, target) -> bool:
        return bool(self.traced.get_submodule(target).state_dict()) if target else False

    def _add(self, node, kind, params, inputs, label, name="") -> str:
        spec = make_node(self.graph, kind, params, label=str(label)[:LABEL_LIMIT])
        if name:
            spec = replace(spec, name=name)
        self.graph = self.graph.with_node(spec)
        for slot, src in enumerate(inputs):
            if self.ids.get(src):
                self.graph = self.graph.with_edge(EdgeSpec(self.ids[src], spec.id, slot))
        self.ids[node] = spec.id
        return spec.id

    def _unmapped(self, node, op, reason, counted=False):
        """Record what did not map. An operation that made a tensor the designer can hold gets a placeholder
        in its place, fed by the same tensors, so nothing downstream is cut off or silently rewired."""
        if counted:   # an operation of the original network (not its extra inputs or outputs)
            self.layers_seen += 1
        source, where = node_source(node), node_where(node)
        placeholder = ""
        shape = self.shapes.get(node)
        if shape is not None and 1 <= len(shape) <= 3 and node.op not in ("placeholder", "output"):
            tensors = [a for a in node.all_input_nodes if a in self.shapes and self.ids.get(a)]
            params = {"operation": op[:TEXT_LIMIT], "source": source[:TEXT_LIMIT], "reason": reason[:TEXT_LIMIT],
                      "shape": list(shape)}
            try:
                placeholder = self._add(node, "Unsupported", params, tensors, source or node.name)
            except ValueError:   # a shape the designer cannot hold (a side over a million): leave a gap
                self.ids[node] = None
        else:
            self.ids[node] = None
        self.unmapped.append(UnmappedOp(node.name, op, reason, source, where, placeholder))

    def _output(self, node):
        value = node.args[0]
        if not isinstance(value, fx.Node) or value not in self.shapes:
            self._unmapped(node, "output", "the network must return one tensor of class scores, not several values")
            return
        shape = self.shapes[value]
        # score maps at the input's size: a segmentation network (a class for every pixel)
        task = "segmentation" if len(shape) == 3 and tuple(shape[1:]) == tuple(self.input_size) else "classification"
        classes = shape[0]
        declared = self.declared_task
        if declared in ("localization", "detection") and len(shape) == (1 if declared == "localization" else 3) \
                and shape[0] > 4:   # classes, then 4 numbers for the box
            task, classes = declared, shape[0] - 4
        if len(shape) != 1 and task == "classification":
            self._unmapped(node, "output", f"the network returns shape {shape}; the designer's Output expects "
                                           f"flat class scores (classes,), or score maps (classes, height, width) at "
                                           f"the input's size for segmentation")
            return
        if shape[0] > get_kind("Output").param("classes").maximum:
            self._unmapped(node, "output", f"{shape[0]} classes is more than the designer supports")
            return
        self._add(node, "Output", {"classes": classes, "task": task}, [value], "output")
