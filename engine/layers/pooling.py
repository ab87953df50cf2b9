"""Pooling: shrink feature maps by summarising each window."""
from torch import nn

from engine.layers.common import fmt_shape, kernel_param, need_image, pair_text, py_pair, window_out
from engine.fixes import params_fix
from engine.registry import LayerKind, ParamSpec, Receptive, ShapeError, register


def _pool_infer(name):
    def infer(p, ins):
        c, h, w = need_image(name, ins[0])
        k, s, q = p["kernel_size"], p["stride"], p["padding"]
        if any(2 * qq > kk for qq, kk in zip(q, k)):
            half = tuple(kk // 2 for kk in k)
            raise ShapeError(f"{name}: padding {pair_text(q)} is more than half the kernel {pair_text(k)}",
                             params_fix(f"Set padding to {pair_text(half)}", {"padding": half}))
        out = tuple(window_out(n, kk, ss, qq, 1, p["ceil_mode"]) for n, kk, ss, qq in zip((h, w), k, s, q))
        if min(out) < 1:
            fit = (max(1, min(k[0], h + 2 * q[0])), max(1, min(k[1], w + 2 * q[1])))
            raise ShapeError(f"{name}: the {pair_text(k)} window is larger than the padded input "
                             f"{h + 2 * q[0]}×{w + 2 * q[1]} (input {fmt_shape(ins[0])}); reduce the kernel",
                             params_fix(f"Reduce kernel to {pair_text(fit)}", {"kernel_size": fit}))
        return (c,) + out
    return infer


def _pool_args(p):
    args = [f"kernel_size={py_pair(p['kernel_size'])}"]
    if p["stride"] != p["kernel_size"]:
        args.append(f"stride={py_pair(p['stride'])}")
    if p["padding"] != (0, 0):
        args.append(f"padding={py_pair(p['padding'])}")
    if p["ceil_mode"]:
        args.append("ceil_mode=True")
    return ", ".join(args)


def _window_pool(name, module, help, teaching, glyph):
    register(LayerKind(
        name=name, category="Pooling", glyph=glyph, help=help, teaching=teaching,
        params=(kernel_param(2, "Size of the window summarised into one value."),
                ParamSpec("stride", "pair", (2, 2), "Step between windows; usually equal to the kernel.", 1, 64),
                ParamSpec("padding", "pair", (0, 0), "Border added before pooling (at most half the kernel).",
                          0, 32),
                ParamSpec("ceil_mode", "bool", False, "Keep a last partial window instead of dropping it.")),
        infer=_pool_infer(name),
        build=lambda p, ins: module(p["kernel_size"], p["stride"], p["padding"], ceil_mode=p["ceil_mode"]),
        emit=lambda p, ins: f"nn.{module.__name__}({_pool_args(p)})",
        receptive=lambda p, ins: Receptive(p["kernel_size"], p["stride"]),
        summary=lambda p: f"{p['kernel_size'][0]}×{p['kernel_size'][1]}, s{pair_text(p['stride'])}",
    ))


_window_pool("MaxPool2d", nn.MaxPool2d, "Keeps the largest value of each window.",
             "Max pooling keeps the strongest response in each window, so a feature still counts if it moves "
             "by a pixel or two, and halves the height and width with a 2×2 window.", "▼")
_window_pool("AvgPool2d", nn.AvgPool2d, "Averages each window.",
             "Average pooling replaces each window by its mean: a smoother way to shrink a feature map.", "▽")


def _global_infer(p, ins):
    return (need_image("Global average pool", ins[0])[0],)


register(LayerKind(
    name="Global average pool", category="Pooling", glyph="◉", id_prefix="gap",
    help="Averages each whole feature map to one number: (C, H, W) → (C,).",
    teaching="Global average pooling turns every feature map into its mean, giving one number per channel. "
             "Network-in-Network uses it instead of large fully connected layers: with as many channels as "
             "classes, each channel becomes the score of one class.",
    params=(), infer=_global_infer,
    build=lambda p, ins: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
    emit=lambda p, ins: "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())",
    receptive=lambda p, ins: Receptive(global_=True),
))


def _adaptive_infer(p, ins):
    c, _, _ = need_image("AdaptiveAvgPool2d", ins[0])
    return (c,) + tuple(p["output_size"])


def _adaptive_rf(p, ins):
    # Windows overlap unevenly; the widest window is ceil(in / out) and the step floor(in / out).
    _, h, w = ins[0]
    oh, ow = p["output_size"]
    return Receptive((-(-h // oh), -(-w // ow)), (max(1, h // oh), max(1, w // ow)))


register(LayerKind(
    name="AdaptiveAvgPool2d", category="Pooling", glyph="▽", id_prefix="adaptive_avgpool",
    help="Averages windows sized so the output has a fixed height and width.",
    teaching="Adaptive pooling chooses its windows from the input size so the output always has the same "
             "height and width, letting the layers after it work for any input size.",
    params=(ParamSpec("output_size", "pair", (1, 1), "Height and width of the output.", 1, 512),),
    infer=_adaptive_infer,
    build=lambda p, ins: nn.AdaptiveAvgPool2d(p["output_size"]),
    emit=lambda p, ins: f"nn.AdaptiveAvgPool2d({py_pair(p['output_size'])})",
    receptive=_adaptive_rf,
    summary=lambda p: f"→ {p['output_size'][0]}×{p['output_size'][1]}",
))
