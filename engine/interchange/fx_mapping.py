"""Which torch.fx nodes map to which registered layer kinds, and with which parameters.

A mapper receives the fx node, the traced module and a `shapes` lookup (fx node -> per-sample shape of
its tensor output, batch excluded) and returns a `Mapped` (a layer of some kind) or an `Alias` (the node
passes its input through unchanged, e.g. nn.Identity), or raises `NotMappable` with the reason.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from math import prod
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import fx, nn


class NotMappable(Exception):
    """This node has no registered layer kind; the message says why in the user's words."""


@dataclass
class Mapped:
    kind: str
    params: dict
    inputs: list                       # fx nodes whose tensors feed the layer, in slot order
    module_target: Optional[str] = None  # the submodule whose weights the layer takes over
    extra: dict = field(default_factory=dict)


@dataclass
class Alias:
    source: fx.Node


def op_name(node: fx.Node, root: nn.Module) -> str:
    """A readable name of what the node does: 'nn.Upsample', 'torch.mul', 'Tensor.permute'."""
    if node.op == "call_module":
        return f"nn.{type(root.get_submodule(node.target)).__name__}"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "call_function":
        fn = node.target
        module = getattr(fn, "__module__", "") or ""
        name = getattr(fn, "__name__", repr(fn))
        if module in ("_operator", "operator"):
            return f"operator.{name}"
        if module.startswith("torch.nn.functional"):
            return f"F.{name}"
        return f"torch.{name}"
    return node.op


def _arg(node: fx.Node, index: int, name: str, default=None):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _tensor_input(node: fx.Node) -> fx.Node:
    x = node.args[0] if node.args else node.kwargs.get("input")
    if not isinstance(x, fx.Node):
        raise NotMappable("its first argument is not a tensor")
    return x


# ---- modules ------------------------------------------------------------------------------------

def _conv(m: nn.Conv2d):
    if m.padding_mode != "zeros":
        raise NotMappable(f"padding_mode={m.padding_mode!r} is not supported; only zero padding maps")
    padding = m.padding
    if padding == "valid":
        padding = (0, 0)
    return "Conv2d", {"out_channels": m.out_channels, "kernel_size": m.kernel_size, "stride": m.stride,
                      "padding": padding, "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None}


def _batchnorm(kind):
    def mapper(m):
        if not m.track_running_stats or m.momentum is None:
            raise NotMappable("only batch norm with running statistics and a fixed momentum maps")
        return kind, {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}
    return mapper


def _maxpool(m: nn.MaxPool2d):
    if m.return_indices or _pair(m.dilation) != (1, 1):
        raise NotMappable("max pooling with dilation or return_indices does not map")
    return "MaxPool2d", {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride or m.kernel_size),
                         "padding": _pair(m.padding), "ceil_mode": m.ceil_mode}


def _avg_settings_ok(padding, count_include_pad, divisor_override) -> None:
    """count_include_pad changes nothing without padding, so it is refused only where it would matter."""
    if divisor_override is not None:
        raise NotMappable("average pooling with divisor_override does not map")
    if not count_include_pad and _pair(padding) != (0, 0):
        raise NotMappable("average pooling with padding maps only with count_include_pad=True (the padded zeros "
                          "are counted in each average)")


def _avgpool(m: nn.AvgPool2d):
    _avg_settings_ok(m.padding, m.count_include_pad, m.divisor_override)
    return "AvgPool2d", {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride or m.kernel_size),
                         "padding": _pair(m.padding), "ceil_mode": m.ceil_mode}


def _adaptive(m: nn.AdaptiveAvgPool2d):
    size = _pair(m.output_size)
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
    nn.Linear: lambda m: ("Linear", {"out_features": m.out_features, "bias": m.bias is not None}),
    nn.BatchNorm2d: _batchnorm("BatchNorm2d"),
    nn.BatchNorm1d: _batchnorm("BatchNorm1d"),
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
    if (len(m) == 2 and type(m[0]) is nn.AdaptiveAvgPool2d and _pair(m[0].output_size) == (1, 1)
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
        return (container_kind(m) is not None or module_mapper(m) is not None
                or super().is_leaf_module(m, qualname))


def map_module_call(node: fx.Node, root: nn.Module, shapes: dict) -> Mapped | Alias:
    module = root.get_submodule(node.target)
    found = container_kind(module)
    if found:
        return Mapped(found[0], found[1], [_tensor_input(node)], module_target=node.target)
    if isinstance(module, nn.Identity):
        return Alias(_tensor_input(node))
    if isinstance(module, nn.Softmax):
        return _softmax(node, module.dim, shapes)
    mapper = module_mapper(module)
    if mapper is None:
        raise NotMappable(f"no registered layer kind for {type(module).__name__}")
    if isinstance(module, nn.Flatten):
        _require_flat(node, shapes)
    kind, params = mapper(module)
    return Mapped(kind, params, [_tensor_input(node)], module_target=node.target)


# ---- functions and tensor methods ---------------------------------------------------------------

def _activation(kind, **params):
    """params: name -> (arg index after the tensor, kwarg name, default)."""
    def mapper(node, shapes):
        values = {k: _arg(node, i, name, default) for k, (i, name, default) in params.items()}
        return Mapped(kind, values, [_tensor_input(node)])
    return mapper


def _gelu_fn(node, shapes):
    if _arg(node, 1, "approximate", "none") != "none":
        raise NotMappable("GELU with the tanh approximation does not map")
    return Mapped("GELU", {}, [_tensor_input(node)])


def _pool_fn(kind):
    def mapper(node, shapes):
        kernel = _pair(_arg(node, 1, "kernel_size"))
        stride = _arg(node, 2, "stride", None)
        padding = _pair(_arg(node, 3, "padding", 0))
        if kind == "MaxPool2d":
            dilation, ceil = _arg(node, 4, "dilation", 1), _arg(node, 5, "ceil_mode", False)
            if _pair(dilation) != (1, 1) or _arg(node, 6, "return_indices", False):
                raise NotMappable("max pooling with dilation or return_indices does not map")
        else:
            ceil = _arg(node, 4, "ceil_mode", False)
            _avg_settings_ok(padding, _arg(node, 5, "count_include_pad", True), _arg(node, 6, "divisor_override"))
        stride = kernel if stride in (None, [], ()) else _pair(stride)
        return Mapped(kind, {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil},
                      [_tensor_input(node)])
    return mapper


def _adaptive_fn(node, shapes):
    size = _pair(_arg(node, 1, "output_size"))
    if None in size:
        raise NotMappable("adaptive pooling that keeps one side (None in output_size) does not map")
    return Mapped("AdaptiveAvgPool2d", {"output_size": size}, [_tensor_input(node)])


def _dropout_fn(kind):
    return lambda node, shapes: Mapped(kind, {"p": _arg(node, 1, "p", 0.5)}, [_tensor_input(node)])


def _require_flat(node, shapes):
    """Flatten/view/reshape map only when they turn each sample into one flat vector."""
    x = _tensor_input(node)
    src, out = shapes.get(x), shapes.get(node)
    if src is None or out is None or len(out) != 1 or out[0] != prod(src):
        raise NotMappable("only reshapes to a flat vector per sample (like torch.flatten(x, 1) or "
                          "x.view(x.size(0), -1)) map to Flatten")


def _flatten_fn(node, shapes):
    shuffle = _channel_shuffle(node, shapes)
    if shuffle is not None:
        return shuffle
    _require_flat(node, shapes)
    return Mapped("Flatten", {}, [_tensor_input(node)])


# ---- the channel shuffle: view (B, g, C/g, H, W) -> transpose(1, 2) -> [contiguous] -> view (B, C, H, W) ----

def _is_reshape(node) -> bool:
    return isinstance(node, fx.Node) and (node.target in ("view", "reshape") or node.target is torch.reshape)


def _is_swap_1_2(node) -> bool:
    if not isinstance(node, fx.Node) or not (node.target == "transpose" or node.target is torch.transpose):
        return False
    return sorted(node.args[1:3]) == [1, 2] if len(node.args) >= 3 else False


def _skip_contiguous(node):
    while isinstance(node, fx.Node) and node.op == "call_method" and node.target == "contiguous":
        node = node.args[0]
    return node


def _shuffle_parts(last, shapes):
    """(x, groups) when `last` ends a channel shuffle of x, else None."""
    swap = _skip_contiguous(last.args[0]) if last.args else None
    if not _is_swap_1_2(swap):
        return None
    split = swap.args[0]
    if not _is_reshape(split):
        return None
    x = split.args[0]
    grouped, out, original = shapes.get(split), shapes.get(last), shapes.get(x)
    if not (grouped and out and original) or len(grouped) != 4 or len(out) != 3 or out != original:
        return None
    groups, per_group = grouped[0], grouped[1]
    if groups * per_group != out[0] or grouped[2:] != out[1:]:
        return None
    return x, groups


def _channel_shuffle(node, shapes):
    """The three steps of a channel shuffle (ShuffleNet) become one Channel shuffle layer: the last step maps
    to it, the first two pass their input through (they have no other users)."""
    shape = shapes.get(node)
    if shape is not None and len(shape) == 3:
        found = _shuffle_parts(node, shapes)
        if found is not None:
            return Mapped("Channel shuffle", {"groups": found[1]}, [found[0]])
        return None
    if shape is not None and len(shape) == 4 and _is_reshape(node) and len(node.users) == 1:
        swap = next(iter(node.users))
        ends = [u for u in _contiguous_users(swap)] if _is_swap_1_2(swap) and len(swap.users) == 1 else []
        if len(ends) == 1 and _shuffle_parts(ends[0], shapes) is not None:
            return Alias(node.args[0])
    return None


def _contiguous_users(node):
    users = list(node.users)
    while len(users) == 1 and users[0].op == "call_method" and users[0].target == "contiguous":
        users = list(users[0].users)
    return [u for u in users if _is_reshape(u)]


def _transpose(node, shapes):
    """The middle step of a channel shuffle passes its input through (see _channel_shuffle)."""
    source = node.args[0]
    if _is_reshape(source) and len(source.users) == 1 and len(node.users) == 1:
        ends = _contiguous_users(node)
        if len(ends) == 1 and _shuffle_parts(ends[0], shapes) is not None:
            return Alias(source)
    raise NotMappable("only a transpose inside a channel shuffle (view, transpose(1, 2), view) maps")


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
    tensors = _arg(node, 0, "tensors")
    dim = _arg(node, 1, "dim", 0)
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
    x = _tensor_input(node)
    if dim != 1 and not (dim == -1 and len(shapes.get(x) or ()) == 1):
        raise NotMappable(f"only softmax over the channels or features (dim=1) maps; this one uses dim={dim}")
    return Mapped("Softmax", {}, [x])


def _softmax_fn(node, shapes):
    return _softmax(node, _arg(node, 1, "dim"), shapes)


def _mean(node, shapes):
    """The mean over height and width (x.mean([2, 3]), as MNASNet and ShuffleNet end) is global average
    pooling: flat with keepdim=False, 1×1 maps with keepdim=True."""
    x = _tensor_input(node)
    dims = _arg(node, 1, "dim")
    rank = len(shapes.get(x) or ()) + 1   # with the batch dimension
    dims = (dims,) if isinstance(dims, int) else tuple(dims) if isinstance(dims, (list, tuple)) else None
    if rank != 4 or dims is None or sorted(d % 4 for d in dims) != [2, 3] or node.kwargs.get("dtype") is not None:
        raise NotMappable("only the mean over height and width of feature maps maps (to global average pooling)")
    if _arg(node, 2, "keepdim", False):
        return Mapped("AdaptiveAvgPool2d", {"output_size": (1, 1)}, [x])
    return Mapped("Global average pool", {}, [x])


def _channel_range(source: fx.Node, shapes: dict, node: fx.Node) -> tuple:
    """(tensor, start, stop) when `node` takes a range of channels: x[:, a:b], or one piece of
    torch.chunk/torch.split along the channels (ShuffleNet's channel split)."""
    x, index = node.args[0], node.args[1]
    if isinstance(x, fx.Node) and x.op in ("call_function", "call_method") and isinstance(index, int) \
            and _target_name(x) in ("chunk", "split"):
        pieces_of, pieces = x.args[0], x.args[1] if len(x.args) > 1 else x.kwargs.get(
            "chunks", x.kwargs.get("split_size_or_sections", x.kwargs.get("split_size")))
        dim = _arg(x, 2, "dim", 0)
        shape = shapes.get(pieces_of)
        if not isinstance(pieces_of, fx.Node) or not shape or dim not in (1, -len(shape) - 1):
            raise NotMappable("only chunks and splits along the channels (dim=1) map")
        channels = shape[0]
        if _target_name(x) == "chunk":
            size = -(-channels // pieces)
            bounds = [(i, min(i + size, channels)) for i in range(0, channels, size)]
        elif isinstance(pieces, int):
            bounds = [(i, min(i + pieces, channels)) for i in range(0, channels, pieces)]
        else:
            ends = [sum(pieces[:k + 1]) for k in range(len(pieces))]
            bounds = list(zip([0] + ends[:-1], ends))
        start, stop = bounds[index]
        return pieces_of, start, stop
    shape = shapes.get(x) if isinstance(x, fx.Node) else None
    if not shape or not isinstance(index, tuple) or len(index) < 2 or index[0] != slice(None):
        raise NotMappable("only a range of channels (x[:, a:b]) maps")
    channel, rest = index[1], index[2:]
    if not isinstance(channel, slice) or channel.step not in (None, 1) \
            or any(r is not Ellipsis and r != slice(None) for r in rest):
        raise NotMappable("only a range of channels (x[:, a:b]) maps, without steps or other dimensions")
    if any(v is not None and not isinstance(v, int) for v in (channel.start, channel.stop)):
        raise NotMappable("only a range of channels with fixed bounds maps")
    start, stop, _ = channel.indices(shape[0])
    return x, start, stop


def _target_name(node: fx.Node) -> str:
    return node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")


def _getitem(node, shapes):
    x, start, stop = _channel_range(node.args[0], shapes, node)
    if stop <= start:
        raise NotMappable("the range of channels is empty")
    return Mapped("Channel slice", {"start": start, "stop": stop}, [x])


BATCH_NORM_STATE = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _batch_norm_fn(node, shapes, root):
    """F.batch_norm called with the statistics and affine parameters of one module (a batch-norm subclass
    whose forward adds an activation, as model libraries write it) is that module as a batch-norm layer."""
    x = _tensor_input(node)
    names = ("running_mean", "running_var", "weight", "bias")
    attrs = {name: _arg(node, i + 1, name) for i, name in enumerate(names)}
    if _arg(node, 5, "training", False):
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
    momentum = _arg(node, 6, "momentum", 0.1)
    rank = len(shapes.get(x) or ())
    if rank not in (1, 3) or momentum is None:
        raise NotMappable("only batch norm of feature maps or flat vectors, with a fixed momentum, maps")
    params = {"eps": float(_arg(node, 7, "eps", 1e-5)), "momentum": float(momentum),
              "affine": attrs["weight"] is not None}
    return Mapped("BatchNorm2d" if rank == 3 else "BatchNorm1d", params, [x], module_target=owner or None)


def _identity(node, shapes):
    return Alias(_tensor_input(node))


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
    F.dropout2d: _dropout_fn("Dropout2d"),
    F.softmax: _softmax_fn, torch.softmax: _softmax_fn,
    torch.flatten: _flatten_fn, torch.reshape: _flatten_fn, torch.transpose: _transpose,
    operator.add: _elementwise("Add", operator.eq), operator.iadd: _elementwise("Add", operator.eq),
    torch.add: _elementwise("Add", operator.eq),
    operator.mul: _elementwise("Multiply", _gate_ok), torch.mul: _elementwise("Multiply", _gate_ok),
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.mean: _mean,
    operator.getitem: _getitem,
}

METHOD_MAPPERS: dict = {
    "relu": _relu, "relu_": _relu,
    "sigmoid": _activation("Sigmoid"), "tanh": _activation("Tanh"),
    "flatten": _flatten_fn, "view": _flatten_fn, "reshape": _flatten_fn, "transpose": _transpose,
    "add": _elementwise("Add", operator.eq), "add_": _elementwise("Add", operator.eq),
    "mul": _elementwise("Multiply", _gate_ok),
    "softmax": _softmax_fn,
    "contiguous": _identity,
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
        return Mapped("Stochastic depth", {"p": float(_arg(node, 1, "p")), "mode": _arg(node, 2, "mode", "row")},
                      [_tensor_input(node)])
    table: dict = FUNCTION_MAPPERS if node.op == "call_function" else METHOD_MAPPERS
    mapper: Optional[Callable] = table.get(node.target)
    if mapper is None:
        raise NotMappable("no registered layer kind does this")
    return mapper(node, shapes)
