"""Batch normalisation, layer normalisation and layer scale."""
from torch import nn

from engine.fixes import params_fix
from engine.layers.common import fmt_shape, need_flat, need_image
from engine.modules import ChannelLayerNorm, LayerScale
from engine.registry import LayerKind, ParamSpec, ShapeError, register

_BN_PARAMS = (
    ParamSpec("eps", "float", 1e-5, "Added to the variance so it never divides by zero.", 1e-12, 1.0),
    ParamSpec("momentum", "float", 0.1, "How fast the running mean and variance follow each batch.", 0.0, 1.0),
    ParamSpec("affine", "bool", True, "Learn a scale and shift per channel after normalising."),
)


def _norm_args(leading: list, p: dict, affine_word: str = "affine") -> str:
    """Constructor arguments of a normalisation layer: `leading`, then eps, momentum and the affine switch
    where they differ from PyTorch's defaults."""
    args = [str(a) for a in leading]
    if p["eps"] != 1e-5:
        args.append(f"eps={p['eps']!r}")
    if p.get("momentum", 0.1) != 0.1:
        args.append(f"momentum={p['momentum']!r}")
    if not p["affine"]:
        args.append(f"{affine_word}=False")
    return ", ".join(args)


def _bn_args(p, features):
    return _norm_args([features], p)


register(LayerKind(
    name="BatchNorm2d", category="Normalization", glyph="≋", id_prefix="batchnorm2d",
    help="Normalises each channel over the batch to mean 0 and variance 1, then rescales.",
    teaching="Batch normalisation rescales every channel to a steady mean and spread during training. It "
             "lets deeper networks train faster and with larger learning rates. At test time it uses the "
             "running averages it collected.",
    params=_BN_PARAMS,
    infer=lambda p, ins: need_image("BatchNorm2d", ins[0]),
    build=lambda p, ins: nn.BatchNorm2d(ins[0][0], p["eps"], p["momentum"], p["affine"]),
    emit=lambda p, ins: f"nn.BatchNorm2d({_bn_args(p, ins[0][0])})",
))

register(LayerKind(
    name="BatchNorm1d", category="Normalization", glyph="≋", id_prefix="batchnorm1d",
    help="Batch normalisation for flat feature vectors (after Flatten or Linear).",
    teaching="The same normalisation as BatchNorm2d, applied to each feature of a flat vector.",
    params=_BN_PARAMS,
    infer=lambda p, ins: need_flat("BatchNorm1d", ins[0]),
    build=lambda p, ins: nn.BatchNorm1d(ins[0][0], p["eps"], p["momentum"], p["affine"]),
    emit=lambda p, ins: f"nn.BatchNorm1d({_bn_args(p, ins[0][0])})",
))


def _norm_input(kind: str, shape: tuple) -> tuple:
    if len(shape) not in (1, 3):
        raise ShapeError(f"{kind} expects feature maps (channels, height, width) or flat features but receives "
                         f"{fmt_shape(shape)}")
    return shape


def _layer_norm_emit(p, ins):
    return f"ChannelLayerNorm({_norm_args([ins[0][0]], p, 'elementwise_affine')})"


register(LayerKind(
    name="LayerNorm", category="Normalization", glyph="≋", id_prefix="layernorm",
    help="Normalises the channels at each position (or the features of a flat vector) to mean 0 and variance 1.",
    teaching="Layer normalisation looks at one sample at a time: at every pixel it takes the values of all "
             "channels, shifts them to mean 0 and scales them to variance 1, then applies a learned scale and "
             "shift per channel. Unlike batch norm it does not depend on the other images in the batch, so it "
             "behaves the same in training and at test time. ConvNeXt uses it where ResNet uses batch norm.",
    params=(ParamSpec("eps", "float", 1e-5, "Added to the variance so it never divides by zero.", 1e-12, 1.0),
            ParamSpec("affine", "bool", True, "Learn a scale and shift per channel after normalising.")),
    infer=lambda p, ins: _norm_input("LayerNorm", ins[0]),
    build=lambda p, ins: ChannelLayerNorm(ins[0][0], eps=p["eps"], elementwise_affine=p["affine"]),
    emit=_layer_norm_emit,
    emit_classes=(ChannelLayerNorm,),
    summary=lambda p: f"eps={p['eps']:g}",
))


def _scale_shape(shape: tuple) -> tuple:
    return (shape[0], 1, 1) if len(shape) == 3 else (shape[0],)


register(LayerKind(
    name="Layer scale", category="Normalization", glyph="×", id_prefix="layer_scale",
    help="Multiplies each channel by its own learned factor, which starts small (e.g. 1e-6).",
    teaching="A layer scale is one learned number per channel that multiplies the output of a residual branch. "
             "ConvNeXt starts these numbers at 1e-6, so at first every block passes its input on almost "
             "unchanged through the shortcut and a very deep network starts out as a shallow one; training "
             "then turns each branch up as far as it helps.",
    params=(ParamSpec("init", "float", 1e-6, "The factor every channel starts with.", -1e6, 1e6,
                      label="Initial scale"),),
    infer=lambda p, ins: _norm_input("Layer scale", ins[0]),
    build=lambda p, ins: LayerScale(_scale_shape(ins[0]), p["init"]),
    emit=lambda p, ins: f"LayerScale({_scale_shape(ins[0])!r}, init={p['init']!r})",
    emit_classes=(LayerScale,),
    bare_parameter="scale",
    emit_bare=lambda p, ins: f"nn.Parameter(torch.full({_scale_shape(ins[0])!r}, {p['init']!r}))",
    summary=lambda p: f"starts at {p['init']:g}",
))


def _group_norm_infer(p, ins):
    shape = need_image("GroupNorm", ins[0])
    if shape[0] % p["groups"]:
        fitting = max(d for d in range(1, p["groups"] + 1) if shape[0] % d == 0)
        raise ShapeError(f"GroupNorm splits the channels into {p['groups']} groups, but {shape[0]} channels do not "
                         f"divide into {p['groups']}; choose groups that divide {shape[0]}, such as {fitting}",
                         params_fix(f"Use {fitting} groups", {"groups": fitting}))
    return shape


def _group_norm_emit(p, ins):
    return f"nn.GroupNorm({_norm_args([p['groups'], ins[0][0]], p)})"


register(LayerKind(
    name="GroupNorm", category="Normalization", glyph="≋", id_prefix="groupnorm",
    help="Normalises groups of channels of each image to mean 0 and variance 1, then rescales each channel.",
    teaching="Group normalisation splits the channels into groups and normalises each group over its channels "
             "and all positions, one image at a time. It works the same with a batch of 2 as with 256, so "
             "detection and segmentation networks, which train on few large images, use it instead of batch "
             "norm. With one group it is layer norm over the whole map; with one channel per group it is "
             "instance norm.",
    params=(ParamSpec("groups", "int", 4, "How many groups the channels are split into.", 1, 4096),
            ParamSpec("eps", "float", 1e-5, "Added to the variance so it never divides by zero.", 1e-12, 1.0),
            ParamSpec("affine", "bool", True, "Learn a scale and shift per channel after normalising.")),
    infer=_group_norm_infer,
    build=lambda p, ins: nn.GroupNorm(p["groups"], ins[0][0], p["eps"], p["affine"]),
    emit=_group_norm_emit,
    summary=lambda p: f"{p['groups']} groups",
))
