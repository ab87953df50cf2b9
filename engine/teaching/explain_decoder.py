"""Explainers for the layers that enlarge feature maps (decoders): ConvTranspose2d and Upsample. As for the
sliding windows, the arithmetic is written out with the node's numbers and checked against the analysis."""
from __future__ import annotations

from fractions import Fraction

from engine.teaching.explain import Formula, Section, Subject, Text, checked, plural
from engine.teaching.explain_windows import _axes, _pair


def _size_section(s: Subject, lines: list, per_axis: list, symbolic: str, substitute, compute) -> Section:
    """`symbolic` names the input's side "H"; it reads "W" for the width."""
    for label, sym, suffixes, i in _axes(per_axis):
        values = per_axis[i]
        lines += checked(Formula(label, symbolic.replace("H", sym), substitute(*values), compute(*values),
                                 keys=tuple(f"out_{x}" for x in suffixes)), s.info.shape[1 + i])
    out = s.info.shape
    lines.append(Text(f"Output: {plural(out[0], 'feature map')} of {out[1]}×{out[2]}."))
    return Section("Output size", tuple(lines))


def _jump_text(j) -> str:
    return str(j) if isinstance(j, Fraction) else f"{j}"


def _receptive_section(s: Subject, seen, factor, how: str) -> Section | None:
    sources = s.sources
    if len(sources) != 1 or sources[0][1].receptive_field is None or s.info.receptive_field is None:
        return None
    src, info = sources[0][1], s.info
    if info.receptive_field == s.image_size and info.jump == s.image_size:
        return None   # already sees the whole image; nothing to work out
    rf_in, j_in = src.rf_exact or src.receptive_field, src.jump
    lines = [Text(f"{how} The map is S = {_pair(factor)} times larger, so neighbouring outputs are 1/S of the layer "
                  f"before's step apart: the jump J between them, in input pixels, shrinks.")]
    for label, _sym, suffixes, i in _axes([(rf_in[i], j_in[i], seen[i], factor[i]) for i in (0, 1)]):
        r0, j0, n, f = rf_in[i], j_in[i], seen[i], factor[i]
        lines += checked(Formula(f"{label}: jump", "J = J_in / S", f"{_jump_text(j0)} / {f}", Fraction(j0) / f,
                                 keys=tuple(f"jump_{x}" for x in suffixes)), info.jump[i])
        exact = r0 + (n - 1) * j0
        if exact == info.receptive_field[i]:
            lines += [Formula(f"{label}: receptive field", "RF = RF_in + (N − 1)·J_in",
                              f"{_jump_text(r0)} + ({n} − 1)·{_jump_text(j0)}", exact,
                              keys=tuple(f"rf_{x}" for x in suffixes))]
    rf = info.receptive_field
    lines.append(Text(f"So one value here sees at most {rf[0]}×{rf[1]} pixels of the image: enlarging a map adds "
                      f"positions, not sight."))
    return Section("Receptive field", tuple(lines))


def conv_transpose(s: Subject) -> list:
    p, info = s.p, s.info
    cin, (_, h, w) = s.in_shape[0], s.in_shape
    (kh, kw), g, cout = p["kernel_size"], p["groups"], p["out_channels"]
    size = [Text(f"Each of the {h}×{w} input positions stamps the {kh}×{kw} kernel, scaled by its value, onto the "
                 f"output, S = {_pair(p['stride'])} pixels apart from its neighbours' stamps; overlapping stamps add up. "
                 f"Then P = {_pair(p['padding'])} rows and columns are cut from each border, and the output padding "
                 f"OP = {_pair(p['output_padding'])} adds rows at the bottom and columns at the right.")]
    per_axis = [((h, w)[i], p["kernel_size"][i], p["stride"][i], p["padding"][i], p["dilation"][i],
                 p["output_padding"][i]) for i in (0, 1)]
    sections = [_size_section(
        s, size, per_axis, "(H − 1)·S − 2·P + D·(K − 1) + OP + 1",
        lambda n, k, st, pd, d, op: f"({n} − 1)·{st} − 2·{pd} + {d}·({k} − 1) + {op} + 1",
        lambda n, k, st, pd, d, op: (n - 1) * st - 2 * pd + d * (k - 1) + op + 1)]
    bias = 1 if p["bias"] else 0
    group_sub, group_sym = (f" / {g}", " / groups") if g > 1 else ("", "")
    params = [Text(f"Each of the {cin} input channels has a {kh}×{kw} kernel for every output channel of its group "
                   f"({cout}{group_sub}), plus {'one bias per output channel' if bias else 'no bias'}.")]
    per_group_sym, per_group = (f"(C_out{group_sym})", f"({cout}{group_sub})") if g > 1 else ("C_out", f"{cout}")
    params += checked(Formula("Parameters", f"C_in·{per_group_sym}·K·K{' + C_out' if bias else ''}",
                              f"{cin}·{per_group}·{kh}·{kw}{f' + {cout}' if bias else ''}",
                              cin * (cout // g) * kh * kw + bias * cout, keys=("params",)), info.params)
    params += checked(Formula("Multiply-adds", f"H·W·C_in·{per_group_sym}·K·K",
                              f"{h}·{w}·{cin}·{per_group}·{kh}·{kw}", h * w * cin * (cout // g) * kh * kw,
                              keys=("macs",)), info.macs)
    sections.append(Section("Parameters", tuple(params)))
    uneven = [k % st for k, st in zip(p["kernel_size"], p["stride"])]
    why = [Text("A decoder (FCN, U-Net) grows coarse feature maps back towards the image's size; a transposed "
                "convolution learns how to fill in the new pixels.")]
    if any(uneven):
        why.append(Text(f"Here K = {_pair(p['kernel_size'])} is not a multiple of S = {_pair(p['stride'])}, so "
                        f"neighbouring output pixels receive different numbers of stamps: the chequerboard pattern "
                        f"transposed convolutions are known for. A kernel that is a multiple of the stride, or "
                        f"Upsample followed by a Conv2d, avoids it."))
    else:
        why.append(Text(f"Here K = {_pair(p['kernel_size'])} is a multiple of S = {_pair(p['stride'])}, so every "
                        f"output pixel receives the same number of stamps and no chequerboard appears."))
    sections.append(Section("Learned upsampling", tuple(why)))
    seen = tuple(d * (k - 1) // st + 1 for k, st, d in zip(p["kernel_size"], p["stride"], p["dilation"]))
    sections.append(_receptive_section(s, seen, p["stride"], f"Each output value gathers from at most "
                                                            f"N = ⌊D·(K − 1) / S⌋ + 1 = {_pair(seen)} input positions."))
    return sections


def upsample(s: Subject) -> list:
    p = s.p
    (_, h, w), (fh, fw) = s.in_shape, p["scale_factor"]
    size = [Text(f"Every input pixel becomes a {fh}×{fw} block of output pixels; nothing is learned.")]
    sections = [_size_section(s, size, [(h, fh), (w, fw)], "H·f", lambda n, f: f"{n}·{f}", lambda n, f: n * f)]
    if p["mode"] == "nearest":
        how = [Text(f"Nearest: each output pixel copies the input pixel it falls on, so the map looks like the "
                    f"input with {fh}×{fw} blocks for pixels. Edges stay sharp but blocky.")]
        seen, text = (1, 1), "Each output value copies N = 1 input position."
    else:
        corners = (" With align corners, the corner pixels of input and output coincide and the rest is spread "
                   "evenly between them.") if p["align_corners"] else ""
        how = [Text(f"Bilinear: each output pixel blends the (up to) 2×2 input pixels around the place it falls on, "
                    f"weighted by how near each is, so the map grows smoothly.{corners}")]
        seen, text = (2, 2), "Each output value blends at most N = 2 input positions along each axis."
    how.append(Text("Upsampling then a Conv2d is a common alternative to a transposed convolution: the convolution "
                    "learns the detail, and the result has no chequerboard pattern.", "muted"))
    sections.append(Section("What it does", tuple(how)))
    sections.append(_receptive_section(s, tuple(seen[i] if p["scale_factor"][i] > 1 else 1 for i in (0, 1)),
                                       p["scale_factor"], text))
    return sections
