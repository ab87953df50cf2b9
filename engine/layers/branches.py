"""Add and Concat: join branches (residual and inception-style networks)."""

from engine.fixes import insert_fix, params_fix
from engine.layers.common import fmt_shape
from engine.modules import Add, ChannelSlice, Concat
from engine.registry import LayerKind, ParamSpec, ShapeError, register


def _add_infer(p, ins):
    first = ins[0]
    for slot, shape in enumerate(ins[1:], start=1):
        if shape == first:
            continue
        fix = None
        if len(shape) == 3 and len(first) == 3 and shape[1] % first[1] == 0 and shape[2] % first[2] == 0 \
                and shape[1] // first[1] == shape[2] // first[2]:
            stride = shape[1] // first[1]
            fix = insert_fix("Conv2d", {"out_channels": first[0], "kernel_size": 1, "stride": stride}, slot,
                             f"Insert a 1×1 Conv2d ({first[0]} filters, stride {stride}) on input {slot + 1}")
        hint = "; insert a 1×1 Conv2d to match them" if fix else ""
        raise ShapeError(f"Add needs inputs of equal shape but receives {fmt_shape(first)} and "
                         f"{fmt_shape(shape)}{hint}", fix)
    return first


def _concat_infer(p, ins):
    ranks = {len(s) for s in ins}
    if len(ranks) > 1:
        raise ShapeError("Concat needs inputs of the same kind but receives " +
                         " and ".join(fmt_shape(s) for s in ins) + "; flatten all of them or none")
    if len(ins[0]) == 3:
        sizes = {s[1:] for s in ins}
        if len(sizes) > 1:
            raise ShapeError("Concat joins channels, so height and width must match, but receives " +
                             " and ".join(fmt_shape(s) for s in ins) + "; adjust stride or padding")
    return (sum(s[0] for s in ins),) + tuple(ins[0][1:])


register(LayerKind(
    name="Add", category="Branches", glyph="⊕",
    help="Adds its inputs element by element (residual connections); shapes must match.",
    teaching="Add sums two tensors of the same shape. In a residual network the input of a block is added "
             "to its output, so the block only has to learn a correction, and gradients flow straight "
             "through the shortcut.",
    params=(), min_inputs=2, max_inputs=None, infer=_add_infer,
    build=lambda p, ins: Add(), emit=lambda p, ins: "Add()",
    emit_forward=lambda args: " + ".join(args),
))

register(LayerKind(
    name="Concat", category="Branches", glyph="⧺",
    help="Stacks its inputs along the channels; heights and widths must match.",
    teaching="Concat places the feature maps of several branches side by side as more channels. "
             "Inception blocks use it to combine 1×1, 3×3 and 5×5 convolutions of the same input.",
    params=(), min_inputs=2, max_inputs=None, infer=_concat_infer,
    build=lambda p, ins: Concat(), emit=lambda p, ins: "Concat()",
    emit_forward=lambda args: f"torch.cat([{', '.join(args)}], dim=1)",
))


def _slice_infer(p, ins):
    (shape,) = ins
    start, stop = p["start"], p["stop"]
    if stop <= start:
        raise ShapeError(f"Channel slice keeps channels {start} to {stop - 1}, which is none; make stop larger "
                         f"than start")
    if stop > shape[0]:
        raise ShapeError(f"Channel slice keeps channels up to {stop - 1}, but its input has only {shape[0]} "
                         f"({fmt_shape(shape)}); set stop to at most {shape[0]}",
                         params_fix(f"Set stop to {shape[0]}", {"stop": shape[0]}))
    return (stop - start,) + tuple(shape[1:])


register(LayerKind(
    name="Channel slice", category="Branches", glyph="⫼", id_prefix="channel_slice",
    help="Keeps a range of channels (start to stop - 1) of its input: x[:, start:stop].",
    teaching="A channel slice takes some of the feature maps and leaves the others. ShuffleNet splits its "
             "input in two halves this way: one half goes through the block, the other straight on, and a "
             "Concat joins them again. It has no weights.",
    params=(ParamSpec("start", "int", 0, "The first channel kept (counting from 0).", 0, 1 << 20),
            ParamSpec("stop", "int", 1, "One past the last channel kept.", 1, 1 << 20)),
    infer=_slice_infer,
    build=lambda p, ins: ChannelSlice(p["start"], p["stop"]),
    emit=lambda p, ins: f"ChannelSlice({p['start']}, {p['stop']})",
    emit_classes=(ChannelSlice,),
    summary=lambda p: f"[{p['start']}:{p['stop']}]",
))
