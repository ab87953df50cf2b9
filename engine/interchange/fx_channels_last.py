"""Channels-last stretches, as ConvNeXt writes its blocks: permute (N, C, H, W) -> (N, H, W, C), then layers that
work on each position's channel vector (LayerNorm over the last dimension, Linear, activations, a learned scale
per channel), then permute back. The designer keeps feature maps channels-first, so the two permutes pass
their input through and each layer in between maps to its channels-first equivalent: LayerNorm over the
channels, a 1×1 convolution for the Linear, Layer scale for the multiplication. This is exact only when nothing
else reads the stretch, which `_closed` checks before the first permute is let through.
"""
from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interchange.fx_basics import Alias, Mapped, NotMappable, arg_of, tensor_input, tensor_users

TO_LAST, TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)

# Modules and functions that act on each position's channel vector on its own (in channels-last order).
_POSITIONWISE_MODULES = (nn.LayerNorm, nn.Linear, nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Hardswish,
                         nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.Dropout, nn.Identity)
_POSITIONWISE_FUNCTIONS = {F.layer_norm, F.relu, torch.relu, F.relu6, F.gelu, F.silu, F.hardswish, F.hardsigmoid,
                           torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.leaky_relu, F.elu, F.dropout,
                           operator.mul, torch.mul}
_POSITIONWISE_METHODS = {"contiguous", "relu", "sigmoid", "tanh", "mul"}
_MULTIPLY = (operator.mul, torch.mul, "mul")


def permute_dims(node: object) -> tuple | None:
    """The dimension order of a permute (torch.permute(x, dims), x.permute(*dims) or x.permute(dims))."""
    if not isinstance(node, fx.Node):
        return None
    if node.op == "call_function" and node.target is torch.permute:
        dims = arg_of(node, 1, "dims")
    elif node.op == "call_method" and node.target == "permute":
        dims = node.args[1:] or node.kwargs.get("dims")
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = dims[0]
    else:
        return None
    if not isinstance(dims, (list, tuple)) or len(dims) != 4 or not all(isinstance(d, int) for d in dims):
        return None
    return tuple(d % 4 for d in dims)


def _parameter_operand(node: fx.Node) -> fx.Node | None:
    """The get_attr operand of a multiplication by a weight, if it is one."""
    found = [a for a in node.args if isinstance(a, fx.Node) and a.op == "get_attr"]
    return found[0] if len(found) == 1 and len(node.args) == 2 else None


def _positionwise(node: fx.Node, root: nn.Module) -> bool:
    if node.op == "call_module":
        module = root.get_submodule(node.target)
        if isinstance(module, nn.LayerNorm):
            return len(module.normalized_shape) == 1
        return type(module) in _POSITIONWISE_MODULES
    if node.target in _MULTIPLY:
        return _parameter_operand(node) is not None
    if node.op == "call_function":
        return node.target in _POSITIONWISE_FUNCTIONS
    return node.op == "call_method" and node.target in _POSITIONWISE_METHODS


def _stretch_input(node: fx.Node) -> fx.Node | None:
    """The tensor a positionwise node works on: its first argument, or the operand that is not a weight."""
    if node.target in _MULTIPLY:
        operands = [a for a in node.args if isinstance(a, fx.Node) and a.op != "get_attr"]
        return operands[0] if len(operands) == 1 else None
    x = node.args[0] if node.args else node.kwargs.get("input")
    return x if isinstance(x, fx.Node) else None


def _closed(start: fx.Node, root: nn.Module) -> bool:
    """Every use of a permute to channels-last goes through positionwise layers to a permute back."""
    pending, ends = tensor_users(start), 0
    while pending:
        node = pending.pop()
        if permute_dims(node) == TO_FIRST:
            ends += 1
            continue
        if node.op not in ("call_module", "call_function", "call_method") or not _positionwise(node, root) \
                or _stretch_input(node) is None:
            return False
        pending.extend(tensor_users(node))
    return ends > 0


def channels_last(x: fx.Node, root: nn.Module) -> bool:
    """Whether tensor `x` lies inside a closed channels-last stretch (so its last dimension is the channels)."""
    while isinstance(x, fx.Node) and x.op != "placeholder":
        if permute_dims(x) == TO_LAST:
            return _closed(x, root)
        if x.op == "get_attr" or not _positionwise(x, root):
            return False
        x = _stretch_input(x)
    return False


def map_permute(node: fx.Node, root: nn.Module, shapes: dict) -> Alias:
    dims, x = permute_dims(node), tensor_input(node)
    if dims == TO_LAST and _closed(node, root) or dims == TO_FIRST and channels_last(x, root):
        return Alias(x)
    raise NotMappable("only a permute that moves the channels last around per-position layers (LayerNorm, Linear, "
                      "activations) and back maps; the designer keeps feature maps channels-first")


def _concrete(sizes) -> tuple | None:
    if isinstance(sizes, int):
        return (sizes,)
    if isinstance(sizes, (list, tuple)) and all(isinstance(v, int) for v in sizes):
        return tuple(sizes)
    return None


def _layer_norm_input(node: fx.Node, normalized_shape, root: nn.Module, shapes: dict) -> fx.Node:
    x = tensor_input(node)
    shape = shapes.get(x) or ()
    over_channels = len(shape) == 3 and channels_last(x, root) or len(shape) == 1
    if not over_channels or normalized_shape != shape[-1:]:
        raise NotMappable("only layer norm over the channels at each position (ConvNeXt's) or over flat features "
                          "maps")
    return x


def map_layer_norm_module(node: fx.Node, module: nn.LayerNorm, root: nn.Module, shapes: dict) -> Mapped:
    x = _layer_norm_input(node, tuple(module.normalized_shape), root, shapes)
    if (module.weight is None) != (module.bias is None):
        raise NotMappable("layer norm with a learned scale but no shift does not map")
    return Mapped("LayerNorm", {"eps": float(module.eps), "affine": module.weight is not None}, [x],
                  module_target=node.target)


def map_layer_norm_function(node: fx.Node, root: nn.Module, shapes: dict) -> Mapped:
    """F.layer_norm on one module's own weight and bias (a LayerNorm2d subclass whose forward permutes)."""
    weight, bias = arg_of(node, 2, "weight"), arg_of(node, 3, "bias")
    normalized = _concrete(arg_of(node, 1, "normalized_shape"))
    if normalized is None and isinstance(weight, fx.Node) and weight.op == "get_attr":
        normalized = tuple(root.get_parameter(weight.target).shape)   # written as (x.shape[-1],)
    x = _layer_norm_input(node, normalized, root, shapes)
    if weight is None and bias is None:
        return Mapped("LayerNorm", {"eps": float(arg_of(node, 4, "eps", 1e-5)), "affine": False}, [x])
    pairs = (("weight", weight), ("bias", bias))
    if not all(isinstance(v, fx.Node) and v.op == "get_attr" and v.target.rsplit(".", 1)[-1] == name
               for name, v in pairs):
        raise NotMappable("only layer norm on a module's own weight and bias maps")
    owners = {v.target.rpartition(".")[0] for _, v in pairs}
    owner = owners.pop()
    module = root.get_submodule(owner) if owner else root
    if owners or set(module.state_dict()) != {"weight", "bias"}:
        raise NotMappable(f"{owner or 'the model'} holds weights besides layer norm's; they would be lost")
    return Mapped("LayerNorm", {"eps": float(arg_of(node, 4, "eps", 1e-5)), "affine": True}, [x],
                  module_target=owner or None)


def map_pointwise_linear(node: fx.Node, module: nn.Linear, root: nn.Module, shapes: dict) -> Mapped:
    """A Linear applied to each position's channels: a Pointwise linear layer (a 1×1 convolution keeping the
    Linear's weight shape, so the original's state_dict loads unchanged)."""
    x = tensor_input(node)
    if not channels_last(x, root):
        raise NotMappable("a Linear layer on feature maps maps only between permutes that put the channels last; "
                          "flatten the maps first to connect every value")
    params = {"out_features": module.out_features, "bias": module.bias is not None}
    return Mapped("Pointwise linear", params, [x], module_target=node.target)


def map_layer_scale(node: fx.Node, root: nn.Module, shapes: dict) -> Mapped | None:
    """x * weight, with a learned weight per channel: (C, 1, 1) on feature maps, (C,) on flat features or
    inside a channels-last stretch. None when neither operand is a weight (an ordinary Multiply)."""
    weight = _parameter_operand(node)
    if weight is None:
        return None
    x = _stretch_input(node)
    try:
        value = root.get_parameter(weight.target)
    except AttributeError:
        raise NotMappable("only multiplication by a learned weight (nn.Parameter) maps, not by a fixed "
                          "tensor") from None
    shape, size = shapes.get(x) or (), tuple(value.shape)
    if len(shape) == 3 and channels_last(x, root) and size == shape[-1:]:
        reshape = {"scale": (size[0], 1, 1)}
    elif len(shape) == 3 and size == (shape[0], 1, 1) or len(shape) == 1 and size == shape:
        reshape = {}
    else:
        raise NotMappable(f"only a learned scale per channel maps (shape (C, 1, 1) on feature maps); this weight "
                          f"has shape {size}")
    value = value.detach()
    first = float(f"{float(value.flatten()[0]):.7g}") if value.numel() else 1e-6   # float32 read as people wrote it
    init = first if bool((value == value.flatten()[0]).all()) and 0 < abs(first) <= 1e6 else 1e-6
    return Mapped("Layer scale", {"init": init}, [x], attr_weights={"scale": weight.target}, reshape=reshape)
