"""An ONNX graph as a PyTorch module, built from the file's nodes and weights.

`OnnxNetwork.forward` runs the graph's nodes in order with the PyTorch modules and functions that compute the
same (Conv -> nn.Conv2d holding the file's weights, Relu -> F.relu, Gemm -> nn.Linear, ...), so torch.fx traces
it like a hand-written model and the usual import maps it to layer kinds. Size arithmetic (Shape, Gather,
Unsqueeze, Concat feeding a Reshape: how exporters write `x.view(n, -1)`) runs in Python on the sizes, the way
a hand-written forward works them out. An operator with no PyTorch counterpart here becomes an
`OnnxOperator`, which the import turns into a placeholder.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INT64_MAX = 2 ** 63 - 1


class OnnxUnsupported(ValueError):
    """The ONNX graph cannot become a module at all (not one image in, one tensor out; a broken node)."""


class OnnxOperator(nn.Module):
    """Stands for an ONNX operator with no counterpart here. It yields zeros of the shape ONNX's shape inference
    gives, so the import keeps its place as a placeholder and the sizes after it."""

    def __init__(self, op_type: str, reason: str, shape: Sequence[int]):
        super().__init__()
        self.operation_name = f"ONNX {op_type}"
        self.reason = reason
        self.shape = tuple(int(s) for s in shape)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return inputs[0].new_zeros((inputs[0].shape[0], *self.shape))


def module_path(node_name: str) -> str:
    """The PyTorch module path in a torch.onnx node name: '/layer1/layer1.0/conv1/Conv' -> 'layer1.0.conv1'."""
    parts = [p for p in node_name.strip("/").split("/")[:-1] if p]
    path = ""
    for part in parts:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path


def _attr_name(text: str, taken: set) -> str:
    base = re.sub(r"\W+", "_", text).strip("_")[:100] or "layer"
    if base[0].isdigit():
        base = f"m_{base}"
    name, k = base, 2
    while name in taken or hasattr(nn.Module, name):
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _sizes(value) -> list:
    """Sizes as a Python list, from a constant array, a list of sizes or one size."""
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.reshape(-1)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


class OnnxNetwork(nn.Module):
    """Build with `OnnxNetwork(model, input_shape)`: `model` an onnx.ModelProto already checked."""

    def __init__(self, model, input_shape: Sequence[int]):
        super().__init__()
        from engine.interchange.onnx_build import build_steps

        self.paths: dict = {}        # submodule name -> the module path the file recorded, for labels
        plan = build_steps(model, tuple(input_shape), self)
        self.steps, self.input_name, self.output_name, self.constants = plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict = {self.input_name: x}
        for step in self.steps:
            args = [values[n] if n in values else self._constant(n) for n in step.inputs]
            result = step.run(self, args)
            if len(step.outputs) == 1:
                values[step.outputs[0]] = result
            else:   # indexed, not unpacked: under torch.fx the result is one proxy
                for i, name in enumerate(step.outputs):
                    values[name] = result[i]
        return values[self.output_name]

    def _constant(self, name: str):
        if name == "":
            return None                     # an optional input left out
        if name in self.constants:
            return self.constants[name]
        return getattr(self, name)           # a weight used as an operand (a learned scale): fx's get_attr


class Step:
    """One ONNX node: `run(network, args)` computes its outputs from its inputs' values."""

    def __init__(self, op: str, inputs: Sequence[str], outputs: Sequence[str], run):
        self.op, self.inputs, self.outputs, self.run = op, list(inputs), list(outputs), run


def on_tensor(op: str, attrs: dict) -> Callable | None:
    """The function of an operator on tensors with no weights of its own, or None when there is none here."""
    simple = {"Relu": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "HardSwish": F.hardswish,
              "Gelu": F.gelu, "Identity": lambda x: x, "Dropout": lambda x: x}
    if op in simple:
        fn = simple[op]
        return lambda net, a: fn(a[0])
    if op == "LeakyRelu":
        alpha = float(f"{attrs.get('alpha', 0.01):.7g}")
        return lambda net, a: F.leaky_relu(a[0], alpha)
    if op == "Elu":
        alpha = float(f"{attrs.get('alpha', 1.0):.7g}")
        return lambda net, a: F.elu(a[0], alpha)
    if op in ("Add", "Sum"):   # Sum: any number of tensors (older exporters)
        return lambda net, a: _total(a)
    if op == "Mul":
        return lambda net, a: a[0] * a[1]
    if op == "Concat":
        axis = int(attrs.get("axis", 1))
        return lambda net, a: torch.cat(list(a), dim=axis)
    if op == "Flatten" and int(attrs.get("axis", 1)) == 1:
        return lambda net, a: torch.flatten(a[0], 1)
    if op == "Transpose" and "perm" in attrs:
        perm = [int(v) for v in attrs["perm"]]
        return lambda net, a: a[0].permute(*perm)
    if op == "Reshape":
        return lambda net, a: a[0].reshape([a[0].shape[i] if isinstance(s, int) and s == 0 else s
                                            for i, s in enumerate(_sizes(a[1]))])
    if op == "GlobalAveragePool":
        return lambda net, a: F.adaptive_avg_pool2d(a[0], 1)
    return None


def on_sizes(op: str, attrs: dict) -> Callable | None:
    """The function of an operator on sizes (Python lists of numbers), or None."""
    if op == "Gather":
        return lambda net, a: _gather_sizes(a[0], a[1])
    if op in ("Unsqueeze", "Cast", "Identity"):
        return lambda net, a: _sizes(a[0])
    if op == "Squeeze":
        return lambda net, a: _sizes(a[0])[0] if len(_sizes(a[0])) == 1 else _sizes(a[0])
    if op == "Concat":
        return lambda net, a: [v for part in a for v in _sizes(part)]
    if op == "Slice":
        return lambda net, a: _sizes(a[0])[_sizes(a[1])[0]:min(_sizes(a[2])[0], INT64_MAX)]
    if op in ("Mul", "Div", "Add", "Sub"):
        fn = {"Mul": lambda p, q: p * q, "Div": lambda p, q: p // q, "Add": lambda p, q: p + q,
              "Sub": lambda p, q: p - q}[op]
        return lambda net, a: _sizes_arith(fn, a[0], a[1])
    return None


def _gather_sizes(data, index):
    sizes = _sizes(data)
    if isinstance(index, np.ndarray) and index.ndim == 0:
        return sizes[int(index)]
    return [sizes[int(i)] for i in _sizes(index)]


def _sizes_arith(fn, a, b):
    scalar = not isinstance(a, (list, tuple, np.ndarray)) or isinstance(a, np.ndarray) and a.ndim == 0
    a, b = _sizes(a), _sizes(b)
    if len(b) == 1 and len(a) > 1:
        b = b * len(a)
    out = [fn(p, q) for p, q in zip(a, b)]
    return out[0] if scalar else out


def _total(values: list):
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out
