"""Turn an ONNX graph's nodes into `Step`s and submodules of an `OnnxNetwork` (see onnx_network.py).

Every value is one of three sorts, decided here once: a tensor (computed from the image), sizes (Python
numbers worked out from tensor shapes) or a constant (the file's initializers and Constant nodes). Weights
of Conv, Gemm, MatMul, BatchNormalization and LayerNormalization go into the matching nn modules; a constant
that multiplies or adds to a tensor becomes a parameter of the network (a learned scale).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.interchange.onnx_operators import OperatorsMixin, _NoCounterpart, _pair, _text
from engine.interchange.onnx_patterns import PatternsMixin, nhwc_input
from engine.interchange.onnx_network import (OnnxOperator, OnnxUnsupported, Step, _attr_name, _sizes,
                                             module_path, on_sizes, on_tensor)

MODULE_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization"}


def _check_sizes(shapes: dict) -> None:
    """Refuse a file whose values would not fit in memory when it runs once for the import (a hostile file
    can ask for a map of billions of values), before anything is computed."""
    from engine.memory_limit import current_limit, format_size

    limit = current_limit()
    for name, shape in shapes.items():
        if shape and None not in shape:
            size = 4
            for side in shape:
                size *= max(int(side), 0)
            if size > limit:
                raise OnnxUnsupported(f"its value {name[:80]!r} would take {format_size(size)} for a batch of 2, more "
                                      f"than the memory limit of {format_size(limit)} (Edit → Memory limit, or "
                                      f"CNN_DESIGNER_MAX_MEMORY)")


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _inferred_shapes(model, input_name: str, input_shape) -> dict:
    """Value name -> shape with a batch of 2 (None for unknown sizes), from ONNX's shape inference."""
    from onnx import shape_inference

    fixed = type(model)()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        if value.name == input_name:
            dims = value.type.tensor_type.shape.dim
            del dims[:]
            for size in (2, *input_shape):
                dims.add().dim_value = size
    try:
        inferred = shape_inference.infer_shapes(fixed, strict_mode=False)
    except Exception:   # inference is a help for placeholders only; without it they cannot be sized
        return {}
    shapes = {}
    for value in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape"):
            shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return shapes


def _constant_value(attrs: dict):
    from onnx import numpy_helper

    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key in ("value_float", "value_int"):
        if key in attrs:
            return np.array(attrs[key])
    for key in ("value_floats", "value_ints"):
        if key in attrs:
            return np.array(list(attrs[key]))
    raise OnnxUnsupported("a Constant node holds a kind of value the importer does not read")


class _Builder(PatternsMixin, OperatorsMixin):
    def __init__(self, model, input_shape, net: nn.Module):
        from onnx import numpy_helper

        self.model, self.net, self.graph = model, net, model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise OnnxUnsupported(f"the model takes {len(inputs)} inputs; CNN Designer imports networks that take "
                                  f"one image batch")
        if len(self.graph.output) != 1:
            raise OnnxUnsupported(f"the model returns {len(self.graph.output)} outputs; CNN Designer imports "
                                  f"networks that return one tensor of class scores")
        self.input_name, self.output_name = inputs[0].name, self.graph.output[0].name
        batch = inputs[0].type.tensor_type.shape.dim[:1]
        self.fixed_batch = batch[0].dim_value if batch and batch[0].HasField("dim_value") else None
        self.nhwc = nhwc_input(model)
        c, h, w = input_shape
        self.shapes = _inferred_shapes(model, self.input_name, (h, w, c) if self.nhwc else input_shape)
        _check_sizes(self.shapes)
        self.sort = {self.input_name: "tensor", **{name: "constant" for name in self.constants}}
        self.steps: list = []
        self.taken: set = set()
        self.consumers = defaultdict(list)
        for node in self.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):   # known before their turn comes,
                self._constant(node.output[0], _constant_value(_attributes(node)))   # for the patterns below
        self.fused: dict = {}    # id(Add node) -> the output of the MatMul it was folded into
        self.skipped: set = set()   # ids of nodes folded into a GELU
        self.gelu_ends: dict = {}   # id(last node of a written-out GELU) -> its input
        self.pads_into: dict = {}   # id(Conv node) -> (top, left, bottom, right) of the Pad folded into it

    # ---- the walk ---------------------------------------------------------------------------------

    def run(self):
        for node in self.graph.node:
            self._node(node)
        if self.sort.get(self.output_name) != "tensor":
            raise OnnxUnsupported("the model's output is not computed from its input image")
        return self.steps, self.input_name, self.output_name, self.constants

    def _node(self, node):
        attrs, op = _attributes(node), node.op_type
        if id(node) in self.skipped or op == "Div" and self._erf_gelu(node):
            return
        if id(node) in self.gelu_ends:
            self._step(node, [self.gelu_ends[id(node)]], "tensor", lambda net, a: F.gelu(a[0]))
            return
        if self._first_transpose_of_nhwc(node) or op == "Pad" and self.sort.get(node.input[0]) == "tensor" \
                and self._pad_into_conv(node):
            self._step(node, [node.input[0]], "tensor", lambda net, a: a[0])   # passes its input through
            return
        missing = [n for n in node.input if n and n not in self.sort]
        if missing:
            raise OnnxUnsupported(f"node {node.name or op} uses {missing[0]!r} before it is computed (the file's "
                                  f"nodes are not in order)")
        if op == "Constant" and node.domain in ("", "ai.onnx"):
            self._constant(node.output[0], _constant_value(attrs))
            return
        if op == "Identity" and self.sort[node.input[0]] == "constant":   # exporters share equal weights so
            self._constant(node.output[0], self.constants[node.input[0]])
            return
        if id(node) in self.fused:   # the bias of a MatMul, now inside its Linear
            self._step(node, [self.fused[id(node)]], "tensor", lambda net, a: a[0])
            return
        sorts = [self.sort[n] for n in node.input if n]
        if "tensor" not in sorts:
            self._sizes_node(node, attrs, all(s == "constant" for s in sorts))
            return
        try:
            if node.domain not in ("", "ai.onnx"):
                raise _NoCounterpart(f"it is a custom operator of the domain {node.domain}")
            self._tensor_node(node, attrs)
        except _NoCounterpart as exc:
            self._placeholder(node, str(exc))

    def _constant(self, name, value):
        self.constants[name] = value
        self.sort[name] = "constant"

    def _step(self, node, inputs, sort, run):
        self.steps.append(Step(node.op_type, inputs, list(node.output), run))
        for name in node.output:
            self.sort[name] = sort

    def _sizes_node(self, node, attrs, constant_only):
        if node.op_type == "Shape":
            raise OnnxUnsupported(f"node {node.name}: the shape of a constant is not supported")
        run = on_sizes(node.op_type, attrs)
        if run is None:
            raise OnnxUnsupported(f"node {node.name or node.op_type} ({node.op_type}) works out sizes in a way the "
                                  f"importer does not follow")
        if constant_only:    # worked out once, here
            args = [self.constants.get(n) for n in node.input]
            self._constant(node.output[0], np.array(run(None, args)))
            return
        self._step(node, list(node.input), "sizes", run)

    def _placeholder(self, node, reason):
        shape = self.shapes.get(node.output[0]) if len(node.output) == 1 else None
        if shape is None or None in shape or len(shape) < 2:
            raise OnnxUnsupported(f"the ONNX operator {node.op_type} (node {node.name}) has no counterpart in CNN "
                                  f"Designer ({reason}), and its output size cannot be worked out to keep its place")
        tensors = [n for n in node.input if n and self.sort[n] == "tensor"]
        name = self._module(node, OnnxOperator(node.op_type, reason, shape[1:]))
        self._step(node, tensors, "tensor", lambda net, a, name=name: getattr(net, name)(*a))

    # ---- operators on tensors ----------------------------------------------------------------------

    def _tensor_node(self, node, attrs):
        op, inputs = node.op_type, list(node.input)
        if op in MODULE_OPS:
            module = getattr(self, f"_{op.lower()}")(node, attrs)
            name = self._module(node, module)
            self._step(node, inputs[:1], "tensor", lambda net, a, name=name: getattr(net, name)(a[0]))
            return
        if op == "Shape":
            # Sizes other than the batch are known from the import's input shape and become plain numbers,
            # as they do when a hand-written forward is traced for that input; the batch stays the batch.
            known = self.shapes.get(inputs[0])
            if not known:
                raise OnnxUnsupported(f"node {node.name}: the rank of {inputs[0]} cannot be worked out")
            lo, hi = int(attrs.get("start", 0)), int(attrs.get("end", len(known)))
            self._step(node, inputs, "sizes", lambda net, a: [
                a[0].shape[i] if i == 0 or known[i] is None else known[i] for i in range(len(known))][lo:hi])
            return
        if op == "Reshape" and self.fixed_batch and self.sort.get(inputs[1]) == "constant":
            sizes = _sizes(self.constants[inputs[1]])
            if sizes and sizes[0] == self.fixed_batch:   # a file made for one batch size: keep whatever batch comes
                inputs[1] = _attr_name(f"{inputs[1]}_any_batch", self.taken)
                self._constant(inputs[1], np.array([0, *sizes[1:]]))
        special = getattr(self, f"_{op.lower()}_fn", None)
        run = special(node, attrs) if special else on_tensor(op, attrs)
        if run is None:
            raise _NoCounterpart("no layer kind computes it")
        if op in ("Add", "Mul"):
            inputs = [self._operand(n) for n in inputs]
        self._step(node, inputs, "tensor", run)

    def _operand(self, name):
        """A constant operand of Add/Mul becomes a parameter of the network (a learned scale or shift)."""
        if self.sort[name] != "constant":
            return name
        value = self.constants[name]
        attr = _attr_name(name, self.taken)
        self.net.register_parameter(attr, nn.Parameter(torch.from_numpy(np.array(value, dtype=np.float32))))
        return attr

    def _module(self, node, module: nn.Module) -> str:
        weight = node.input[1] if len(node.input) > 1 else ""
        path = weight[:-len(".weight")] if weight.endswith(".weight") and not weight.startswith("onnx::") else ""
        path = path or module_path(node.name) or node.name or node.op_type.lower()
        name = _attr_name(path, self.taken)
        self.net.add_module(name, module)
        self.net.paths[name] = path
        return name

    def _weight(self, node, index, what) -> np.ndarray | None:
        if len(node.input) <= index or not node.input[index]:
            return None
        name = node.input[index]
        if self.sort[name] != "constant":
            raise _NoCounterpart(f"its {what} is computed, not stored in the file")
        return np.array(self.constants[name], dtype=np.float32)

    def _conv(self, node, attrs):
        weight, bias = self._weight(node, 1, "weight"), self._weight(node, 2, "bias")
        if weight.ndim != 4:
            raise _NoCounterpart("only 2-D convolutions map")
        kernel = tuple(weight.shape[2:])
        stride, dilation = _pair(attrs.get("strides")), _pair(attrs.get("dilations"))
        if id(node) in self.pads_into:   # a Pad of zeros before it, folded in
            extra = self.pads_into[id(node)]
            pads = [int(p) for p in attrs.get("pads", (0, 0, 0, 0))]
            attrs = {**attrs, "pads": tuple(p + e for p, e in zip(pads, extra))}
        padding = self._padding(attrs, kernel, stride, dilation)
        groups = int(attrs.get("group", 1))
        conv = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], kernel, stride, padding, dilation, groups,
                         bias=bias is not None)
        _load(conv, weight=weight, bias=bias)
        return conv

    def _padding(self, attrs, kernel, stride, dilation) -> tuple:
        auto = _text(attrs.get("auto_pad", "NOTSET"))
        if auto == "VALID":
            return (0, 0)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if stride != (1, 1) or any(s % 2 for s in spans):
                raise _NoCounterpart(f"auto_pad={auto} with these sizes pads one side more than the other")
            return tuple(s // 2 for s in spans)
        pads = [int(p) for p in attrs.get("pads", (0, 0, 0, 0))]
        if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
            raise _NoCounterpart(f"it pads one side more than the other (pads={pads})")
        return (pads[0], pads[1])

    def _convtranspose(self, node, attrs):
        weight, bias = self._weight(node, 1, "weight"), self._weight(node, 2, "bias")
        if weight.ndim != 4 or "output_shape" in attrs:
            raise _NoCounterpart("only 2-D transposed convolutions given by their padding (not output_shape) map")
        kernel = tuple(weight.shape[2:])
        stride, dilation = _pair(attrs.get("strides")), _pair(attrs.get("dilations"))
        pads = [int(p) for p in attrs.get("pads", (0, 0, 0, 0))]
        if _text(attrs.get("auto_pad", "NOTSET")) != "NOTSET" or pads[0] != pads[2] or pads[1] != pads[3]:
            raise _NoCounterpart(f"it crops one side more than the other (pads={pads}, auto_pad)")
        groups = int(attrs.get("group", 1))
        conv = nn.ConvTranspose2d(weight.shape[0], weight.shape[1] * groups, kernel, stride, (pads[0], pads[1]),
                                  _pair(attrs.get("output_padding"), (0, 0)), groups, bias is not None, dilation)
        _load(conv, weight=weight, bias=bias)
        return conv

    def _gemm(self, node, attrs):
        weight, bias = self._weight(node, 1, "weight"), self._weight(node, 2, "bias")
        if int(attrs.get("transA", 0)) or weight.ndim != 2:
            raise _NoCounterpart("only Gemm of the input by a stored matrix maps")
        if not int(attrs.get("transB", 0)):
            weight = weight.T
        weight = weight * float(attrs.get("alpha", 1.0))
        if bias is not None:
            bias = np.broadcast_to(bias * float(attrs.get("beta", 1.0)), (weight.shape[0],))
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        _load(linear, weight=weight, bias=bias)
        return linear

    def _matmul(self, node, attrs):
        """x @ W with a stored W, and a stored bias added right after (exporters write Linear so)."""
        weight = self._weight(node, 1, "weight")
        if weight is None or weight.ndim != 2:
            raise _NoCounterpart("only multiplication by a stored matrix maps")
        bias = None
        users = self.consumers[node.output[0]]
        if len(users) == 1 and users[0].op_type == "Add":
            other = [n for n in users[0].input if n != node.output[0]]
            value = self.constants.get(other[0]) if len(other) == 1 and self.sort.get(other[0]) == "constant" \
                else None
            if value is not None and np.array(value).shape in ((weight.shape[1],), (1, weight.shape[1])):
                bias = np.array(value, dtype=np.float32).reshape(-1)
                self.fused[id(users[0])] = node.output[0]
        linear = nn.Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
        _load(linear, weight=weight.T, bias=bias)
        return linear

    def _batchnormalization(self, node, attrs):
        if int(attrs.get("training_mode", 0)):
            raise _NoCounterpart("batch norm in training mode does not map")
        scale, shift, mean, var = (self._weight(node, i, what) for i, what in
                                   enumerate(("scale", "bias", "mean", "variance"), start=1))
        rank = len(self.shapes.get(node.input[0]) or (0, 0, 0, 0))
        kind = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
        norm = kind(len(mean), eps=_float(attrs.get("epsilon", 1e-5)), momentum=_float(1.0 - _float(attrs.get("momentum", 0.9))))
        _load(norm, weight=scale, bias=shift, running_mean=mean, running_var=var)
        return norm

    def _layernormalization(self, node, attrs):
        scale, shift = self._weight(node, 1, "scale"), self._weight(node, 2, "bias")
        if int(attrs.get("axis", -1)) not in (-1, len(self.shapes.get(node.input[0]) or (0, 0)) - 1) \
                or scale.ndim != 1:
            raise _NoCounterpart("only layer norm over the last dimension maps")
        norm = nn.LayerNorm(len(scale), eps=_float(attrs.get("epsilon", 1e-5)), bias=shift is not None)
        _load(norm, weight=scale, bias=shift)
        return norm


def _float(value) -> float:
    """An ONNX attribute (stored as float32) as the number it was written as: 0.001, not 0.0010000000474974513."""
    return float(f"{float(value):.7g}")


def _load(module: nn.Module, **tensors) -> None:
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)).reshape(getattr(module, k).shape)
             for k, v in tensors.items() if v is not None}
    module.load_state_dict(state, strict=False)


def build_steps(model: Any, input_shape: tuple, net: nn.Module) -> tuple:
    try:
        return _Builder(model, input_shape, net).run()
    except OnnxUnsupported:
        raise
    except Exception as exc:   # a malformed node (a missing weight, an attribute of the wrong type, ...)
        raise OnnxUnsupported(f"the ONNX graph does not read as a network: {type(exc).__name__}: "
                              f"{str(exc)[:200]}") from None
