"""The vocabulary every fx mapper shares: what a mapping returns, and how it reads a node's arguments."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from torch import fx, nn


class NotMappable(Exception):
    """This node has no registered layer kind; the message says why in the user's words."""


@dataclass
class Mapped:
    kind: str
    params: dict
    inputs: list                       # fx nodes whose tensors feed the layer, in slot order
    module_target: Optional[str] = None  # the submodule whose weights the layer takes over
    # Weights held directly by a module of the original (torch.nn.Parameter, read by get_attr): the layer's
    # own state key -> the original's state key.
    attr_weights: dict = field(default_factory=dict)
    # The layer's state key -> the shape its weight takes in the design, where that differs from the
    # original's (a Linear over the channels becomes a 1×1 convolution: (out, in) -> (out, in, 1, 1)).
    reshape: dict = field(default_factory=dict)


@dataclass
class Alias:
    source: fx.Node


def op_name(node: fx.Node, root: nn.Module) -> str:
    """A readable name of what the node does: 'nn.Upsample', 'torch.mul', 'Tensor.permute'."""
    if node.op == "call_module":
        module = root.get_submodule(node.target)
        named = getattr(module, "operation_name", None)   # stands for an operation of another format
        return named if isinstance(named, str) else f"nn.{type(module).__name__}"
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


def arg_of(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def as_pair(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def tensor_input(node: fx.Node) -> fx.Node:
    x = node.args[0] if node.args else node.kwargs.get("input")
    if not isinstance(x, fx.Node):
        raise NotMappable("its first argument is not a tensor")
    return x


def reads_shape(node: fx.Node) -> bool:
    """x.shape or x.size(): read as numbers for other operations' arguments, not as a tensor."""
    return (node.op == "call_function" and node.target is getattr and node.args[1:2] == ("shape",)
            or node.op == "call_method" and node.target in ("size", "dim"))


def tensor_users(node: fx.Node) -> list:
    """The nodes that use `node`'s values (reading its shape does not count)."""
    return [u for u in node.users if not reads_shape(u)]
