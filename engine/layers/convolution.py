"""Convolution layers: Conv2d and the Network-in-Network (mlpconv) block."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from engine.fixes import params_fix
from engine.layers.common import (check_channels_divisible, fmt_shape, kernel_param, need_image, pair_text,
                                  padding_param, py_pair, stride_param, window_out)
from engine.registry import LayerKind, ParamSpec, Receptive, ShapeError, register


def _effective_kernel(p):
    (kh, kw), (dh, dw) = p["kernel_size"], p.get("dilation", (1, 1))
    return (dh * (kh - 1) + 1, dw * (kw - 1) + 1)


def _resolve_padding(p):
    """Explicit (h, w) padding, turning 'same' into the amount PyTorch uses (for shapes only)."""
    if p["padding"] == "same":
        return tuple((k - 1) // 2 for k in _effective_kernel(p))
    return p["padding"]


def conv_output(kind: str, p: dict, shape: tuple) -> tuple:
    """Spatial output of a k×k window over `shape`, refusing windows larger than the padded input."""
    c, h, w = need_image(kind, shape)
    if p["padding"] == "same":
        if p["stride"] != (1, 1):
            raise ShapeError(f"{kind}: padding 'same' needs stride 1 but stride is {pair_text(p['stride'])}; "
                             f"set the padding explicitly",
                             params_fix("Use explicit padding", {"padding": _resolve_padding(p)}))
        return h, w
    pad, eff = p["padding"], _effective_kernel(p)
    out = tuple(window_out(n, k, s, q, d) for n, k, s, q, d in
                zip((h, w), p["kernel_size"], p["stride"], pad, p.get("dilation", (1, 1))))
    if min(out) < 1:
        fit = tuple(max(1, min(k, (n + 2 * q - 1) // d + 1)) for n, k, q, d in
                    zip((h, w), p["kernel_size"], pad, p.get("dilation", (1, 1))))
        raise ShapeError(f"{kind}: the {pair_text(eff)} window is larger than the padded input "
                         f"{h + 2 * pad[0]}×{w + 2 * pad[1]} (input {fmt_shape(shape)}); "
                         f"reduce the kernel or add padding",
                         params_fix(f"Reduce kernel to {pair_text(fit)}", {"kernel_size": fit}))
    return out


def _conv_infer(p, ins):
    (shape,) = ins
    h, w = conv_output("Conv2d", p, shape)
    check_channels_divisible("Conv2d", shape[0], p["out_channels"], p["groups"])
    return (p["out_channels"], h, w)


def _conv_args(p, in_ch, out_ch=None):
    out_ch = p["out_channels"] if out_ch is None else out_ch
    args = [str(in_ch), str(out_ch), f"kernel_size={py_pair(p['kernel_size'])}"]
    if p["stride"] != (1, 1):
        args.append(f"stride={py_pair(p['stride'])}")
    if p["padding"] == "same":
        args.append("padding='same'")
    elif p["padding"] != (0, 0):
        args.append(f"padding={py_pair(p['padding'])}")
    if p.get("dilation", (1, 1)) != (1, 1):
        args.append(f"dilation={py_pair(p['dilation'])}")
    if p.get("groups", 1) != 1:
        args.append(f"groups={p['groups']}")
    if not p.get("bias", True):
        args.append("bias=False")
    return ", ".join(args)


def _conv_build(p, ins):
    return nn.Conv2d(ins[0][0], p["out_channels"], p["kernel_size"], p["stride"], p["padding"],
                     p["dilation"], p["groups"], p["bias"])


def conv_macs(in_ch: int, groups: int, kernel: Sequence[int], out_shape: Sequence[int]) -> int:
    c, h, w = out_shape
    return c * h * w * (in_ch // groups) * kernel[0] * kernel[1]


def _conv_summary(p):
    pad = "same" if p["padding"] == "same" else pair_text(p["padding"])
    return f"{_kernel_text(p['kernel_size'])}, {p['out_channels']}, s{pair_text(p['stride'])} p{pad}"


def _kernel_text(k):
    return f"{k[0]}×{k[1]}"


register(LayerKind(
    name="Conv2d", category="Convolution", glyph="▦",
    help="Slides learned filters over the image; each filter makes one output channel (feature map).",
    teaching="A convolution slides a small window (the kernel) over every position of its input and "
             "computes a weighted sum there. Each filter learns to respond to one pattern, such as an edge, "
             "and produces one feature map. Stride skips positions; padding adds a border so the window "
             "can centre on edge pixels.",
    params=(ParamSpec("out_channels", "int", 16, "Number of filters, i.e. output feature maps.", 1, 8192,
                      label="Filters"),
            kernel_param(3), stride_param(1), padding_param(0),
            ParamSpec("dilation", "pair", (1, 1), "Spacing between kernel taps; >1 widens the view.", 1, 32),
            ParamSpec("groups", "int", 1, "Split channels into groups convolved separately "
                                          "(channels = depthwise).", 1, 8192),
            ParamSpec("bias", "bool", True, "Add a learned offset to each output channel.")),
    infer=_conv_infer, build=_conv_build,
    emit=lambda p, ins: f"nn.Conv2d({_conv_args(p, ins[0][0])})",
    macs=lambda p, ins, out: conv_macs(ins[0][0], p["groups"], p["kernel_size"], out),
    receptive=lambda p, ins: Receptive(_effective_kernel(p), p["stride"]),
    summary=_conv_summary,
))


def _nin_infer(p, ins):
    (shape,) = ins
    h, w = conv_output("NiN block", p, shape)
    return (p["out_channels"], h, w)


def _nin_layers(p, in_ch):
    """(in, out, is_first) for the three convolutions of the block."""
    return [(in_ch, p["channels"], True), (p["channels"], p["mlp_channels"], False),
            (p["mlp_channels"], p["out_channels"], False)]


def _nin_build(p, ins):
    layers = []
    for cin, cout, first in _nin_layers(p, ins[0][0]):
        if first:
            layers.append(nn.Conv2d(cin, cout, p["kernel_size"], p["stride"], p["padding"]))
        else:
            layers.append(nn.Conv2d(cin, cout, 1))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _nin_emit(p, ins):
    parts = []
    for cin, cout, first in _nin_layers(p, ins[0][0]):
        if first:
            parts.append(f"nn.Conv2d({_conv_args({**p, 'out_channels': cout}, cin)})")
        else:
            parts.append(f"nn.Conv2d({cin}, {cout}, kernel_size=1)")
        parts.append("nn.ReLU()")
    return "nn.Sequential(\n    " + ",\n    ".join(parts) + ",\n)"


def _nin_macs(p, ins, out):
    _, h, w = out
    k = p["kernel_size"]
    return h * w * (ins[0][0] * p["channels"] * k[0] * k[1] + p["channels"] * p["mlp_channels"]
                    + p["mlp_channels"] * p["out_channels"])


register(LayerKind(
    name="NiN block", category="Convolution", glyph="⊞", id_prefix="nin",
    help="Network-in-Network (mlpconv): a k×k convolution then two 1×1 convolutions, each with ReLU.",
    teaching="A 1×1 convolution mixes the channels at each pixel without looking at neighbours: a tiny "
             "fully connected network applied at every position. Lin et al. (2013) stack two of them after "
             "an ordinary convolution so each position gets a small multi-layer perceptron.",
    params=(ParamSpec("channels", "int", 96, "Filters of the first k×k convolution.", 1, 8192),
            kernel_param(3), stride_param(1), padding_param(1, allow_same=False),
            ParamSpec("mlp_channels", "int", 96, "Channels of the first 1×1 convolution.", 1, 8192),
            ParamSpec("out_channels", "int", 96, "Channels of the second 1×1 convolution (the output).",
                      1, 8192)),
    infer=_nin_infer, build=_nin_build, emit=_nin_emit, macs=_nin_macs,
    receptive=lambda p, ins: Receptive(p["kernel_size"], p["stride"]),
    summary=lambda p: f"{_kernel_text(p['kernel_size'])}, {p['channels']}→{p['mlp_channels']}→{p['out_channels']}",
))
