"""Flatten, fully connected (Linear) and Softmax."""
from math import prod

from torch import nn

from engine.fixes import insert_fix
from engine.layers.common import need_flat, need_image
from engine.modules import PointwiseLinear
from engine.registry import LayerKind, ParamSpec, Receptive, register


def _flatten_infer(p, ins):
    return (prod(ins[0]),)


register(LayerKind(
    name="Flatten", category="Fully connected", glyph="≡",
    help="Unrolls (C, H, W) feature maps into one flat vector of C·H·W features.",
    teaching="Fully connected layers expect a flat list of numbers. Flatten lays every value of every "
             "feature map out in one long row; the spatial layout is forgotten from here on.",
    params=(), infer=_flatten_infer,
    build=lambda p, ins: nn.Flatten(), emit=lambda p, ins: "nn.Flatten()",
    receptive=lambda p, ins: Receptive(global_=len(ins[0]) > 1),
))


def _linear_infer(p, ins):
    need_flat("Linear", ins[0], insert_fix("Flatten"))
    return (p["out_features"],)


def _linear_emit(p, ins):
    bias = "" if p["bias"] else ", bias=False"
    return f"nn.Linear({ins[0][0]}, {p['out_features']}{bias})"


register(LayerKind(
    name="Linear", category="Fully connected", glyph="⋈",
    help="Fully connected: every output is a weighted sum of all inputs.",
    teaching="A fully connected (Linear) layer connects every input to every output with its own weight. "
             "It has many parameters: inputs × outputs + outputs. Convolutions share one small kernel over "
             "the whole image instead, which is why they need so many fewer.",
    params=(ParamSpec("out_features", "int", 10, "Number of outputs (neurons).", 1, 1_000_000,
                      label="Outputs"),
            ParamSpec("bias", "bool", True, "Add a learned offset to each output.")),
    infer=_linear_infer,
    build=lambda p, ins: nn.Linear(ins[0][0], p["out_features"], p["bias"]),
    emit=_linear_emit,
    macs=lambda p, ins, out: ins[0][0] * p["out_features"],
    receptive=lambda p, ins: Receptive(global_=True),
    summary=lambda p: f"{p['out_features']} outputs",
))

def _pointwise_infer(p, ins):
    c, h, w = need_image("Pointwise linear", ins[0])
    return (p["out_features"], h, w)


def _pointwise_emit(p, ins):
    bias = "" if p["bias"] else ", bias=False"
    return f"PointwiseLinear({ins[0][0]}, {p['out_features']}{bias})"


register(LayerKind(
    name="Pointwise linear", category="Fully connected", glyph="⋮", id_prefix="pointwise",
    help="A Linear layer applied to the channels at every position: the same as a 1×1 convolution.",
    teaching="At every position the layer takes that pixel's C channel values, multiplies them by one weight "
             "matrix and adds a bias, just as a fully connected layer would, and writes the result as the new "
             "channels of that pixel. Every position uses the same weights, so it is exactly a 1×1 convolution "
             "(Network in Network); ConvNeXt writes it this way, as a Linear between two permutes.",
    params=(ParamSpec("out_features", "int", 64, "Channels out (outputs per position).", 1, 1_000_000,
                      label="Outputs"),
            ParamSpec("bias", "bool", True, "Add a learned offset to each output.")),
    infer=_pointwise_infer,
    build=lambda p, ins: PointwiseLinear(ins[0][0], p["out_features"], p["bias"]),
    emit=_pointwise_emit,
    emit_classes=(PointwiseLinear,),
    macs=lambda p, ins, out: ins[0][0] * p["out_features"] * out[1] * out[2],
    summary=lambda p: f"{p['out_features']} outputs",
))


register(LayerKind(
    name="Softmax", category="Activation", glyph="σ",
    help="Turns scores into probabilities that sum to 1 (over channels or features).",
    teaching="Softmax exponentiates each score and divides by the total, so the outputs are positive and "
             "sum to one. Training with cross-entropy applies it already; put it only where you want "
             "probabilities inside the network.",
    params=(), infer=lambda p, ins: ins[0],
    build=lambda p, ins: nn.Softmax(dim=1), emit=lambda p, ins: "nn.Softmax(dim=1)",
))
