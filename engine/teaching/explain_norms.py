"""Explainers for the normalisation kinds that work one image at a time (LayerNorm, GroupNorm) and for Layer
scale, with the layer's own numbers, checked against the analysis like every other explainer."""
from __future__ import annotations

import numpy as np

from engine.teaching.explain import Fact, Formula, Section, Subject, Text, checked, value_text

_RULE = Formula("", "y = γ·(x − mean) / √(variance + ε) + β", "", None)


def _affine_params(s: Subject, c: int) -> list:
    if s.p["affine"]:
        return checked(Formula("Learned parameters (γ and β per channel)", "2·C", f"2·{c}", 2 * c, keys=("params",)),
                       s.info.params)
    return [Fact("Learned parameters", "0 (affine is off: no γ and β)", "params", 0)]


def _per_image(text: str) -> Section:
    return Section("Not the batch: one image at a time", (
        Text(text),
        Text("Batch norm averages over the batch instead: with a batch of 2 its statistics are noisy, and at test "
             "time it switches to running averages. These statistics need no batch, so training and evaluation "
             "compute the same thing and there are no running averages to keep.")))


def layer_norm(s: Subject) -> list:
    shape = s.in_shape
    c = shape[0]
    if len(shape) == 3:
        where = (f"At each of the {shape[1]}·{shape[2]} = {shape[1] * shape[2]} positions it takes the {c} channel "
                 f"values there, shifts them to mean 0 and scales them to variance 1")
    else:
        where = f"It takes the {c} features of one image, shifts them to mean 0 and scales them to variance 1"
    lines = [Text(f"{where}, then applies a learned scale γ and shift β per channel."), _RULE,
             Formula("Values in one normalisation", "C", f"{c}", c, keys=("group_size",)), *_affine_params(s, c)]
    return [Section("Normalise each position's channels", tuple(lines)),
            _per_image("ConvNeXt uses layer norm where ResNet uses batch norm, one reason it trains well with the "
                       "small batches of large images.")]


def group_norm(s: Subject) -> list:
    c, h, w = s.in_shape
    g = s.p["groups"]
    per = c // g
    lines = [Text(f"It splits the {c} channels into {g} groups of {per} and normalises each group over its channels "
                  f"and all {h}×{w} positions, then applies a learned scale γ and shift β per channel."),
             _RULE,
             Formula("Channels per group", "C / G", f"{c} / {g}", per, keys=("per_group",)),
             Formula("Values in one normalisation", "(C / G)·H·W", f"{per}·{h}·{w}", per * h * w,
                     keys=("group_size",)),
             *_affine_params(s, c)]
    if g == 1:
        lines.append(Text("With one group it is layer norm over the whole feature map."))
    elif per == 1:
        lines.append(Text("With one channel per group it is instance norm: each channel on its own."))
    return [Section("Normalise groups of channels", tuple(lines)),
            _per_image("Detection and segmentation networks train on few large images per batch; group norm works "
                       "the same with a batch of 2 as with 256.")]


def layer_scale(s: Subject) -> list:
    c = s.in_shape[0]
    lines = [Text(f"It multiplies each of the {c} channels by its own learned number, which starts at "
                  f"{s.p['init']:g}."),
             Formula("", "y = γ_c·x", "", None),
             *checked(Formula("Learned parameters (one γ per channel)", "C", f"{c}", c, keys=("params",)),
                      s.info.params),
             Text("Placed at the end of a residual branch, a tiny starting γ means the block first passes its input "
                  "on almost unchanged through the shortcut; training turns each branch up as far as it helps.")]
    y = s.context.output
    x = s.context.input
    if x is not None and y is not None:
        gain = float(np.mean(np.abs(y))) / max(float(np.mean(np.abs(x))), 1e-12)
        lines.append(Fact("Probe image: mean |output| / mean |input|", value_text(gain), "gain", gain))
    return [Section("A learned volume knob per channel", tuple(lines))]
