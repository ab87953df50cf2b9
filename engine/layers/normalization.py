"""Batch normalisation."""
from torch import nn

from engine.layers.common import need_flat, need_image
from engine.registry import LayerKind, ParamSpec, register

_BN_PARAMS = (
    ParamSpec("eps", "float", 1e-5, "Added to the variance so it never divides by zero.", 1e-12, 1.0),
    ParamSpec("momentum", "float", 0.1, "How fast the running mean and variance follow each batch.", 0.0, 1.0),
    ParamSpec("affine", "bool", True, "Learn a scale and shift per channel after normalising."),
)


def _bn_args(p, features):
    args = [str(features)]
    if p["eps"] != 1e-5:
        args.append(f"eps={p['eps']!r}")
    if p["momentum"] != 0.1:
        args.append(f"momentum={p['momentum']!r}")
    if not p["affine"]:
        args.append("affine=False")
    return ", ".join(args)


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
