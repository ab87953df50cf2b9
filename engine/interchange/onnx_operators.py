"""ONNX operators with no weights whose settings need reading before they run (pooling windows, Clip bounds,
Resize modes, Split sizes, Slice bounds...), as methods of the graph builder (onnx_build.py): each returns the
function (network, argument values) -> result that runs the operator in an OnnxNetwork."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.interchange.onnx_network import INT64_MAX, OnnxUnsupported, _sizes


class _NoCounterpart(Exception):
    """This node has no PyTorch counterpart here; it becomes an OnnxOperator (a placeholder)."""


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _pair(values, default=(1, 1)) -> tuple:
    return tuple(int(v) for v in values) if values is not None else default


class OperatorsMixin:
    """Methods of the ONNX graph builder; they use its `opset`, `constants` and `shapes`."""

    def _maxpool_fn(self, node, attrs):
        kernel, stride, padding, ceil = self._window(attrs)
        return lambda net, a: F.max_pool2d(a[0], kernel, stride, padding, ceil_mode=ceil)

    def _averagepool_fn(self, node, attrs):
        kernel, stride, padding, ceil = self._window(attrs)
        include = bool(int(attrs.get("count_include_pad", 0)))
        return lambda net, a: F.avg_pool2d(a[0], kernel, stride, padding, ceil_mode=ceil, count_include_pad=include)

    def _window(self, attrs):
        kernel = _pair(attrs.get("kernel_shape"))
        if len(kernel) != 2 or _pair(attrs.get("dilations")) != (1, 1):
            raise _NoCounterpart("only 2-D pooling without dilation maps")
        stride = _pair(attrs.get("strides"))
        return kernel, stride, self._padding(attrs, kernel, stride, (1, 1)), bool(int(attrs.get("ceil_mode", 0)))

    def _resize_fn(self, node, attrs):
        """Resize as torch.onnx writes nn.Upsample: nearest (asymmetric, floor) or linear (half-pixel centres,
        or aligned corners), by whole factors."""
        mode = _text(attrs.get("mode", "nearest"))
        where = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
        if mode == "nearest" and where == "asymmetric" and _text(attrs.get("nearest_mode", "")) == "floor":
            how = {"mode": "nearest"}
        elif mode == "linear" and where in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            how = {"mode": "bilinear", "align_corners": where == "align_corners"}
        else:
            raise _NoCounterpart(f"only nearest (asymmetric, floor) and linear resizing map, not {mode} with "
                                 f"{where} coordinates")
        scales_at = 2 if self.opset >= 11 else 1   # Resize-10 takes (X, scales); later (X, roi, scales, sizes)
        scales = self.constants.get(node.input[scales_at]) if len(node.input) > scales_at else None
        if scales is not None and np.size(scales) and float(np.max(np.abs(scales))) > 32:
            raise _NoCounterpart("it enlarges by more than 32 times, more than Upsample does")
        return lambda net, a: _resize(a, how, scales_at)

    def _clip_fn(self, node, attrs):
        if self.opset >= 11:
            bounds = [self._weight(node, i, "bound") for i in (1, 2)]
            low, high = (None if b is None else float(b) for b in bounds)
        else:
            low, high = attrs.get("min"), attrs.get("max")
        if low == 0.0 and high == 6.0:
            return lambda net, a: F.relu6(a[0])
        if low == 0.0 and (high is None or high >= 3.4e38):
            return lambda net, a: F.relu(a[0])
        raise _NoCounterpart(f"only Clip to [0, 6] (ReLU6) or [0, ∞) (ReLU) maps; this one clips to [{low}, {high}]")

    def _hardsigmoid_fn(self, node, attrs):
        if abs(float(attrs.get("alpha", 0.2)) - 1 / 6) > 1e-6 or float(attrs.get("beta", 0.5)) != 0.5:
            raise _NoCounterpart("only HardSigmoid with alpha=1/6 and beta=0.5 (PyTorch's) maps")
        return lambda net, a: F.hardsigmoid(a[0])

    def _softmax_fn(self, node, attrs):
        axis = int(attrs.get("axis", -1 if self.opset >= 13 else 1))
        return lambda net, a: F.softmax(a[0], axis)

    def _reducemean_fn(self, node, attrs):
        keep = bool(int(attrs.get("keepdims", 1)))
        if "axes" in attrs:
            axes = [int(v) for v in attrs["axes"]]
            return lambda net, a: torch.mean(a[0], axes, keepdim=keep)
        if len(node.input) < 2 or not node.input[1]:
            raise _NoCounterpart("the mean over every dimension does not map")
        return lambda net, a: torch.mean(a[0], _sizes(a[1]), keepdim=keep)     # axes as an input (opset 18)

    def _split_fn(self, node, attrs):
        axis, pieces = int(attrs.get("axis", 0)), len(node.output)
        if "split" in attrs:
            sizes = [int(v) for v in attrs["split"]]
            return lambda net, a: torch.split(a[0], sizes, dim=axis)
        if len(node.input) > 1 and node.input[1]:
            return lambda net, a: torch.split(a[0], _sizes(a[1]), dim=axis)
        shape = self.shapes.get(node.input[0])
        if not shape or shape[axis] is None:
            raise _NoCounterpart("the sizes of its pieces cannot be worked out")
        step = -(-shape[axis] // pieces)
        return lambda net, a: torch.split(a[0], step, dim=axis)

    def _slice_fn(self, node, attrs):
        rank = len(self.shapes.get(node.input[0]) or ())
        if not rank:
            raise _NoCounterpart("the rank of its input cannot be worked out")
        if self.opset < 10:
            bounds = [attrs.get("starts"), attrs.get("ends"), attrs.get("axes"), None]
            return lambda net, a: a[0][_index(rank, *bounds)]
        return lambda net, a: a[0][_index(rank, *(list(a[1:]) + [None, None])[:4])]


def _resize(args: list, how: dict, scales_at: int):
    """Resize to its `sizes` input (worked out for the import's input) or by its `scales`; whether that is a
    whole factor the import's mapping decides, from the shapes."""
    x, scales = args[0], args[scales_at] if len(args) > scales_at else None
    sizes = _sizes(args[3]) if scales_at == 2 and len(args) > 3 and args[3] is not None else []
    if len(sizes) == 4:
        return F.interpolate(x, size=sizes[2:], **how)
    factors = [float(v) for v in np.asarray(scales, dtype=np.float64).reshape(-1)] if scales is not None else []
    if len(factors) != 4 or factors[:2] != [1.0, 1.0]:
        raise OnnxUnsupported("a Resize node changes the batch or the channels, or gives neither sizes nor scales")
    return F.interpolate(x, scale_factor=tuple(factors[2:]), **how)


def _index(rank, starts, ends, axes=None, steps=None) -> tuple:
    """Slice's bounds as a Python index (x[:, a:b])."""
    starts, ends = _sizes(starts), _sizes(ends)
    axes = _sizes(axes) if axes is not None else list(range(len(starts)))
    steps = _sizes(steps) if steps is not None else [1] * len(starts)
    index = [slice(None)] * rank
    for axis, start, end, step in zip(axes, starts, ends, steps):
        end = None if isinstance(end, int) and end >= INT64_MAX // 2 else end
        index[int(axis)] = slice(start, end, step)
    return tuple(index)
