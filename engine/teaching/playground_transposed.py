"""The transposed convolution, one input value at a time, for the playground: each input value stamps a
copy of the kernel, scaled by that value, onto a larger output; overlapping stamps add up; then `padding`
rows and columns are cut from every border. Plain numpy; the tests check every result against
torch.nn.functional.conv_transpose2d.

In the full (uncut) output, input cell (i, j) adds value·kernel[a, b] at (i·s + a·d, j·s + b·d); the output
is the full grid without its outer `padding` rows and columns, and `output_padding` extra rows and columns
at the bottom and right (which only a bias reaches) make up a size a stride would otherwise leave out.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.layers.upsampling import transposed_length
from engine.teaching.playground import as_grid, format_number, pair

DEFAULT_INPUT = np.ones((3, 3))
DEFAULT_KERNEL = np.ones((3, 3))   # ones make the overlaps visible: cells hit by 1, 2 or 4 stamps


@dataclass(frozen=True)
class StampStep:
    """Input cell (row, col) with `value` stamped value·kernel at `positions` (full-output coordinates)."""

    row: int
    col: int
    value: float
    positions: tuple     # ((r, c), ...) in the full output, kernel order (row-major)
    added: np.ndarray    # value · kernel, kernel-shaped
    partial: np.ndarray  # the full output after this stamp (bias included)


@dataclass(frozen=True)
class TransposedResult:
    full: np.ndarray      # the whole output before the border is cut (bias included)
    output: np.ndarray    # full without `padding` rows and columns on every side
    kernel: np.ndarray
    bias: float
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    steps: tuple          # StampStep per input cell, row by row


def transposed_steps(grid: ArrayLike, kernel: ArrayLike, stride: int | Sequence[int] = 2,
                     padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0,
                     dilation: int | Sequence[int] = 1, bias: float = 0.0) -> TransposedResult:
    """Compute a transposed convolution of a 2-D grid, keeping each input cell's stamp."""
    x, k = as_grid(grid, "input"), as_grid(kernel, "kernel")
    s, p = pair(stride, "stride", 1), pair(padding, "padding", 0)
    op, d = pair(output_padding, "output padding", 0), pair(dilation, "dilation", 1)
    b = float(bias)
    if not np.isfinite(b):
        raise ValueError("the bias must be a finite number")
    for a in (0, 1):
        if op[a] >= s[a] and op[a] >= d[a]:
            raise ValueError(f"the output padding ({op[a]}) must be smaller than the stride ({s[a]}) or the "
                             f"dilation ({d[a]}): it only adds the rows and columns a stride leaves out")
    out = tuple(transposed_length(x.shape[a], k.shape[a], s[a], p[a], d[a], op[a]) for a in (0, 1))
    if min(out) < 1:
        raise ValueError(f"padding {p[0]} cuts away the whole output: a transposed convolution's padding removes "
                         f"rows and columns from the border, so use less")
    full = np.full((out[0] + 2 * p[0], out[1] + 2 * p[1]), b)
    rows, cols = np.arange(k.shape[0]) * d[0], np.arange(k.shape[1]) * d[1]
    steps = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            top, left = i * s[0], j * s[1]
            added = x[i, j] * k
            full[np.ix_(top + rows, left + cols)] += added
            positions = tuple((int(top + r), int(left + c)) for r in rows for c in cols)
            steps.append(StampStep(i, j, float(x[i, j]), positions, added, full.copy()))
    output = full[p[0]:full.shape[0] - p[0], p[1]:full.shape[1] - p[1]]
    return TransposedResult(full, output.copy(), k, b, s, p, op, d, tuple(steps))


def size_text(n: int, k: int, s: int, p: int, d: int, op: int) -> str:
    """"(3 − 1)·2 − 2·0 + 1·(3 − 1) + 0 + 1 = 7": the output-size formula with the numbers filled in."""
    return f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {transposed_length(n, k, s, p, d, op)}"


def stamp_text(step: StampStep, result: TransposedResult, max_terms: int = 12) -> str:
    """What one stamp adds and where, in output rows and columns; cells that fall in the cut border are lost."""
    (ph, pw), (oh, ow) = result.padding, result.output.shape
    inside = [(r - ph, c - pw) for r, c in step.positions if ph <= r < ph + oh and pw <= c < pw + ow]
    terms = [format_number(v) for v in step.added.ravel()]
    if len(terms) > max_terms:
        terms = terms[:max_terms - 1] + ["…"]
    text = f"input value {format_number(step.value)} times the kernel gives {', '.join(terms)}"
    if not inside:
        return text + ", which all falls in the cut border: none of it reaches the output"
    rows, cols = [r for r, _ in inside], [c for _, c in inside]
    lost = len(step.positions) - len(inside)
    where = f"; {lost} of its {len(step.positions)} cells fall in the cut border and are lost" if lost else ""
    return (text + f", added to output rows {min(rows)}–{max(rows)}, columns {min(cols)}–{max(cols)}{where}")
