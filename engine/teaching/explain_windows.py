"""Explainers for the sliding-window layers: Conv2d (and 1×1 convolutions), the NiN block, max/average
pooling and global average pooling. The arithmetic is written out with the node's numbers and checked
against the analysis (engine.teaching.explain.checked)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.teaching.explain import (Fact, Formula, Grid, Section, Subject, Text, checked, number_text, percent,
                                     plural, value_text)

AXES = (("Height", "H", "h"), ("Width", "W", "w"))


def _axes(values_per_axis):
    """[(label, symbol, key suffixes, axis index)]: one entry when both axes have the same numbers."""
    if values_per_axis[0] == values_per_axis[1]:
        return [("Height and width", "W", ("h", "w"), 0)]
    return [(label, sym, (key,), i) for i, (label, sym, key) in enumerate(AXES)]


# ---- output size ---------------------------------------------------------------------------------------
def size_formula(label: str, sym: str, n: int, k: int, st: int, pd: int, d: int = 1, ceil: bool = False,
                 keys: tuple = ()) -> tuple[Formula, bool]:
    """The output length of a k-wide window over n values, written the way PyTorch computes it."""
    if d == 1:
        inner_sym, inner = f"{sym} − K + 2P", f"{n} − {k} + 2·{pd}"
    else:
        inner_sym, inner = f"{sym} + 2P − D·(K − 1) − 1", f"{n} + 2·{pd} − {d}·({k} − 1) − 1"
    span = n + 2 * pd - d * (k - 1) - 1
    if not ceil:
        return Formula(label, f"⌊({inner_sym}) / S⌋ + 1", f"⌊({inner}) / {st}⌋ + 1", span // st + 1, keys=keys), False
    out = -(-span // st) + 1
    dropped = (out - 1) * st >= n + pd   # PyTorch drops a last window that would start in the padding
    tail = " − 1" if dropped else ""
    return Formula(label, f"⌈({inner_sym}) / S⌉ + 1{tail}", f"⌈({inner}) / {st}⌉ + 1{tail}",
                   out - (1 if dropped else 0), keys=keys), dropped


def output_size_section(s: Subject, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                        dilation: Sequence[int] = (1, 1), ceil: bool = False) -> Section:
    _, h, w = s.in_shape
    out = s.info.shape
    lines = [Text(f"The {kernel[0]}×{kernel[1]} window slides over the {h}×{w} input in steps of S = "
                  f"{_pair(stride)}, with P = {_pair(padding)} {'zero' if padding == (1, 1) else 'zeros'} of padding on each side; every place it "
                  f"stops becomes one output value." + (" D is the dilation (gap between kernel taps)."
                                                        if dilation != (1, 1) else ""))]
    per_axis = [((h, w)[i], kernel[i], stride[i], padding[i], dilation[i]) for i in (0, 1)]
    any_dropped = False
    for label, sym, suffixes, i in _axes(per_axis):
        n, k, st, pd, d = per_axis[i]
        formula, dropped = size_formula(label, sym, n, k, st, pd, d, ceil, tuple(f"out_{x}" for x in suffixes))
        any_dropped |= dropped
        lines += checked(formula, out[1 + i])
    if ceil:
        lines.append(Text("Ceil mode rounds up, keeping a last partial window" + (
            "; PyTorch then drops a window that would start inside the padding (the − 1)." if any_dropped else ".")))
    if len(out) == 3:
        lines.append(Text(f"Output: {plural(out[0], 'feature map')} of {out[1]}×{out[2]}."))
    return Section("Output size", tuple(lines))


def same_padding_section(s: Subject) -> Section:
    p, (_, h, w) = s.p, s.in_shape
    kernel, dil, stride = p["kernel_size"], p["dilation"], p["stride"]
    lines = [Text("'Same' padding adds just enough zeros around the border that, at stride 1, the output keeps "
                  "the input's height and width: there is a window centred on every input pixel.")]
    per_axis = [(kernel[i], dil[i]) for i in (0, 1)]
    resolved = []
    for label, _sym, suffixes, i in _axes(per_axis):
        k, d = per_axis[i]
        total = d * (k - 1)
        lines.append(Formula(f"{label}: zeros needed", "P_total = D·(K − 1)", f"{d}·({k} − 1)", total,
                             keys=tuple(f"same_total_{x}" for x in suffixes)))
    for i in (0, 1):
        total = dil[i] * (kernel[i] - 1)
        resolved.append((total // 2, total - total // 2))   # PyTorch puts the smaller half first
    (top, bottom), (left, right) = resolved
    uneven = top != bottom or left != right
    lines.append(Fact("Padding it resolves to", f"{top} on top, {bottom} at the bottom, {left} left, {right} right"
                      + (" (uneven: PyTorch puts the smaller half first)" if uneven else ""),
                      "same_padding", ((top, bottom), (left, right))))
    if p["padding"] == "same":
        lines.append(Text(f"This layer uses 'same', so its {h}×{w} input gives a {h}×{w} output."))
        for label, sym, suffixes, i in _axes([(h, top, bottom, kernel[0], dil[0]), (w, left, right, kernel[1], dil[1])]):
            n, lo, hi = (h, top, bottom) if i == 0 else (w, left, right)
            keff = dil[i] * (kernel[i] - 1) + 1
            lines += checked(Formula(label, f"⌊({sym} + P_before + P_after − K) / 1⌋ + 1",
                                     f"⌊({n} + {lo} + {hi} − {keff}) / 1⌋ + 1", n + lo + hi - keff + 1,
                                     keys=tuple(f"out_{x}" for x in suffixes)), s.info.shape[1 + i])
    elif stride != (1, 1):
        lines.append(Text(f"PyTorch allows 'same' only at stride 1; with stride {_pair(stride)} the output is meant "
                          f"to shrink, so the padding is set explicitly here."))
    elif tuple(p["padding"]) == (top, left) and not uneven:
        lines.append(Text(f"The padding here, {_pair(p['padding'])}, is exactly what 'same' would choose."))
    else:
        lines.append(Text(f"With padding {_pair(p['padding'])} the output is {s.info.shape[1]}×{s.info.shape[2]}; "
                          f"'same' would keep {h}×{w}."))
    return Section("What 'same' padding means here", tuple(lines))


# ---- receptive field ------------------------------------------------------------------------------------
def receptive_section(s: Subject, kernel: Sequence[int], stride: Sequence[int]) -> Section | None:
    sources = s.sources
    if len(sources) != 1 or sources[0][1].receptive_field is None or s.info.receptive_field is None:
        return None
    rf_in, j_in = sources[0][1].receptive_field, sources[0][1].jump
    rf, jump = s.info.receptive_field, s.info.jump
    lines = [Text(f"The receptive field is the patch of the input image one value can see. Each value of the layer "
                  f"before sees {rf_in[0]}×{rf_in[1]} pixels and its neighbours are J_in = {_pair(j_in)} "
                  f"{'pixel' if j_in == (1, 1) else 'pixels'} apart in the image, so a {kernel[0]}×{kernel[1]} window reaches (K − 1) steps of J_in further.")]
    per_axis = [(rf_in[i], j_in[i], kernel[i], stride[i]) for i in (0, 1)]
    for label, _sym, suffixes, i in _axes(per_axis):
        r0, j0, k, st = per_axis[i]
        lines += checked(Formula(f"{label}: receptive field", "RF = RF_in + (K − 1)·J_in", f"{r0} + ({k} − 1)·{j0}",
                                 r0 + (k - 1) * j0, keys=tuple(f"rf_{x}" for x in suffixes)), rf[i])
        lines += checked(Formula(f"{label}: jump", "J = J_in·S", f"{j0}·{st}", j0 * st,
                                 keys=tuple(f"jump_{x}" for x in suffixes)), jump[i])
    image = s.image_size
    lines.append(Text(f"So one value here depends on a {rf[0]}×{rf[1]} patch of the {image[0]}×{image[1]} image, "
                      f"and one step in this feature map is {_pair(jump)} {'pixel' if jump == (1, 1) else 'pixels'} in the image."
                      + (" The patch is bigger than the image near the borders: part of it falls on padding."
                         if rf[0] > image[0] or rf[1] > image[1] else "")))
    return Section("Receptive field", tuple(lines))


# ---- Conv2d ---------------------------------------------------------------------------------------------
def conv2d(s: Subject) -> list:
    p = s.p
    keff = tuple(d * (k - 1) + 1 for k, d in zip(p["kernel_size"], p["dilation"]))
    size = (same_padding_section(s),) if p["padding"] == "same" else (
        output_size_section(s, p["kernel_size"], p["stride"], p["padding"], p["dilation"]), same_padding_section(s))
    out = list(size) + [conv_params_section(s)]
    if tuple(p["kernel_size"]) == (1, 1):
        out.append(one_by_one_section(s))
    out.append(receptive_section(s, keff, p["stride"]))
    return out


def conv_params_section(s: Subject) -> Section:
    p, info = s.p, s.info
    (kh, kw), g, cin, cout = p["kernel_size"], p["groups"], s.in_shape[0], p["out_channels"]
    bias = 1 if p["bias"] else 0
    per_filter = kh * kw * cin // g
    group_sym, group_sub = (" / groups", f" / {g}") if g > 1 else ("", "")
    lines = [Text(f"Each of the {cout} filters has one weight per value under its window: {kh}·{kw}·{cin}"
                  f"{group_sub} = {per_filter} weights" + (", plus one bias." if bias else " (no bias)."))]
    lines += checked(Formula("Parameters", f"(K·K·C_in{group_sym}{' + 1' if bias else ''})·C_out",
                             f"({kh}·{kw}·{cin}{group_sub}{' + 1' if bias else ''})·{cout}",
                             (per_filter + bias) * cout, keys=("params",)), info.params)
    _, ho, wo = info.shape
    lines += checked(Formula("Multiply-adds", f"H_out·W_out·C_out·K·K·C_in{group_sym}",
                             f"{ho}·{wo}·{cout}·{kh}·{kw}·{cin}{group_sub}", ho * wo * cout * kh * kw * cin // g,
                             keys=("macs",)), info.macs)
    lines.append(Text("The same few weights slide over every position, which is why a convolution needs far "
                      "fewer parameters than a fully connected layer with as many outputs.", "muted"))
    return Section("Parameters", tuple(lines))


def one_by_one_section(s: Subject) -> Section:
    p, info = s.p, s.info
    cin, cout, g = s.in_shape[0], p["out_channels"], p["groups"]
    bias = 1 if p["bias"] else 0
    _, ho, wo = info.shape
    group_sub = f" / {g}" if g > 1 else ""
    p3 = (9 * cin // g + bias) * cout
    lines = [Text(f"A 1×1 convolution looks at one pixel at a time: at each of the {ho}·{wo} positions it takes the "
                  f"{cin} channel values there and computes {cout} weighted sums of them. It is a fully connected "
                  f"layer from {cin} to {cout} features, applied at every pixel with the same weights."),
             Formula("A 3×3 layer of the same width", f"(3·3·C_in{' / groups' if g > 1 else ''}"
                     f"{' + 1' if bias else ''})·C_out", f"(3·3·{cin}{group_sub}{' + 1' if bias else ''})·{cout}",
                     p3, keys=("params_3x3",))]
    if info.params:
        lines.append(Formula("Saving", "P_3×3 − P_1×1", f"{p3} − {info.params}", p3 - info.params,
                             f"{number_text(p3 - info.params)} fewer parameters ({p3 / info.params:.1f}× fewer)",
                             ("saving",)))
    return Section("A 1×1 convolution (Network in Network)", tuple(lines))


# ---- NiN block --------------------------------------------------------------------------------------------
def nin_block(s: Subject) -> list:
    p, info = s.p, s.info
    (kh, kw), cin = p["kernel_size"], s.in_shape[0]
    c1, c2, cout = p["channels"], p["mlp_channels"], p["out_channels"]
    _, ho, wo = info.shape
    params = [Text(f"Three convolutions, each with a bias: {kh}×{kw} from {cin} to {c1} channels, then 1×1 from {c1} "
                   f"to {c2}, then 1×1 from {c2} to {cout}.")]
    params += checked(Formula("Parameters", "(K·K·C_in + 1)·C₁ + (C₁ + 1)·C₂ + (C₂ + 1)·C_out",
                              f"({kh}·{kw}·{cin} + 1)·{c1} + ({c1} + 1)·{c2} + ({c2} + 1)·{cout}",
                              (kh * kw * cin + 1) * c1 + (c1 + 1) * c2 + (c2 + 1) * cout, keys=("params",)), info.params)
    params += checked(Formula("Multiply-adds", "H_out·W_out·(C_in·C₁·K·K + C₁·C₂ + C₂·C_out)",
                              f"{ho}·{wo}·({cin}·{c1}·{kh}·{kw} + {c1}·{c2} + {c2}·{cout})",
                              ho * wo * (cin * c1 * kh * kw + c1 * c2 + c2 * cout), keys=("macs",)), info.macs)
    one = (c1 + 1) * c2 + (c2 + 1) * cout
    wide = (kh * kw * c1 + 1) * c2 + (kh * kw * c2 + 1) * cout
    mlp = [Text(f"The two 1×1 convolutions are a small fully connected network ({c1} → {c2} → {cout}) applied at "
                f"every pixel: they mix the channels at one position without looking at its neighbours."),
           Formula("The two 1×1 layers", "(C₁ + 1)·C₂ + (C₂ + 1)·C_out", f"({c1} + 1)·{c2} + ({c2} + 1)·{cout}", one,
                   keys=("params_1x1",)),
           Formula(f"As {kh}×{kw} layers of the same width", "(K·K·C₁ + 1)·C₂ + (K·K·C₂ + 1)·C_out",
                   f"({kh}·{kw}·{c1} + 1)·{c2} + ({kh}·{kw}·{c2} + 1)·{cout}", wide, keys=("params_kxk",)),
           Formula("Saving", "P_k×k − P_1×1", f"{wide} − {one}", wide - one,
                   f"{number_text(wide - one)} fewer parameters ({wide / one:.1f}× fewer)", ("saving",))]
    return [output_size_section(s, p["kernel_size"], p["stride"], p["padding"]), Section("Parameters", tuple(params)),
            Section("1×1 convolutions: a per-pixel fully connected layer", tuple(mlp)),
            receptive_section(s, p["kernel_size"], p["stride"])]


# ---- pooling ----------------------------------------------------------------------------------------------
def window_pool(s: Subject) -> list:
    p, info = s.p, s.info
    _, h, w = s.in_shape
    _, ho, wo = info.shape
    robust = [Text(f"Move the strongest value anywhere inside a {p['kernel_size'][0]}×{p['kernel_size'][1]} window and "
                   f"{'the max' if s.kind.name == 'MaxPool2d' else 'the average'} hardly changes: the layer forgets "
                   f"exactly where in the window a feature was, and in exchange its output barely moves when the "
                   f"object in the image shifts by a pixel or two. It has no weights to learn."),
              Formula("Positions kept", "(H_out·W_out) / (H·W)", f"({ho}·{wo}) / ({h}·{w})", ho * wo / (h * w),
                      f"{percent(ho * wo / (h * w))} of the positions", ("kept",))]
    return [output_size_section(s, p["kernel_size"], p["stride"], p["padding"], ceil=p["ceil_mode"]),
            pool_window_section(s), Section("Position traded for robustness", tuple(robust)),
            receptive_section(s, p["kernel_size"], p["stride"])]


def pick_window(x: np.ndarray, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                out_hw: Sequence[int]) -> tuple:
    """(channel, out_row, out_col) of the window that shows max and average pooling differ most, preferring
    windows that lie entirely inside the feature map (no padding cells)."""
    c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    rows = [i for i in range(out_hw[0]) if 0 <= i * sh - ph and i * sh - ph + kh <= h]
    cols = [j for j in range(out_hw[1]) if 0 <= j * sw - pw and j * sw - pw + kw <= w]
    if not rows or not cols:
        return int(np.argmax(x.reshape(c, -1).max(axis=1))), 0, 0
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    chosen = windows[:, np.array(rows) * sh - ph][:, :, np.array(cols) * sw - pw]   # (C, rows, cols, kh, kw)
    score = chosen.max(axis=(-1, -2)) - chosen.mean(axis=(-1, -2))
    ci, ri, qi = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(ci), rows[ri], cols[qi]


def pool_window_section(s: Subject) -> Section:
    x, y = s.context.input, s.context.output
    heading = "Max versus average on a real window"
    if x is None or y is None or np.ndim(x) != 3 or np.ndim(y) != 3:
        return Section(heading, (Text("Max and average pooling are compared here on a window of the probe image's "
                                      "real feature map. " + s.context.missing_probe_text, "muted"),))
    p = s.p
    (kh, kw), (sh, sw), (ph, pw) = p["kernel_size"], p["stride"], p["padding"]
    x = np.asarray(x, dtype=np.float32)
    c, i, j = pick_window(x, (kh, kw), (sh, sw), (ph, pw), y.shape[1:])
    r0, c0 = i * sh - ph, j * sw - pw
    _, h, w = x.shape
    grid = tuple(tuple(float(x[c, r, q]) if 0 <= r < h and 0 <= q < w else None for q in range(c0, c0 + kw))
                 for r in range(r0, r0 + kh))
    real = np.array([v for row in grid for v in row if v is not None], dtype=np.float32)
    vmax, vmean = float(real.max()), float(real.mean())
    marked = next((ri, qi) for ri, row in enumerate(grid) for qi, v in enumerate(row) if v == vmax)
    lines = [Text(f"Feature map #{c} of the {x.shape[0]} coming in ({s.context.weights_text}), the window that gives "
                  f"output row {i}, column {j}: input rows {r0}–{r0 + kh - 1}, columns {c0}–{c0 + kw - 1} "
                  f"(counting from 0, like the feature-map tiles)"
                  + (" (cells marked 'pad' are padding)." if len(real) < kh * kw else ".")),
             Grid("Window values (the max is emphasised)", grid, (marked,), "window", (c, r0, c0, i, j)),
             Fact("Max", value_text(vmax), "window_max", vmax)]
    if len(real) <= 9:
        terms = value_text(float(real[0])) + "".join(
            f" − {value_text(-float(v))}" if v < 0 else f" + {value_text(float(v))}" for v in real[1:])
        lines.append(Formula("Average", "(sum of the values) / count", f"({terms}) / {len(real)}", vmean,
                             value_text(vmean), ("window_mean",)))
    else:
        lines.append(Fact("Average", f"{value_text(vmean)} (mean of {len(real)} values)", "window_mean", vmean))
    out_value = float(y[c, i, j])
    lines.append(Fact("This layer's output there", value_text(out_value), "window_output", out_value))
    mine, other = ("max", "average") if s.kind.name == "MaxPool2d" else ("average", "max")
    mine_v, other_v = (vmax, vmean) if mine == "max" else (vmean, vmax)
    lines.append(Text(f"This layer takes the {mine}: {value_text(mine_v)}. {other.capitalize()} pooling would give "
                      f"{value_text(other_v)}: " + ("the max keeps only the strongest response, the average blends "
                                                   "all of them, so a single bright spot counts for less.")))
    return Section(heading, tuple(lines))


def global_avg_pool(s: Subject) -> list:
    c, h, w = s.in_shape
    lines = [Text(f"Each of the {c} feature maps ({h}×{w} values) is replaced by its average: ({c}, {h}, {w}) → ({c},). "
                  f"Where a feature appeared no longer matters, only how strongly it appeared overall."),
             Formula("Values averaged per channel", "H·W", f"{h}·{w}", h * w, keys=("per_channel",))]
    x, y = s.context.input, s.context.output
    if x is not None and y is not None and np.ndim(x) == 3:
        k = int(np.argmax(np.asarray(y)))
        lines += [Fact(f"Probe image, channel #{k} (the largest)", f"mean of its {h}×{w} values = "
                       f"{value_text(float(np.mean(x[k])))}", "channel_mean", float(np.mean(x[k]))),
                  Fact("This layer's output for it", value_text(float(y[k])), "channel_output", float(y[k]))]
    lines += [Formula(f"Flatten + Linear to {c} outputs instead", "(C·H·W + 1)·C", f"({c}·{h}·{w} + 1)·{c}",
                      (c * h * w + 1) * c, f"{number_text((c * h * w + 1) * c)} parameters",
                      ("linear_alternative",)),
              Text("Global average pooling has no parameters at all. Network in Network ends with as many channels as "
                   "classes and uses this layer instead of big fully connected layers, so each channel becomes the "
                   "score of one class and far fewer parameters can overfit.")]
    return [Section("One number per channel", tuple(lines))]


def _pair(p) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"{p[0]}×{p[1]}"
