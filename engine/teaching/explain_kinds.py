"""Dedicated explainers per layer kind: `EXPLAINERS` maps a registry name to a function (Subject) -> [Section].

Sliding-window kinds live in explain_windows.py. Any kind missing here still gets the generic explanation
(at a glance, settings) that engine.teaching.explain builds from the registry.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.teaching import explain_decoder as decoder
from engine.teaching import explain_norms as norms
from engine.teaching import explain_windows as windows
from engine.teaching.explain import (Fact, Formula, Section, Subject, Text, checked, number_text, percent, plural,
                                     shape_text, value_text)

if TYPE_CHECKING:
    from engine.registry import LayerKind

# The rule each element-wise activation applies (others are explained from their registry text only).
ACTIVATION_RULES = {
    "ReLU": "ReLU(x) = max(0, x)", "ReLU6": "ReLU6(x) = min(max(0, x), 6)",
    "LeakyReLU": "LeakyReLU(x) = x if x > 0, else slope·x", "Sigmoid": "σ(x) = 1 / (1 + e^(−x))",
    "Tanh": "tanh(x) = (e^x − e^(−x)) / (e^x + e^(−x))", "GELU": "GELU(x) = x·Φ(x)", "SiLU": "SiLU(x) = x·σ(x)",
    "ELU": "ELU(x) = x if x > 0, else α·(e^x − 1)", "Hardswish": "Hardswish(x) = x·min(max(x + 3, 0), 6) / 6",
    "Hardsigmoid": "Hardsigmoid(x) = min(max(x / 6 + 1/2, 0), 1)",
}
MAX_LISTED = 12


def activation(s: Subject) -> list:
    name = s.kind.name
    lines = [Text(ACTIVATION_RULES[name])] if name in ACTIVATION_RULES else []
    lines.append(Text("It works on every value separately: the shape stays the same and there is nothing to learn."))
    x, y = s.context.input, s.context.output
    if y is None:
        lines.append(Text(s.context.missing_probe_text, "muted"))
        return [Section("What it does", tuple(lines))]
    y = np.asarray(y)
    if x is not None and np.shape(x) == y.shape and y.size:
        flat_x, flat_y = np.asarray(x).ravel(), y.ravel()
        lo, hi = int(np.argmin(flat_x)), int(np.argmax(flat_x))
        lines.append(Text(f"On the probe image: {name}({value_text(float(flat_x[lo]))}) = {value_text(float(flat_y[lo]))} "
                          f"and {name}({value_text(float(flat_x[hi]))}) = {value_text(float(flat_y[hi]))}."))
    return [Section("What it does", tuple(lines)), zero_section(s, y)]


def zero_section(s: Subject, y: np.ndarray) -> Section:
    zeros, total = int(np.count_nonzero(y == 0)), int(y.size)
    lines = [Text(f"How many of this layer's {number_text(total)} output values are exactly zero for the probe "
                  f"image ({s.context.weights_text}):"),
             Formula("Zero fraction", "zeros / values", f"{zeros} / {total}", zeros / total if total else 0.0,
                     percent(zeros / total) if total else "0 %", ("zero_fraction",))]
    if y.ndim == 3:
        dead = [int(c) for c in np.flatnonzero(~y.reshape(y.shape[0], -1).any(axis=1))]
        unit = "channel"
    else:
        dead = [int(c) for c in np.flatnonzero(y.reshape(-1) == 0)] if y.ndim == 1 else []
        unit = "feature"
    listed = ", ".join(f"#{c}" for c in dead[:MAX_LISTED]) + (" …" if len(dead) > MAX_LISTED else "")
    lines.append(Fact(f"Dead {unit}s (zero everywhere on this image)", f"{len(dead)}" + (f": {listed}" if dead else ""),
                      "dead_units", tuple(dead)))
    if dead:
        lines.append(Text(f"A {unit} that is zero everywhere passes no signal and, behind a ReLU, gets no gradient: if it "
                          f"stays zero for other images too it is a dead unit. A lower learning rate, LeakyReLU or "
                          f"BatchNorm before the activation usually brings such units back.", "warning"))
    return Section("Zeros on the probe image", tuple(lines))


def dropout(s: Subject) -> list:
    rate = s.p["p"]
    whole = "whole channels (feature maps)" if s.kind.name == "Dropout2d" else "single values"
    lines = [Text(f"In training mode it zeroes {whole} at random, each with probability p = {rate:g}, and a new "
                  f"choice is made at every step. In evaluation mode (testing, feature maps, predictions) it passes "
                  f"everything through unchanged.")]
    if rate < 1:
        lines.append(Formula("Kept values are scaled up by", "1 / (1 − p)", f"1 / (1 − {rate!r})", 1 / (1 - rate),
                             f"{1 / (1 - rate):.4g}×", ("scale",)))
        lines.append(Text("so the expected sum stays what the next layer will see at test time."))
        count = s.info.shape[0] if s.kind.name == "Dropout2d" else math.prod(s.info.shape)
        unit = "channels" if s.kind.name == "Dropout2d" else "values"
        lines.append(Formula(f"Kept per step, on average (of {number_text(count)} {unit})", "(1 − p)·N",
                             f"(1 − {rate!r})·{count}", (1 - rate) * count, f"{(1 - rate) * count:.4g} {unit}",
                             ("kept",)))
    else:
        lines.append(Text("p = 1 drops everything: in training the layer outputs only zeros and nothing before it "
                          "can learn. Use a rate such as 0.2–0.5.", "warning"))
    return [Section("Training versus evaluation", tuple(lines)), run_gap_section(s)]


def run_gap_section(s: Subject) -> Section:
    ctx = s.context
    metrics = ctx.epoch_metrics or {}
    train, val = list(metrics.get("train_accuracy") or []), list(metrics.get("val_accuracy") or [])
    heading = "Its effect in the last run"
    if not train:
        return Section(heading, (Text("Train the network (Train → Start) to see the gap between training and validation "
                                      "accuracy that dropout is meant to shrink.", "muted"),))
    t = float(train[-1])
    lines = [Text(f"{ctx.run_name or 'The last run'}" + ("" if ctx.run_is_current else
                                                        " (trained an earlier version of this design)") +
                  f", after {plural(len(train), 'epoch')}:")]
    v = float(val[-1]) if val else math.nan
    if math.isnan(v):
        lines.append(Fact("Training accuracy", percent(t), "train_accuracy", t))
        lines.append(Text("That run had no validation split, so the gap cannot be measured.", "muted"))
        return Section(heading, tuple(lines))
    gap = t - v
    lines.append(Formula("Train − validation accuracy", "acc_train − acc_val", f"{t:.4f} − {v:.4f}", gap,
                         f"{100 * gap:+.1f} points", ("accuracy_gap",)))
    if gap > 0.05:
        lines.append(Text("A large gap: the network memorises the training images (overfitting). More dropout, data "
                          "augmentation or a smaller network usually narrows it.", "warning"))
    else:
        lines.append(Text("A small gap: the network does about as well on images it never trained on. Training "
                          "accuracy is measured with dropout switched on, so it can even come out below validation.",
                          "good"))
    return Section(heading, tuple(lines))


def linear(s: Subject) -> list:
    info, fin, fout = s.info, s.in_shape[0], s.p["out_features"]
    bias = s.p["bias"]
    src = s.sources[0][0] if s.sources else None
    came = (f" Here {src.title} ({src.kind}) hands it {number_text(fin)} numbers."
            if src is not None else "")
    why = [Text("Every output neuron has its own weight for every single input value, so the layer treats its input "
                "as one list of numbers with a fixed length; feature maps must be unrolled by Flatten first, and "
                "their spatial layout is lost." + came)]
    params = checked(Formula("Parameters", "(F_in + 1)·F_out" if bias else "F_in·F_out",
                             f"({fin} + 1)·{fout}" if bias else f"{fin}·{fout}", (fin + int(bias)) * fout,
                             keys=("params",)), info.params)
    params += checked(Formula("Multiply-adds", "F_in·F_out", f"{fin}·{fout}", fin * fout, keys=("macs",)), info.macs)
    total = s.analysis.total_params
    if total:
        params.append(Formula("Share of the whole network", "P_layer / P_total", f"{info.params} / {total}",
                              info.params / total, percent(info.params / total), ("share",)))
        if info.params > total / 2:
            params.append(Text("More than half of all parameters sit in this one layer. Pooling more before Flatten "
                               "(a smaller F_in) or global average pooling instead shrinks it a lot.", "warning"))
    return [Section("Why it needs a flat input", tuple(why)), Section("Parameters", tuple(params))]


def pointwise_linear(s: Subject) -> list:
    info, (c, h, w), fout = s.info, s.in_shape, s.p["out_features"]
    bias = s.p["bias"]
    lines = [Text(f"At each of the {h}×{w} positions it takes that position's {c} channel values as one short list, "
                  f"and computes {fout} weighted sums of them, the same weights everywhere. That is a fully "
                  f"connected layer per pixel, and exactly a 1×1 convolution: nothing mixes neighbouring pixels.")]
    lines += checked(Formula("Parameters", "(C_in + 1)·C_out" if bias else "C_in·C_out",
                             f"({c} + 1)·{fout}" if bias else f"{c}·{fout}", (c + int(bias)) * fout,
                             keys=("params",)), info.params)
    lines += checked(Formula("Multiply-adds", "C_in·C_out·H·W", f"{c}·{fout}·{h}·{w}", c * fout * h * w,
                             keys=("macs",)), info.macs)
    return [Section("A Linear layer at every position", tuple(lines))]


def flatten(s: Subject) -> list:
    shape, out = s.in_shape, s.info.shape
    if len(shape) != 3:
        return [Section("Unrolling", (Text(f"Its input is already flat ({shape_text(shape)}); Flatten changes nothing."),))]
    c, h, w = shape
    lines = [Text(f"Lays the {c} feature maps of {h}×{w} out one after the other in a single row of numbers, so a "
                  f"fully connected layer can take them. Which value sat next to which is forgotten from here on.")]
    lines += checked(Formula("Features", "C·H·W", f"{c}·{h}·{w}", c * h * w, keys=("features",)), out[0])
    return [Section("Unrolling", tuple(lines))]


def batchnorm(s: Subject) -> list:
    shape, affine = s.in_shape, s.p["affine"]
    c = shape[0]
    per = "channel (over the batch, height and width)" if len(shape) == 3 else "feature (over the batch)"
    lines = [Text(f"For each {per} it subtracts the mean and divides by the spread, then applies a learned scale γ and "
                  f"shift β, so the values reaching the next layer keep a steady range while training goes on."),
             Formula("", "y = γ·(x − mean) / √(variance + ε) + β", "", None)]
    if affine:
        lines += checked(Formula("Learned parameters (γ and β per channel)", "2·C", f"2·{c}", 2 * c,
                                 keys=("params",)), s.info.params)
    else:
        lines.append(Fact("Learned parameters", "0 (affine is off: no γ and β)", "params", 0))
    lines.append(Formula("Running statistics (mean and variance, not learned)", "2·C", f"2·{c}", 2 * c,
                         keys=("running",)))
    m = s.p["momentum"]
    modes = [Text("Training: normalises with the statistics of the current batch and updates the running averages:"),
             Formula("", f"running ← (1 − m)·running + m·batch, m = {m:g}", "", None),
             Text("Evaluation: uses the running averages instead, so one image gives the same answer whatever batch it "
                  "comes in.")]
    return [Section("Normalise, then rescale", tuple(lines)), Section("Training versus evaluation", tuple(modes))]


def add(s: Subject) -> list:
    lines = [Fact(f"Input {i + 1} from {src.title}", shape_text(info.shape), f"add_in_{i}", info.shape)
             for i, (src, info) in enumerate(s.sources)]
    lines.append(Text(f"All inputs have the same shape, so they add value by value into {shape_text(s.info.shape)}. "
                      f"Different shapes would be refused: put a 1×1 Conv2d (with a stride) on the shortcut to match."))
    xs = [np.asarray(x) for x in s.context.inputs if x is not None]
    if len(xs) == len(s.sources) and len(xs) > 1:
        for i, x in enumerate(xs):
            lines.append(Fact(f"Probe image: mean |x| of input {i + 1}", value_text(float(np.mean(np.abs(x)))),
                              f"mean_abs_{i}", float(np.mean(np.abs(x)))))
    residual = [Text("In a residual block one input is the block's own input (the shortcut) and the other what the "
                     "block computed, so the block only has to learn a correction to what it receives."),
                Text("The gradient of a sum is 1 for every input: during training the error signal flows back through "
                     "the shortcut unchanged, a highway that lets very deep networks still learn.")]
    return [Section("Shapes must match", tuple(lines)), Section("Residual connection", tuple(residual))]


def concat(s: Subject) -> list:
    sizes = [info.shape[0] for _, info in s.sources]
    lines = [Fact(f"Input {i + 1} from {src.title}", shape_text(info.shape), f"concat_in_{i}", info.shape)
             for i, (src, info) in enumerate(s.sources)]
    unit = "channels" if len(s.info.shape) == 3 else "features"
    names = " + ".join(f"C{_sub(i + 1)}" for i in range(len(sizes)))
    lines += checked(Formula(f"Output {unit}", names, " + ".join(map(str, sizes)), sum(sizes), keys=("channels",)),
                     s.info.shape[0])
    if len(s.info.shape) == 3:
        lines.append(Text(f"The maps are stacked side by side; height and width ({s.info.shape[1]}×{s.info.shape[2]}) "
                          f"must match. An Inception block concatenates 1×1, 3×3 and 5×5 convolutions of the same "
                          f"input, so the next layer sees patterns of several sizes at once."))
    skip = skip_connection_section(s)
    return [Section("Channels add up", tuple(lines))] + ([skip] if skip else [])


UPSAMPLING_KINDS = ("Upsample", "ConvTranspose2d")


def skip_connection_section(s: Subject) -> Section | None:
    """A join of a decoder's upsampled maps with an encoder's maps of the same size (U-Net's skip connection):
    one input sees little of the image but knows where, the other sees much but has lost where."""
    fields = [(src, info.receptive_field) for src, info in s.sources if info.receptive_field and len(info.shape) == 3]
    if len(fields) < 2 or not _upsampled_before(s.graph, s.spec.id):
        return None
    (fine, small), (coarse, large) = min(fields, key=lambda f: f[1][0]), max(fields, key=lambda f: f[1][0])
    if large[0] < 2 * small[0]:
        return None
    lines = [Text(f"{fine.title} sees {small[0]}×{small[1]} pixels of the image per value; {coarse.title}, which "
                  f"comes up through upsampling, sees {large[0]}×{large[1]}."),
             Text("This is a skip connection, as in U-Net: the decoder's maps know what is in the image (they have "
                  "seen a lot of it) but lost exactly where when the encoder shrank the maps; the encoder's maps "
                  "of the same size still know where. Joined, the layers after can draw sharp outlines of what "
                  "they recognise. Without them a decoder's masks come out blurred.")]
    return Section("A skip connection", tuple(lines))


def _upsampled_before(graph, node_id: str) -> bool:
    seen, pending = set(), [node_id]
    while pending:
        nid = pending.pop()
        for edge in graph.in_edges(nid):
            if edge.source not in seen:
                seen.add(edge.source)
                if graph.node(edge.source).kind in UPSAMPLING_KINDS:
                    return True
                pending.append(edge.source)
    return False


def input_layer(s: Subject) -> list:
    c, h, w = s.info.shape
    lines = [Text(f"{plural(c, 'channel')}: " + ("a grey image." if c == 1 else "red, green and blue." if c == 3 else
                                        "one plane per channel.") + f" Images of another size are resized to "
                  f"{h}×{w} when a data set is loaded."),
             Formula("Numbers per image", "C·H·W", f"{c}·{h}·{w}", c * h * w, keys=("values",))]
    return [Section("What goes in", tuple(lines))]


def output_layer(s: Subject) -> list:
    classes = s.p["classes"]
    if s.p.get("task") == "segmentation":
        return _segmentation_output(s, classes)
    lines = [Text(f"The network ends with {classes} scores (logits), one per class. The cross-entropy loss turns them "
                  f"into probabilities with softmax and pushes the right class's probability up; the highest score "
                  f"is the prediction.")]
    x = s.context.input
    if x is not None and np.ndim(x) == 1 and len(x) == classes:
        z = np.asarray(x, dtype=np.float64)
        prob = np.exp(z - z.max())
        prob /= prob.sum()
        k = int(np.argmax(z))
        lines.append(Fact("Probe image", f"class {k} has the highest score ({value_text(float(z[k]))}), probability "
                          f"{percent(float(prob[k]))} ({s.context.weights_text})", "predicted", k))
    return [Section("Class scores", tuple(lines))]


def _segmentation_output(s: Subject, classes: int) -> list:
    lines = [Text(f"The network ends with {classes} score maps, one per class, as large as the input: every pixel "
                  f"gets {classes} scores. The cross-entropy loss works pixel by pixel, so the network learns to "
                  f"label each pixel; the class with the highest score at a pixel is its predicted label. Pooling "
                  f"and strides shrink the maps, so segmentation networks grow them back (Upsample, transposed "
                  f"convolution) and bring in sharp detail from early layers through skip connections (Concat).")]
    x = s.context.input
    if x is not None and np.ndim(x) == 3 and len(x) == classes:
        labels = np.asarray(x, dtype=np.float64).argmax(axis=0)
        shares = np.bincount(labels.ravel(), minlength=classes) / labels.size
        top = int(np.argmax(shares))
        lines.append(Fact("Probe image", f"{percent(float(shares[top]))} of its pixels are labelled class {top} "
                          f"({s.context.weights_text})", "predicted", top))
    return [Section("Score maps", tuple(lines))]


def softmax(s: Subject) -> list:
    lines = [Formula("", "p_i = e^(z_i) / Σ_j e^(z_j)", "", None),
             Text("Every output is positive and they sum to 1 (over the channels at each position, or over the "
                  "features), so they read as probabilities. The largest score gets the largest share.")]
    y = s.context.output
    if y is not None and np.ndim(y) == 1 and len(y):
        y = np.asarray(y, dtype=np.float64)
        lines.append(Fact("Probe image", f"sum = {float(y.sum()):.4f}, largest {percent(float(y.max()))} "
                          f"(entry #{int(np.argmax(y))})", "softmax_sum", float(y.sum())))
    return [Section("Scores into probabilities", tuple(lines))]


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


EXPLAINERS = {
    "Conv2d": windows.conv2d, "NiN block": windows.nin_block, "MaxPool2d": windows.window_pool,
    "AvgPool2d": windows.window_pool, "Global average pool": windows.global_avg_pool,
    "Dropout": dropout, "Dropout2d": dropout, "Linear": linear, "Flatten": flatten,
    "Pointwise linear": pointwise_linear,
    "BatchNorm2d": batchnorm, "BatchNorm1d": batchnorm, "Add": add, "Concat": concat,
    "Input": input_layer, "Output": output_layer, "Softmax": softmax,
    "ConvTranspose2d": decoder.conv_transpose, "Upsample": decoder.upsample,
    "LayerNorm": norms.layer_norm, "GroupNorm": norms.group_norm, "Layer scale": norms.layer_scale,
}


def explainer_for(kind: LayerKind) -> Callable[[Subject], list] | None:
    """The dedicated explainer of `kind`, or None (generic explanation only). Every element-wise activation,
    including kinds registered later, shows its zeros and dead units."""
    found = EXPLAINERS.get(kind.name)
    if found is None and kind.category == "Activation":
        return activation
    return found
