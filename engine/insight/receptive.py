"""Exact receptive fields: which input pixels one feature-map position can see.

`NodeInfo.receptive_field` gives the size of the window; this module also gives its place. It walks the
graph from the chosen node back to the Input, mapping an index range through every layer's window
(kernel, stride, dilation, padding). Branches (Add, Concat) take the union of their inputs' ranges, so
the answer is exact for any graph the compiler accepts. The result is clipped to the image, because
positions in the zero padding are not pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.analysis import Analysis, analyze
from engine.graph import GraphSpec
from engine.registry import get_kind


@dataclass(frozen=True)
class Box:
    """Input rows top..bottom and columns left..right, all inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    def union(self, other: "Box") -> "Box":
        return Box(min(self.top, other.top), min(self.left, other.left),
                   max(self.bottom, other.bottom), max(self.right, other.right))


def receptive_box(graph: GraphSpec, node_id: str, row: int, col: int,
                  analysis: Analysis | None = None, clip: bool = True) -> Box:
    """The input pixels that output position (row, col) of `node_id` depends on.

    Raises ValueError when the node's output is not a (channels, height, width) map or the position is
    outside it, or when the graph cannot be analysed.
    """
    analysis = analysis or analyze(graph)
    info = analysis.nodes.get(node_id)
    if info is None or info.shape is None:
        raise ValueError(f"{node_id} has no known output shape; fix the errors in the network first")
    if len(info.shape) != 3:
        raise ValueError(f"{node_id} produces a flat vector {info.shape}; every value sees the whole image")
    _, h, w = info.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"position ({row}, {col}) is outside the {h}×{w} feature map of {node_id}")
    inputs = graph.nodes_of_kind("Input")
    p = inputs[0].params
    image = Box(0, 0, p["height"] - 1, p["width"] - 1)
    box = _walk(graph, analysis, node_id, Box(row, col, row, col), image, {})
    if clip:
        box = Box(max(box.top, 0), max(box.left, 0), min(box.bottom, image.bottom), min(box.right, image.right))
    return box


def _walk(graph, analysis, node_id, box, image, memo):
    key = (node_id, box)
    if key in memo:
        return memo[key]
    spec = graph.node(node_id)
    if spec.kind == "Input":
        memo[key] = box
        return box
    result = None
    for edge in graph.in_edges(node_id):
        in_shape = analysis.nodes[edge.source].shape
        src_box = _through_layer(spec, analysis.nodes[node_id].in_shapes, in_shape, box, image)
        found = image if src_box is None else _walk(graph, analysis, edge.source, src_box, image, memo)
        result = found if result is None else result.union(found)
    memo[key] = result if result is not None else image
    return memo[key]


def _through_layer(spec, in_shapes, in_shape, box, image):
    """Map an output index box to the input index box of one layer; None means 'the whole image'."""
    kind = get_kind(spec.kind)
    if in_shape is None or len(in_shape) != 3:
        return None
    if spec.kind == "AdaptiveAvgPool2d":
        oh, ow = spec.params["output_size"]
        _, h, w = in_shape
        # PyTorch's window i spans floor(i*in/out) .. ceil((i+1)*in/out) - 1
        return Box((box.top * h) // oh, (box.left * w) // ow,
                   -(-(box.bottom + 1) * h // oh) - 1, -(-(box.right + 1) * w // ow) - 1)
    if kind.receptive_box is not None:   # a layer that enlarges the map says itself which inputs it reads
        return Box(*kind.receptive_box(spec.params, list(in_shapes), (box.top, box.left, box.bottom, box.right)))
    r = kind.receptive(spec.params, list(in_shapes))
    if r.global_:
        return None
    pad = _padding_before(spec.params, r.kernel)
    return Box(box.top * r.stride[0] - pad[0], box.left * r.stride[1] - pad[1],
               box.bottom * r.stride[0] - pad[0] + r.kernel[0] - 1,
               box.right * r.stride[1] - pad[1] + r.kernel[1] - 1)


def _padding_before(params, kernel):
    pad = params.get("padding", (0, 0))
    if pad == "same":
        # PyTorch pads (kernel - 1) in total and puts the smaller half first
        return tuple((k - 1) // 2 for k in kernel)
    return tuple(pad)
