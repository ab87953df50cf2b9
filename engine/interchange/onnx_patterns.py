"""Patterns in ONNX graphs that stand for one PyTorch operation, recognised while an OnnxNetwork is built
(see onnx_build.py): GELU written out with Erf (opsets before 20), a zero Pad folded into the convolution
after it (how TensorFlow's converters write "same" padding), and images fed channels-last (NHWC) and
transposed to channels-first by the graph's first node."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class PatternsMixin:
    """Methods of the ONNX graph builder that recognise patterns; they use its `constants`, `sort` and
    `consumers`, and mark what they fold with `skipped`, `gelu_ends`, `pads_into` and `passed_through`."""

    def _erf_gelu(self, div) -> bool:
        """x / √2 → Erf → + 1 → x·(…) → ·0.5, as torch.onnx writes GELU before opset 20, is one GELU."""
        x = div.input[0]
        if self.sort.get(x) != "tensor" or not self._is_number(div.input[1], math.sqrt(2)):
            return False
        erf = self._only_user(div, "Erf")
        add = self._only_user(erf, "Add")
        times_x = self._only_user(add, "Mul")
        half = self._only_user(times_x, "Mul")
        if half is None or not self._is_number(_other(add, erf.output[0]), 1.0) \
                or _other(times_x, add.output[0]) != x or not self._is_number(_other(half, times_x.output[0]), 0.5):
            return False
        self.skipped |= {id(erf), id(add), id(times_x)}
        self.gelu_ends[id(half)] = x
        return True

    def _pad_into_conv(self, pad) -> bool:
        """A Pad of zeros whose only user is a Conv becomes part of that convolution's padding."""
        users = self.consumers[pad.output[0]] if len(pad.output) == 1 else []
        if len(users) != 1 or users[0].op_type != "Conv" or users[0].input[0] != pad.output[0]:
            return False
        pads = zero_pads(self, pad)
        if pads is None:
            return False
        self.pads_into[id(users[0])] = pads
        return True

    def _first_transpose_of_nhwc(self, node) -> bool:
        return self.nhwc and node is _first_transpose(self.model)

    def _only_user(self, node, op_type):
        if node is None or len(node.output) != 1:
            return None
        users = self.consumers[node.output[0]]
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def _is_number(self, name, value) -> bool:
        array = self.constants.get(name) if self.sort.get(name) == "constant" else None
        return array is not None and np.size(array) == 1 and math.isclose(float(np.ravel(array)[0]), value,
                                                                          rel_tol=1e-6)


def _other(node, name: str) -> str | None:
    """The input of a two-input node that is not `name`."""
    others = [n for n in node.input if n != name]
    return others[0] if len(others) == 1 and len(node.input) == 2 else None


def nhwc_input(model: Any) -> bool:
    """Whether the model takes images channels-last (N, H, W, C) and its first node transposes them to
    channels-first, as TensorFlow's converters write it. The design then takes (C, H, W) and the transpose
    passes its input through."""
    first = _first_transpose(model)
    return first is not None


def _first_transpose(model):
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        return None
    users = [n for n in model.graph.node if inputs[0].name in n.input]
    if len(users) != 1 or users[0].op_type != "Transpose":
        return None
    perm = next((list(a.ints) for a in users[0].attribute if a.name == "perm"), None)
    return users[0] if perm == [0, 3, 1, 2] else None


def zero_pads(builder: Any, node: Any) -> tuple | None:
    """(top, left, bottom, right) of a Pad node that only adds zeros around height and width, else None."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    mode = attrs.get("mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else str(mode)) != "constant":
        return None
    if builder.opset >= 11:
        pads = builder.constants.get(node.input[1]) if len(node.input) > 1 else None
        value = builder.constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else 0.0
    else:
        pads, value = attrs.get("pads"), attrs.get("value", 0.0)
    pads = [int(v) for v in np.asarray(pads).reshape(-1)] if pads is not None else []
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or float(np.ravel(value)[0]) != 0.0 or min(pads) < 0:
        return None
    return pads[2], pads[3], pads[6], pads[7]
