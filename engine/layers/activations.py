"""Element-wise activation functions. They keep the shape and have no weights."""
from torch import nn

from engine.registry import LayerKind, ParamSpec, register


def _same(p, ins):
    return ins[0]


def _activation(name, module, help, teaching="", params=(), ctor_args=lambda p: "", glyph="⌇"):
    register(LayerKind(
        name=name, category="Activation", glyph=glyph, help=help, teaching=teaching or help,
        params=params, infer=_same,
        build=lambda p, ins: module(**p),
        emit=lambda p, ins: f"nn.{module.__name__}({ctor_args(p)})",
        summary=lambda p: ctor_args(p),
    ))


_activation("ReLU", nn.ReLU, "max(0, x): keeps positive values and zeroes the rest.",
            "ReLU passes positive values through and sets negative ones to zero. Without a non-linearity "
            "like this, any stack of layers would collapse into a single linear map. Watch the feature maps: "
            "after ReLU the dark (negative) regions vanish.", glyph="⌐")
_activation("LeakyReLU", nn.LeakyReLU, "Like ReLU, but lets a small slope through for negative values.",
            params=(ParamSpec("negative_slope", "float", 0.01, "Slope used for negative inputs.", 0.0, 1.0),),
            ctor_args=lambda p: f"negative_slope={p['negative_slope']!r}")
_activation("Sigmoid", nn.Sigmoid, "Squashes values into (0, 1); saturates for large inputs.", glyph="∫")
_activation("Tanh", nn.Tanh, "Squashes values into (-1, 1); zero-centred.", glyph="∫")
_activation("GELU", nn.GELU, "A smooth ReLU used by transformers: x·Φ(x).")
_activation("ReLU6", nn.ReLU6, "ReLU capped at 6, used by MobileNet.", glyph="⌐")
_activation("SiLU", nn.SiLU, "x·sigmoid(x), also called Swish.")
_activation("Hardswish", nn.Hardswish, "A cheap piecewise approximation of Swish, used by MobileNetV3.")
_activation("ELU", nn.ELU, "Exponential linear unit: smooth for negative inputs.",
            params=(ParamSpec("alpha", "float", 1.0, "Value approached for large negative inputs.", 0.0, 10.0),),
            ctor_args=lambda p: f"alpha={p['alpha']!r}")
