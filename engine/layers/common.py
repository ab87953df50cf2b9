"""Small helpers shared by the layer definitions."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.registry import ParamSpec, ShapeError

if TYPE_CHECKING:
    from engine.fixes import Fix


def fmt_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def need_image(kind: str, shape: tuple, fix: Fix | None = None) -> tuple:
    """Refuse anything that is not a (channels, height, width) tensor."""
    if len(shape) != 3:
        raise ShapeError(f"{kind} expects an image-like (channels, height, width) input but receives "
                         f"{fmt_shape(shape)}", fix)
    return shape


def need_flat(kind: str, shape: tuple, fix: Fix | None = None) -> tuple:
    if len(shape) != 1:
        raise ShapeError(f"{kind} expects a flat (features,) input but receives {fmt_shape(shape)}; "
                         f"insert Flatten before it", fix)
    return shape


def pair_text(p: Sequence[int]) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"{p[0]}×{p[1]}"


def py_pair(p: Sequence[int]) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"({p[0]}, {p[1]})"


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False) -> int:
    """The output length of a sliding window, as PyTorch computes it."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if ceil:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad:  # PyTorch drops a last window that starts in the padding
            out -= 1
        return out
    return span // stride + 1


def kernel_param(default: int = 3, help: str = "Size of the sliding window (height, width).") -> ParamSpec:
    return ParamSpec("kernel_size", "pair", (default, default), help, 1, 64, label="Kernel")


def stride_param(default: int = 1,
                 help: str = "Step between window positions; 2 halves the height and width.") -> ParamSpec:
    return ParamSpec("stride", "pair", (default, default), help, 1, 64)


def padding_param(default: int = 0, allow_same: bool = True) -> ParamSpec:
    help_text = "Zeros added around the border"
    help_text += "; 'same' keeps height and width (stride 1 only)." if allow_same else "."
    return ParamSpec("padding", "padding" if allow_same else "pair", (default, default), help_text, 0, 64)


def check_channels_divisible(kind: str, in_ch: int, out_ch: int, groups: int) -> None:
    if in_ch % groups or out_ch % groups:
        raise ShapeError(f"{kind} with groups={groups} needs input channels ({in_ch}) and output channels "
                         f"({out_ch}) both divisible by {groups}")
