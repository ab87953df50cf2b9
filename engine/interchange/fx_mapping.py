"""Which torch.fx nodes map to which registered layer kinds, and with which parameters.

A mapper receives the fx node, the traced module and a `shapes` lookup (fx node -> per-sample shape of
its tensor output, batch excluded) and returns a `Mapped` (a layer of some kind) or an `Alias` (the node
passes its input through unchanged, e.g. nn.Identity), or raises `NotMappable` with the reason.
"""
from __future__ import annotations

import operator
from math import prod
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interchange import fx_channels_last as channels_last
from engine.interchange.fx_basics import Alias, Mapped, NotMappable, arg_of, as_pair, tensor_input
from engine.interchange.fx_channel_ops import channel_shuffle, getitem, transpose


# ---- modules ------------------------------------------------------------------------------------

def _conv(m: nn.Conv2d):
    if m.padding_mode != "zeros":
        raise NotMappable(f"padding_mode={m.padding_mode!r} is not supported; only zero padding maps")
    padding = m.padding
    if padding == "valid":
        padding = (0, 0)
    return "Conv2d", {"out_channels": m.out_channels, "kernel_size": m.kernel_size, "stride": m.stride,
                      "padding": padding, "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None}


def _conv_transpose(m: nn.ConvTranspose2d):
    if m.padding_mode != "zeros":
        raise NotMappable(f"padding_mode={m.padding_mode!r} is not supported; only zero padding maps")
    return "ConvTranspose2d", {"out_channels": m.out_channels, "kernel_size": m.kernel_size, "stride": m.stride,
                               "padding": m.padding, "output_padding": m.output_padding, "dilation": m.dilation,
                               "groups": m.groups, "bias": m.bias is not None}


def upsample_params(node: fx.Node, shapes: dict, scale: object, mode: str, align_corners: bool | None) -> dict:
    """Upsample's settings from nn.Upsample's or F.interpolate's: a whole scale factor per side (given, or
    worked out from a target size that is a whole multiple of the input), nearest or bilinear."""
    if mode not in ("nearest", "bilinear"):
        raise NotMappable(f"only nearest and bilinear upsampling map, not {mode!r}")
    source, out = shapes.get(tensor_input(node)), shapes.get(node)
    if source is None or out is None or len(source) != 3 or len(out) != 3:
        raise NotMappable("only upsampling of feature maps maps")
    factors = tuple(o // i if i and o % i == 0 else 0 for o, i in zip(out[1:], source[1:]))
    if min(factors) < 1 or scale is not None and any(float(f) != float(v) for f, v in zip(factors, as_pair(scale))):
        raise NotMappable("only upsampling by whole factors (2, 3, …) maps")
    return {"scale_factor": factors, "mode": mode, "align_corners": bool(align_corners) and mode == "bilinear"}


def _batchnorm(kind):
    def mapper(m):
        if not m.track_running_stats or m.momentum is None:
            raise NotMappable("only batch norm with running statistics and a fixed momentum maps")
        return kind, {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}
    return mapper


def _maxpool(m: nn.MaxPool2d):
    if m.return_indices or as_pair(m.dilation) != (1, 1):
        raise NotMappable("max pooling with dilation or return_indices does not map")
    return "MaxPool2d", {"kernel_size": as_pair(m.kernel_size), "stride": as_pair(m.stride or m.kernel_size),
                         "padding": as_pair(m.padding), "ceil_mode": m.ceil_mode}


def _avg_settings_ok(padding, count_include_pad, divisor_override) -> None:
    """count_include_pad changes nothing without padding, so it is refused only where it would matter."""
    if divisor_override is not None:
        raise NotMappable("average pooling with divisor_override does not map")
    if not count_include_pad and as_pair(padding) != (0, 0):
        raise NotMappable("average pooling with padding maps only with count_include_pad=True (the padded zeros "
                          "are counted in each average)")


def _avgpool(m: nn.AvgPool2d):
    _avg_settings_ok(m.padding, m.count_include_pad, m.divisor_override)
    return "AvgPool2d", {"kernel_size": as_pair(m.kernel_size), "stride": as_pair(m.stride or m.kernel_size),
                         "padding": as_pair(m.padding), "ceil_mode": m.ceil_mode}


def _adaptive(m: nn.AdaptiveAvgPool2d):
    size = as_pair(m.output_size)
    if None in size:
        raise NotMappable("adaptive pooling that keeps one side (None in output_size) does not map")
    return "AdaptiveAvgPool2d", {"output_size": size}


def _flatten_module(m: nn.Flatten):
    return "Flatten", {}


def _simple(kind, **params_from):
    return lambda m: (kind, {k: getattr(m, attr) for k, attr in params_from.items()})


def _gelu(m):
    if m.approximate != "none":
        raise NotMappable("GELU with the tanh approximation does not map")
    return "GELU", {}


MODULE_MAPPERS: dict = {
    nn.Conv2d: _conv,
    nn.ConvTranspose2d: _conv_transpose,
    nn.Linear: lambda m: ("Linear", {"out_features": m.out_features, "bias": m.bias is not None}),
    nn.BatchNorm2d: _batchnorm("BatchNorm2d"),
    nn.BatchNorm1d: _batchnorm("BatchNorm1d"),
    nn.GroupNorm: lambda m: ("GroupNorm", {"groups": m.num_groups, "eps": m.eps, "affine": m.affine}),
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: _adaptive,
    nn.Flatten: _flatten_module,
    nn.ReLU: _simple("ReLU"),
    nn.ReLU6: _simple("ReLU6"),
    nn.LeakyReLU: _simple("LeakyReLU", negative_slope="negative_slope"),
    nn.ELU: _simple("ELU", alpha="alpha"),
    nn.Sigmoid: _simple("Sigmoid"),
    nn.Tanh: _simple("Tanh"),
    nn.GELU: _gelu,
    nn.SiLU: _simple("SiLU"),
    nn.Hardswish: _simple("Hardswish"),
    nn.Hardsigmoid: _simple("Hardsigmoid"),
    nn.Dropout: _simple("Dropout", p="p"),
    nn.Dropout2d: _simple("Dropout2d", p="p"),
}


# ---- containers that are one registered kind (built as nn.Sequential by the compiler) ---------------

def _global_pool(m):
    if (len(m) == 2 and type(m[0]) is nn.AdaptiveAvgPool2d and as_pair(m[0].output_size) == (1, 1)
            and type(m[1]) is nn.Flatten and (m[1].start_dim, m[1].end_dim) == (1, -1)):
        return "Global average pool", {}
    return None


def _nin(m):
    """Conv k×k, ReLU, Conv 1×1, ReLU, Conv 1×1, ReLU: the Network-in-Network block, exactly."""
    types = [type(x) for x in m]
    if types != [nn.Conv2d, nn.ReLU] * 3:
        return None
    c1, c2, c3 = m[0], m[2], m[4]
    plain = all(c.bias is not None and c.groups == 1 and c.dilation == (1, 1) and c.padding_mode == "zeros"
                and not isinstance(c.padding, str) for c in (c1, c2, c3))
    if not plain or any(c.kernel_size != (1, 1) or c.stride != (1, 1) or c.padding != (0, 0) for c in (c2, c3)):
        return None
    return "NiN block", {"channels": c1.out_channels, "kernel_size": c1.kernel_size, "stride": c1.stride,
                         "padding": c1.padding, "mlp_channels": c2.out_channels, "out_channels": c3.out_channels}


CONTAINER_PATTERNS = (_global_pool, _nin)


def container_kind(module: nn.Module) -> tuple[str, dict] | None:
    """(kind, params) when an nn.Sequential is exactly one registered kind, else None."""
    if type(module) is not nn.Sequential:
        return None
    for pattern in CONTAINER_PATTERNS:
        found = pattern(module)
        if found:
            return found
    return None


def _stochastic_depth(m):
    return "Stochastic depth", {"p": float(m.p), "mode": m.mode}


# Mapped by class name: torchvision is imported only if the model being imported uses it.
MODULES_BY_NAME: dict = {("torchvision.ops.stochastic_depth", "StochasticDepth"): _stochastic_depth}


def module_mapper(module: nn.Module) -> Callable | None:
    """The mapper of the module's class, or of the mapped class it derives from when it keeps that class's
    forward (a library's `class MyBatchNorm(nn.BatchNorm2d)` that only adds attributes computes the same).
    A subclass with a forward of its own is traced into instead, and its operations mapped one by one."""
    cls = type(module)
    if cls in MODULE_MAPPERS:
        return MODULE_MAPPERS[cls]
    if (cls.__module__, cls.__name__) in MODULES_BY_NAME:
        return MODULES_BY_NAME[(cls.__module__, cls.__name__)]
    for base in cls.__mro__[1:]:
        if base in MODULE_MAPPERS:
            return MODULE_MAPPERS[base] if cls.forward is base.forward else None
    return None


class ImportTracer(fx.Tracer):
    """Keeps containers that match a registered kind whole, so they import as one layer, and records where
    in the user's code each operation was made (for messages)."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return (container_kind(m) is not None or module_mapper(m) is not None or _stands_for_an_operation(m)
                or super().is_leaf_module(m, qualname))


def _stands_for_an_operation(module: nn.Module) -> bool:
    """A module that stands for one operation of another format (an ONNX operator with no counterpart): kept
    whole, and reported under its own name and reason."""
    return isinstance(getattr(module, "operation_name", None), str)


def map_module_call(node: fx.Node, root: nn.Module, shapes: dict) -> Mapped | Alias:
    module = root.get_submodule(node.target)
    found = container_kind(module)
    if found:
        return Mapped(found[0], found[1], [tensor_input(node)], module_target=node.target)
    if isinstance(module, nn.Identity):
        return Alias(tensor_input(node))
    if _stands_for_an_operation(module):
        raise NotMappable(str(getattr(module, "reason", "")) or "no layer kind computes it")
    if isinstance(module, nn.Softmax):
        return _softmax(node, module.dim, shapes)
    if type(module) in (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d):
        params = upsample_params(node, shapes, module.scale_factor, module.mode, module.align_corners)
        return Mapped("Upsample", params, [tensor_input(node)], module_target=node.target)
    if isinstance(module, nn.LayerNorm) and type(module).forward is nn.LayerNorm.forward:
        return channels_last.map_layer_norm_module(node, module, root, shapes)
    mapper = module_mapper(module)
    if mapper is None:
        raise NotMappable(f"no registered layer kind for {type(module).__name__}")
    if isinstance(module, nn.Linear) and len(shapes.get(tensor_input(node)) or ()) == 3:
        return channels_last.map_pointwise_linear(node, module, root, shapes)
    if isinstance(module, nn.Flatten):
        _require_flat(node, shapes)
    kind, params = mapper(module)
    return Mapped(kind, params, [tensor_input(node)], module_target=node.target)


# ---- functions and tensor methods ---------------------------------------------------------------

def _activation(kind, **params):
    """params: name -> (arg index after the tensor, kwarg name, default)."""
    def mapper(node, shapes):
        values = {k: arg_of(node, i, name, default) for k, (i, name, default) in params.items()}
        return Mapped(kind, values, [tensor_input(node)])
    return mapper


def _gelu_fn(node, shapes):
    if arg_of(node, 1, "approximate", "none") != "none":
        raise NotMappable("GELU with the tanh approximation does not map")
    return Mapped("GELU", {}, [tensor_input(node)])


def _pool_fn(kind):
    def mapper(node, shapes):
        kernel = as_pair(arg_of(node, 1, "kernel_size"))
        stride = arg_of(node, 2, "stride", None)
        padding = as_pair(arg_of(node, 3, "padding", 0))
        if kind == "MaxPool2d":
            dilation, ceil = arg_of(node, 4, "dilation", 1), arg_of(node, 5, "ceil_mode", False)
            if as_pair(dilation) != (1, 1) or arg_of(node, 6, "return_indices", False):
                raise NotMappable("max pooling with dilation or return_indices does not map")
        else:
            ceil = arg_of(node, 4, "ceil_mode", False)
            _avg_settings_ok(padding, arg_of(node, 5, "count_include_pad", True), arg_of(node, 6, "divisor_override"))
        stride = kernel if stride in (None, [], ()) else as_pair(stride)
        return Mapped(kind, {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil},
                      [tensor_input(node)])
    return mapper


def _adaptive_fn(node, shapes):
    size = as_pair(arg_of(node, 1, "output_size"))
    if None in size:
        raise NotMappable("adaptive pooling that keeps one side (None in output_size) does not map")
    return Mapped("AdaptiveAvgPool2d", {"output_size": size}, [tensor_input(node)])


def _interpolate_fn(node, shapes):
    if arg_of(node, 5, "recompute_scale_factor") or arg_of(node, 6, "antialias", False):
        raise NotMappable("interpolation with recompute_scale_factor or antialias does not map")
    params = upsample_params(node, shapes, arg_of(node, 2, "scale_factor"), arg_of(node, 3, "mode", "nearest"),
                             arg_of(node, 4, "align_corners"))
    return Mapped("Upsample", params, [tensor_input(node)])


def _dropout_fn(kind):
    return lambda node, shapes: Mapped(kind, {"p": arg_of(node, 1, "p", 0.5)}, [tensor_input(node)])


def _require_flat(node, shapes):
    """Flatten/view/reshape map only when they turn each sample into one flat vector."""
    x = tensor_input(node)
    src, out = shapes.get(x), shapes.get(node)
    if src is None or out is None or len(out) != 1 or out[0] != prod(src):
        raise NotMappable("only reshapes to a flat vector per sample (like torch.flatten(x, 1) or "
                          "x.view(x.size(0), -1)) map to Flatten")


def _flatten_fn(node, shapes):
    shuffle = channel_shuffle(node, shapes)
    if shuffle is not None:
        return shuffle
    _require_flat(node, shapes)
    return Mapped("Flatten", {}, [tensor_input(node)])


def _elementwise(kind, accept):
    """Add/Multiply: every argument must be a tensor whose shape `accept`s the others (no scalars)."""
    def mapper(node, shapes):
        if node.kwargs.get("alpha", 1) != 1 or len(node.args) != 2:
            raise NotMappable(f"only the plain {kind.lower()} of two tensors maps")
        a, b = node.args
        if not all(isinstance(v, fx.Node) and shapes.get(v) is not None for v in (a, b)):
            raise NotMappable(f"only the {kind.lower()} of two tensors maps, not of a tensor and a number")
        if not accept(shapes[a], shapes[b]):
            raise NotMappable(f"the shapes {shapes[a]} and {shapes[b]} would broadcast, which {kind} does not do")
        return Mapped(kind, {}, [a, b])
    return mapper


def _gate_ok(a, b):
    return a == b or (len(a) == 3 and len(b) == 3 and a[0] == b[0] and (a[1:] == (1, 1) or b[1:] == (1, 1)))


def _cat(node, shapes):
    tensors = arg_of(node, 0, "tensors")
    dim = arg_of(node, 1, "dim", 0)
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, fx.Node) for t in tensors):
        raise NotMappable("only torch.cat of a list of tensors maps")
    if len(tensors) == 1:   # torch.cat([x], 1) is x (DenseNet starts each dense layer so)
        return Alias(tensors[0])
    ranks = {len(shapes.get(t) or ()) for t in tensors}
    if len(ranks) != 1 or not ranks.issubset({1, 3}):
        raise NotMappable("only concatenation of feature maps or of flat vectors maps")
    rank = ranks.pop() + 1  # with the batch dimension
    if dim not in (1, 1 - rank):
        raise NotMappable(f"only concatenation along the channels (dim=1) maps; this one uses dim={dim}")
    return Mapped("Concat", {}, list(tensors))


def _softmax(node, dim, shapes):
    x = tensor_input(node)
    if dim != 1 and not (dim == -1 and len(shapes.get(x) or ()) == 1):
        raise NotMappable(f"only softmax over the channels or features (dim=1) maps; this one uses dim={dim}")
    return Mapped("Softmax", {}, [x])


def _softmax_fn(node, shapes):
    return _softmax(node, arg_of(node, 1, "dim"), shapes)


def _mean(node, shapes):
    """The mean over height and width (x.mean([2, 3]), as MNASNet and ShuffleNet end) is global average
    pooling: flat with keepdim=False, 1×1 maps with keepdim=True."""
    x = tensor_input(node)
    dims = arg_of(node, 1, "dim")
    rank = len(shapes.get(x) or ()) + 1   # with the batch dimension
    dims = (dims,) if isinstance(dims, int) else tuple(dims) if isinstance(dims, (list, tuple)) else None
    if rank != 4 or dims is None or sorted(d % 4 for d in dims) != [2, 3] or node.kwargs.get("dtype") is not None:
        raise NotMappable("only the mean over height and width of feature maps maps (to global average pooling)")
    if arg_of(node, 2, "keepdim", False):
        return Mapped("AdaptiveAvgPool2d", {"output_size": (1, 1)}, [x])
    return Mapped("Global average pool", {}, [x])


BATCH_NORM_STATE = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _batch_norm_fn(node, shapes, root):
    """F.batch_norm called with the statistics and affine parameters of one module (a batch-norm subclass
    whose forward adds an activation, as model libraries write it) is that module as a batch-norm layer."""
    x = tensor_input(node)
    names = ("running_mean", "running_var", "weight", "bias")
    attrs = {name: arg_of(node, i + 1, name) for i, name in enumerate(names)}
    if arg_of(node, 5, "training", False):
        raise NotMappable("batch norm in training mode (batch statistics) does not map")
    owners = set()
    for name, value in attrs.items():
        if value is None and name in ("weight", "bias"):
            continue
        if not (isinstance(value, fx.Node) and value.op == "get_attr" and value.target.rsplit(".", 1)[-1] == name):
            raise NotMappable("only batch norm on a module's own running statistics and weights maps")
        owners.add(value.target.rpartition(".")[0])
    if len(owners) != 1 or (attrs["weight"] is None) != (attrs["bias"] is None):
        raise NotMappable("only batch norm whose statistics and weights belong to one module maps")
    owner = owners.pop()
    module = root.get_submodule(owner) if owner else root
    state = set(module.state_dict())
    if not state <= BATCH_NORM_STATE:
        raise NotMappable(f"{owner or 'the model'} holds weights besides batch norm's; they would be lost")
    momentum = arg_of(node, 6, "momentum", 0.1)
    rank = len(shapes.get(x) or ())
    if rank not in (1, 3) or momentum is None:
        raise NotMappable("only batch norm of feature maps or flat vectors, with a fixed momentum, maps")
    params = {"eps": float(arg_of(node, 7, "eps", 1e-5)), "momentum": float(momentum),
              "affine": attrs["weight"] is not None}
    return Mapped("BatchNorm2d" if rank == 3 else "BatchNorm1d", params, [x], module_target=owner or None)


def _identity(node, shapes):
    return Alias(tensor_input(node))


_relu = _activation("ReLU")
FUNCTION_MAPPERS: dict = {
    F.relu: _relu, torch.relu: _relu, torch.relu_: _relu, F.relu_: _relu,
    F.relu6: _activation("ReLU6"),
    F.hardswish: _activation("Hardswish"),
    F.hardsigmoid: _activation("Hardsigmoid"),
    F.silu: _activation("SiLU"),
    torch.sigmoid: _activation("Sigmoid"), F.sigmoid: _activation("Sigmoid"),
    torch.tanh: _activation("Tanh"), F.tanh: _activation("Tanh"),
    F.gelu: _gelu_fn,
    F.leaky_relu: _activation("LeakyReLU", negative_slope=(1, "negative_slope", 0.01)),
    F.elu: _activation("ELU", alpha=(1, "alpha", 1.0)),
    F.max_pool2d: _pool_fn("MaxPool2d"),
    F.avg_pool2d: _pool_fn("AvgPool2d"),
    F.adaptive_avg_pool2d: _adaptive_fn,
    F.dropout: _dropout_fn("Dropout"),
    F.interpolate: _interpolate_fn, F.upsample: _interpolate_fn,
    F.dropout2d: _dropout_fn("Dropout2d"),
    F.softmax: _softmax_fn, torch.softmax: _softmax_fn,
    torch.flatten: _flatten_fn, torch.reshape: _flatten_fn, torch.transpose: transpose, torch.permute: transpose,
    operator.add: _elementwise("Add", operator.eq), operator.iadd: _elementwise("Add", operator.eq),
    torch.add: _elementwise("Add", operator.eq),
    operator.mul: _elementwise("Multiply", _gate_ok), torch.mul: _elementwise("Multiply", _gate_ok),
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.mean: _mean,
    operator.getitem: getitem,
}

METHOD_MAPPERS: dict = {
    "relu": _relu, "relu_": _relu,
    "sigmoid": _activation("Sigmoid"), "tanh": _activation("Tanh"),
    "flatten": _flatten_fn, "view": _flatten_fn, "reshape": _flatten_fn, "transpose": transpose,
    "add": _elementwise("Add", operator.eq), "add_": _elementwise("Add", operator.eq),
    "mul": _elementwise("Multiply", _gate_ok),
    "softmax": _softmax_fn,
    "contiguous": _identity, "permute": transpose,
    "mean": _mean,
}


def map_call(node: fx.Node, root: nn.Module, shapes: dict) -> Mapped | Alias:
    """Map one call node, or raise NotMappable."""
    if node.op == "call_module":
        return map_module_call(node, root, shapes)
    if node.op == "call_function" and node.target is F.batch_norm:
        return _batch_norm_fn(node, shapes, root)
    if node.op == "call_function" and (getattr(node.target, "__module__", ""), getattr(node.target, "__name__", "")) \
            == ("torchvision.ops.stochastic_depth", "stochastic_depth"):
        return Mapped("Stochastic depth", {"p": float(arg_of(node, 1, "p")), "mode": arg_of(node, 2, "mode", "row")},
                      [tensor_input(node)])
    if channels_last.permute_dims(node) is not None:
        return channels_last.map_permute(node, root, shapes)
    if node.op == "call_function" and node.target is F.layer_norm:
        return channels_last.map_layer_norm_function(node, root, shapes)
    if node.target in (operator.mul, torch.mul, "mul"):
        scale = channels_last.map_layer_scale(node, root, shapes)
        if scale is not None:
            return scale
    table: dict = FUNCTION_MAPPERS if node.op == "call_function" else METHOD_MAPPERS
    mapper: Optional[Callable] = table.get(node.target)
    if mapper is None:
        raise NotMappable("no registered layer kind does this")
    return mapper(node, shapes)
