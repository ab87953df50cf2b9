"""Kinds needed to import MobileNetV3-style networks: Hardsigmoid and the Multiply (channel gate) join."""
from torch import nn

from engine.layers.common import fmt_shape, need_image
from engine.modules import ChannelShuffle, Multiply
from engine.registry import LayerKind, ParamSpec, ShapeError, register

register(LayerKind(
    name="Hardsigmoid", category="Activation", glyph="∫",
    help="A cheap piecewise-linear sigmoid: 0 below -3, 1 above 3, a straight line between.",
    teaching="Hardsigmoid approximates the sigmoid with three straight pieces, which is much cheaper on "
             "phones. MobileNetV3 uses it to turn squeeze-and-excitation scores into gates between 0 and 1.",
    params=(), infer=lambda p, ins: ins[0],
    build=lambda p, ins: nn.Hardsigmoid(), emit=lambda p, ins: "nn.Hardsigmoid()",
))


def _gate_compatible(a, b) -> bool:
    """Equal shapes, or a per-channel gate (C, 1, 1) against feature maps (C, H, W)."""
    if a == b:
        return True
    if len(a) == 3 and len(b) == 3 and a[0] == b[0]:
        return a[1:] == (1, 1) or b[1:] == (1, 1)
    return False


def _multiply_infer(p, ins):
    out = ins[0]
    for shape in ins[1:]:
        if not _gate_compatible(out, shape):
            raise ShapeError(f"Multiply needs inputs of equal shape, or a per-channel gate (C, 1, 1) with the "
                             f"same channels, but receives {fmt_shape(out)} and {fmt_shape(shape)}")
        if len(shape) == 3 and shape[1:] != (1, 1):
            out = shape
    return tuple(out)


register(LayerKind(
    name="Multiply", category="Branches", glyph="⊗",
    help="Multiplies its inputs element by element; a (C, 1, 1) input scales each channel (a gate).",
    teaching="Multiply scales one tensor by another. Squeeze-and-excitation blocks pool each channel to one "
             "number, pass these through a tiny network and multiply the feature maps by the result, so "
             "the network learns to turn whole channels up or down.",
    params=(), min_inputs=2, max_inputs=None, infer=_multiply_infer,
    build=lambda p, ins: Multiply(), emit=lambda p, ins: "Multiply()",
    emit_forward=lambda args: " * ".join(args),
))


def _shuffle_infer(p, ins):
    shape = need_image("Channel shuffle", ins[0])
    if shape[0] % p["groups"]:
        raise ShapeError(f"Channel shuffle splits the channels into {p['groups']} groups, but {shape[0]} channels "
                         f"do not divide into {p['groups']}; choose groups that divide {shape[0]}")
    return shape


register(LayerKind(
    name="Channel shuffle", category="Branches", glyph="⇄", id_prefix="channel_shuffle",
    help="Interleaves the channels of its groups, so the next grouped convolution sees every group.",
    teaching="A grouped convolution only mixes channels within each group. ShuffleNet follows it with a "
             "channel shuffle: with 2 groups of 4 channels (a1 a2 a3 a4 | b1 b2 b3 b4) the order becomes "
             "a1 b1 a2 b2 a3 b3 a4 b4, so the next grouped convolution gets channels from both groups. It has "
             "no weights and costs no multiplications.",
    params=(ParamSpec("groups", "int", 2, "How many groups the channels are interleaved from.", 1, 1024),),
    infer=_shuffle_infer,
    build=lambda p, ins: ChannelShuffle(p["groups"]),
    emit=lambda p, ins: f"ChannelShuffle({p['groups']})",
    emit_classes=(ChannelShuffle,),
    summary=lambda p: f"{p['groups']} groups",
))
