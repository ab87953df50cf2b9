"""Layers that enlarge feature maps, as decoders (FCN, U-Net) need: transposed convolution and upsampling."""
from __future__ import annotations

import math
from fractions import Fraction

from torch import nn

from engine.fixes import params_fix
from engine.layers.common import check_channels_divisible, kernel_param, need_image, pair_text, py_pair, stride_param
from engine.registry import LayerKind, ParamSpec, Receptive, ShapeError, register


def transposed_length(n: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """The output length of a transposed convolution, as PyTorch computes it."""
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _tconv_infer(p, ins):
    c, h, w = need_image("ConvTranspose2d", ins[0])
    check_channels_divisible("ConvTranspose2d", c, p["out_channels"], p["groups"])
    for s, d, op in zip(p["stride"], p["dilation"], p["output_padding"]):
        if op >= s and op >= d:
            raise ShapeError(f"ConvTranspose2d: the output padding ({pair_text(p['output_padding'])}) must be smaller "
                             f"than the stride ({pair_text(p['stride'])}) or the dilation; it only adds the rows a "
                             f"stride would otherwise leave out",
                             params_fix("No output padding", {"output_padding": (0, 0)}))
    out = tuple(transposed_length(n, k, s, q, d, op) for n, k, s, q, d, op in
                zip((h, w), p["kernel_size"], p["stride"], p["padding"], p["dilation"], p["output_padding"]))
    if min(out) < 1:
        raise ShapeError(f"ConvTranspose2d: padding {pair_text(p['padding'])} crops away the whole "
                         f"{h}×{w} → output; in a transposed convolution padding removes rows and columns, so "
                         f"reduce it", params_fix("No padding", {"padding": (0, 0)}))
    return (p["out_channels"], *out)


def _tconv_args(p, in_ch):
    args = [str(in_ch), str(p["out_channels"]), f"kernel_size={py_pair(p['kernel_size'])}"]
    for name, neutral in (("stride", (1, 1)), ("padding", (0, 0)), ("output_padding", (0, 0)), ("dilation", (1, 1))):
        if tuple(p[name]) != neutral:
            args.append(f"{name}={py_pair(p[name])}")
    if p["groups"] != 1:
        args.append(f"groups={p['groups']}")
    if not p["bias"]:
        args.append("bias=False")
    return ", ".join(args)


def _tconv_build(p, ins):
    return nn.ConvTranspose2d(ins[0][0], p["out_channels"], p["kernel_size"], p["stride"], p["padding"],
                              p["output_padding"], p["groups"], p["bias"], p["dilation"])


def _tconv_receptive(p, ins):
    """One output gathers from at most ⌊D·(K − 1) / S⌋ + 1 input positions, and outputs are 1/S apart."""
    seen = tuple(d * (k - 1) // s + 1 for k, s, d in zip(p["kernel_size"], p["stride"], p["dilation"]))
    return Receptive(seen, (1, 1), upsample=tuple(p["stride"]))


def _tconv_box(p, ins, box):
    """Output rows a..b read the input rows i with i·S − P + t·D in a..b for some tap t."""
    top, left, bottom, right = box
    _, h, w = ins[0]
    spans = []
    for (a, b), n, k, s, q, d in zip(((top, bottom), (left, right)), (h, w), p["kernel_size"], p["stride"],
                                     p["padding"], p["dilation"]):
        lo = max(0, -(-(a + q - d * (k - 1)) // s))
        hi = min(n - 1, (b + q) // s)
        spans.append((min(lo, hi), max(lo, hi)))
    return spans[0][0], spans[1][0], spans[0][1], spans[1][1]


register(LayerKind(
    name="ConvTranspose2d", category="Upsampling", glyph="▩", id_prefix="convtranspose2d",
    help="A learned upsampling: each input value stamps a scaled copy of the kernel onto a larger output.",
    teaching="A transposed convolution runs a convolution backwards. Each input value multiplies the whole "
             "kernel and adds the result into the output, with stamps S pixels apart, so a 2×2 kernel at "
             "stride 2 doubles the height and width. Decoders (FCN, U-Net) use it to grow coarse feature maps "
             "back to the image's size, and it learns how to fill in the detail. Padding here removes rows and "
             "columns from the border of the output instead of adding them.",
    params=(ParamSpec("out_channels", "int", 16, "Number of filters, i.e. output feature maps.", 1, 8192,
                      label="Filters"),
            kernel_param(2, "Size of the kernel stamped by each input value (height, width)."),
            stride_param(2, "Step between stamps in the output; 2 doubles the height and width."),
            ParamSpec("padding", "pair", (0, 0), "Rows and columns removed from each border of the output.", 0, 64),
            ParamSpec("output_padding", "pair", (0, 0), "Extra rows and columns added at the bottom and right "
                      "(smaller than the stride), to reach an exact size.", 0, 63),
            ParamSpec("dilation", "pair", (1, 1), "Spacing between kernel taps.", 1, 32),
            ParamSpec("groups", "int", 1, "Split channels into groups handled separately.", 1, 8192),
            ParamSpec("bias", "bool", True, "Add a learned offset to each output channel.")),
    infer=_tconv_infer, build=_tconv_build,
    emit=lambda p, ins: f"nn.ConvTranspose2d({_tconv_args(p, ins[0][0])})",
    # Every input value meets every weight of its group once: PyTorch's FlopCounter counts it so.
    macs=lambda p, ins, out: (ins[0][0] * (p["out_channels"] // p["groups"]) * p["kernel_size"][0]
                              * p["kernel_size"][1] * ins[0][1] * ins[0][2]),
    receptive=_tconv_receptive, receptive_box=_tconv_box,
    summary=lambda p: f"{p['kernel_size'][0]}×{p['kernel_size'][1]}, {p['out_channels']}, s{pair_text(p['stride'])}",
))


def _upsample_infer(p, ins):
    c, h, w = need_image("Upsample", ins[0])
    if p["align_corners"] and p["mode"] != "bilinear":
        raise ShapeError("Upsample: align corners applies to bilinear interpolation only",
                         params_fix("Do not align corners", {"align_corners": False}))
    fh, fw = p["scale_factor"]
    return (c, h * fh, w * fw)


def _upsample_kwargs(p) -> dict:
    fh, fw = p["scale_factor"]
    kwargs = {"scale_factor": float(fh) if fh == fw else (float(fh), float(fw)), "mode": p["mode"]}
    if p["mode"] == "bilinear":
        kwargs["align_corners"] = p["align_corners"]
    return kwargs


def _upsample_emit(p, ins):
    fh, fw = p["scale_factor"]
    args = [f"scale_factor={fh}" if fh == fw else f"scale_factor=({fh}, {fw})", f"mode={p['mode']!r}"]
    if p["mode"] == "bilinear":
        args.append(f"align_corners={p['align_corners']}")
    return f"nn.Upsample({', '.join(args)})"


def _upsample_receptive(p, ins):
    """Nearest copies one input pixel; bilinear mixes the two nearest along each axis."""
    seen = tuple(2 if p["mode"] == "bilinear" and f > 1 else 1 for f in p["scale_factor"])
    return Receptive(seen, (1, 1), upsample=tuple(p["scale_factor"]))


def _upsample_box(p, ins, box):
    top, left, bottom, right = box
    _, h, w = ins[0]
    spans = []
    for (a, b), n, f in zip(((top, bottom), (left, right)), (h, w), p["scale_factor"]):
        if p["mode"] == "nearest":
            lo, hi = a // f, b // f
        else:   # between rows floor(src) and ceil(src); exact fractions, as a row weighted 0 is not read
            src_a, src_b = (_bilinear_source(o, n, f, p["align_corners"]) for o in (a, b))
            lo, hi = math.floor(src_a), math.ceil(src_b)
        lo, hi = max(0, min(lo, n - 1)), max(0, min(hi, n - 1))
        spans.append((lo, hi))
    return spans[0][0], spans[1][0], spans[0][1], spans[1][1]


def _bilinear_source(o: int, n: int, f: int, align_corners: bool) -> Fraction:
    """Where output row `o` samples its input of `n` rows, as PyTorch's bilinear upsampling by `f` computes it:
    corners on corners, or half-pixel centres clamped at 0."""
    if align_corners:
        return Fraction(o * (n - 1), n * f - 1) if n * f > 1 else Fraction(0)
    return max(Fraction(2 * o + 1, 2 * f) - Fraction(1, 2), Fraction(0))


register(LayerKind(
    name="Upsample", category="Upsampling", glyph="⇱",
    help="Enlarges each feature map by a whole factor, copying (nearest) or interpolating (bilinear) pixels.",
    teaching="Upsampling makes a feature map larger without learning anything: nearest copies each pixel "
             "into an f×f block, bilinear blends the nearest pixels for a smooth result. Decoders often "
             "upsample and then convolve, which avoids the checkerboard patterns a transposed convolution "
             "can leave.",
    params=(ParamSpec("scale_factor", "pair", (2, 2), "How many times larger the height and width become.", 1, 32,
                      label="Scale"),
            ParamSpec("mode", "choice", "nearest", "nearest: copy the nearest pixel; bilinear: blend the four "
                      "nearest pixels.", choices=("nearest", "bilinear")),
            ParamSpec("align_corners", "bool", False, "Bilinear only: place the corner pixels of input and "
                      "output on each other (older networks were trained so).")),
    infer=_upsample_infer,
    build=lambda p, ins: nn.Upsample(**_upsample_kwargs(p)),
    emit=_upsample_emit,
    receptive=_upsample_receptive, receptive_box=_upsample_box,
    summary=lambda p: f"×{pair_text(p['scale_factor'])}, {p['mode']}",
))
