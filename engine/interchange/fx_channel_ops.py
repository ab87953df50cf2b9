"""Operations on channels that map to layer kinds: a channel shuffle (view, transpose(1, 2), view) becomes one
Channel shuffle layer, and ranges of channels (x[:, a:b], chunk, split) become Channel slice layers."""
from __future__ import annotations

import torch
from torch import fx

from engine.interchange.fx_basics import Alias, Mapped, NotMappable, arg_of, tensor_users


# ---- the channel shuffle: view (B, g, C/g, H, W) -> transpose(1, 2) -> [contiguous] -> view (B, C, H, W) ----

def _is_reshape(node) -> bool:
    return isinstance(node, fx.Node) and (node.target in ("view", "reshape") or node.target is torch.reshape)


def _is_swap_1_2(node) -> bool:
    """transpose(1, 2), or the same written as permute(0, 2, 1, 3, 4) (as ONNX files do)."""
    if not isinstance(node, fx.Node):
        return False
    if node.target == "permute" or node.target is torch.permute:
        dims = node.args[1:] if node.target == "permute" else arg_of(node, 1, "dims")
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (list, tuple)) else dims
        return tuple(dims) == (0, 2, 1, 3, 4)
    if not (node.target == "transpose" or node.target is torch.transpose):
        return False
    return sorted(node.args[1:3]) == [1, 2] if len(node.args) >= 3 else False


def _skip_contiguous(node):
    while isinstance(node, fx.Node) and node.op == "call_method" and node.target == "contiguous":
        node = node.args[0]
    return node


def _shuffle_parts(last, shapes):
    """(x, groups) when `last` ends a channel shuffle of x, else None."""
    swap = _skip_contiguous(last.args[0]) if last.args else None
    if not _is_swap_1_2(swap):
        return None
    split = swap.args[0]
    if not _is_reshape(split):
        return None
    x = split.args[0]
    grouped, out, original = shapes.get(split), shapes.get(last), shapes.get(x)
    if not (grouped and out and original) or len(grouped) != 4 or len(out) != 3 or out != original:
        return None
    groups, per_group = grouped[0], grouped[1]
    if groups * per_group != out[0] or grouped[2:] != out[1:]:
        return None
    return x, groups


def channel_shuffle(node: fx.Node, shapes: dict) -> Mapped | Alias | None:
    """The three steps of a channel shuffle (ShuffleNet) become one Channel shuffle layer: the last step maps
    to it, the first two pass their input through (they have no other users)."""
    shape = shapes.get(node)
    if shape is not None and len(shape) == 3:
        found = _shuffle_parts(node, shapes)
        if found is not None:
            return Mapped("Channel shuffle", {"groups": found[1]}, [found[0]])
        return None
    if shape is not None and len(shape) == 4 and _is_reshape(node) and len(tensor_users(node)) == 1:
        swap = tensor_users(node)[0]
        ends = _contiguous_users(swap) if _is_swap_1_2(swap) and len(tensor_users(swap)) == 1 else []
        if len(ends) == 1 and _shuffle_parts(ends[0], shapes) is not None:
            return Alias(node.args[0])
    return None


def _contiguous_users(node):
    users = tensor_users(node)
    while len(users) == 1 and users[0].op == "call_method" and users[0].target == "contiguous":
        users = tensor_users(users[0])
    return [u for u in users if _is_reshape(u)]


def transpose(node: fx.Node, shapes: dict) -> Alias:
    """The middle step of a channel shuffle passes its input through (see _channel_shuffle)."""
    source = node.args[0]
    if _is_reshape(source) and len(tensor_users(source)) == 1 and len(tensor_users(node)) == 1:
        ends = _contiguous_users(node)
        if len(ends) == 1 and _shuffle_parts(ends[0], shapes) is not None:
            return Alias(source)
    raise NotMappable("only a transpose inside a channel shuffle (view, transpose(1, 2), view) maps")


def _channel_range(source: fx.Node, shapes: dict, node: fx.Node) -> tuple:
    """(tensor, start, stop) when `node` takes a range of channels: x[:, a:b], or one piece of
    torch.chunk/torch.split along the channels (ShuffleNet's channel split)."""
    x, index = node.args[0], node.args[1]
    if isinstance(x, fx.Node) and x.op in ("call_function", "call_method") and isinstance(index, int) \
            and _target_name(x) in ("chunk", "split"):
        pieces_of, pieces = x.args[0], x.args[1] if len(x.args) > 1 else x.kwargs.get(
            "chunks", x.kwargs.get("split_size_or_sections", x.kwargs.get("split_size")))
        dim = arg_of(x, 2, "dim", 0)
        shape = shapes.get(pieces_of)
        if not isinstance(pieces_of, fx.Node) or not shape or dim not in (1, -len(shape) - 1):
            raise NotMappable("only chunks and splits along the channels (dim=1) map")
        channels = shape[0]
        if _target_name(x) == "chunk":
            size = -(-channels // pieces)
            bounds = [(i, min(i + size, channels)) for i in range(0, channels, size)]
        elif isinstance(pieces, int):
            bounds = [(i, min(i + pieces, channels)) for i in range(0, channels, pieces)]
        else:
            ends = [sum(pieces[:k + 1]) for k in range(len(pieces))]
            bounds = list(zip([0] + ends[:-1], ends))
        start, stop = bounds[index]
        return pieces_of, start, stop
    shape = shapes.get(x) if isinstance(x, fx.Node) else None
    if not shape or not isinstance(index, tuple) or len(index) < 2 or index[0] != slice(None):
        raise NotMappable("only a range of channels (x[:, a:b]) maps")
    channel, rest = index[1], index[2:]
    if not isinstance(channel, slice) or channel.step not in (None, 1) \
            or any(r is not Ellipsis and r != slice(None) for r in rest):
        raise NotMappable("only a range of channels (x[:, a:b]) maps, without steps or other dimensions")
    if any(v is not None and not isinstance(v, int) for v in (channel.start, channel.stop)):
        raise NotMappable("only a range of channels with fixed bounds maps")
    start, stop, _ = channel.indices(shape[0])
    return x, start, stop


def _target_name(node: fx.Node) -> str:
    return node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")


def getitem(node: fx.Node, shapes: dict) -> Mapped:
    x, start, stop = _channel_range(node.args[0], shapes, node)
    if stop <= start:
        raise NotMappable("the range of channels is empty")
    return Mapped("Channel slice", {"start": start, "stop": stop}, [x])
