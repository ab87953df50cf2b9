"""Dropout: randomly silence activations during training so the network cannot rely on any one."""
from torch import nn

from engine.layers.common import need_image
from engine.modules import StochasticDepth
from engine.registry import LayerKind, ParamSpec, register

_P = ParamSpec("p", "float", 0.5, "Probability of zeroing each value during training.", 0.0, 1.0,
               label="Drop probability")

register(LayerKind(
    name="Dropout", category="Regularization", glyph="⁘",
    help="During training, zeroes each value with probability p; does nothing at test time.",
    teaching="Dropout switches off random units at every training step, so the network learns redundant "
             "features and overfits less. The kept values are scaled up by 1/(1-p) so their sum stays the "
             "same; at test time dropout does nothing.",
    params=(_P,), infer=lambda p, ins: ins[0],
    build=lambda p, ins: nn.Dropout(p["p"]),
    emit=lambda p, ins: f"nn.Dropout(p={p['p']!r})",
    summary=lambda p: f"p={p['p']:g}",
))

register(LayerKind(
    name="Dropout2d", category="Regularization", glyph="⁘",
    help="During training, zeroes whole feature maps (channels) with probability p.",
    teaching="Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels "
             "does little. Dropout2d drops entire channels instead.",
    params=(_P,), infer=lambda p, ins: need_image("Dropout2d", ins[0]),
    build=lambda p, ins: nn.Dropout2d(p["p"]),
    emit=lambda p, ins: f"nn.Dropout2d(p={p['p']!r})",
    summary=lambda p: f"p={p['p']:g}",
))

register(LayerKind(
    name="Stochastic depth", category="Regularization", glyph="⤼", id_prefix="stochastic_depth",
    help="During training, drops a residual branch for random samples with probability p; nothing at test time.",
    teaching="Stochastic depth (also called drop path) is dropout for whole layers. Placed at the end of a "
             "residual branch, just before the Add, it sometimes switches the branch off for a sample, so that "
             "sample skips the block through its shortcut. Very deep networks (EfficientNet, ConvNeXt) train "
             "better with it; at test time every branch is used.",
    params=(ParamSpec("p", "float", 0.2, "Probability of dropping the branch for a sample during training.",
                      0.0, 1.0, label="Drop probability"),
            ParamSpec("mode", "choice", "row", "row: each sample decides for itself; batch: the whole batch at "
                      "once.", choices=("row", "batch"))),
    infer=lambda p, ins: ins[0],
    build=lambda p, ins: StochasticDepth(p["p"], p["mode"]),
    emit=lambda p, ins: f"StochasticDepth(p={p['p']!r}, mode={p['mode']!r})",
    emit_classes=(StochasticDepth,),
    summary=lambda p: f"p={p['p']:g}, {p['mode']}",
))
