"""The convolution playground's arithmetic, step by step: which window each output cell reads, the
element-wise products, their sum, and the whole output map. Plain numpy, so every number a student sees
can be checked against torch.nn.functional.conv2d (the tests do).

Conventions follow PyTorch: a convolution is a cross-correlation (the kernel is not flipped), padding adds
zeros around the border, dilation spreads the kernel's taps apart, and
    out[i, j] = bias + Σ_a Σ_b padded[i·s + a·d, j·s + b·d] · kernel[a, b].
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.layers.common import window_out

DEFAULT_INPUT = np.array([
    [0, 1, 2, 1, 0, 1, 0],
    [1, 3, 1, 0, 2, 1, 1],
    [2, 1, 0, 1, 3, 2, 0],
    [1, 0, 2, 4, 1, 0, 1],
    [0, 2, 1, 1, 0, 3, 2],
    [1, 1, 3, 0, 2, 1, 0],
    [0, 1, 0, 2, 1, 0, 1]], dtype=np.float64)
DEFAULT_KERNEL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)


@dataclass(frozen=True)
class ConvStep:
    """One output cell: out[row, col] read the window whose top-left is (top, left) in padded coordinates."""

    row: int
    col: int
    top: int
    left: int
    positions: tuple      # ((r, c), ...) padded coordinates of every tap, in kernel order (row-major)
    window: np.ndarray    # the input values under the kernel taps (kernel-shaped)
    products: np.ndarray  # window · kernel, element-wise
    bias: float
    total: float          # products.sum() + bias == output[row, col]


@dataclass(frozen=True)
class ConvResult:
    padded: np.ndarray    # the input with `padding` rows/columns of zeros around it
    kernel: np.ndarray
    bias: float
    stride: tuple
    padding: tuple
    dilation: tuple
    steps: tuple          # ConvStep per output cell, row by row
    output: np.ndarray

    @property
    def input_shape(self) -> tuple:
        ph, pw = self.padding
        return self.padded.shape[0] - 2 * ph, self.padded.shape[1] - 2 * pw


def pair(value: int | Sequence[int], name: str, minimum: int) -> tuple:
    """An int or (h, w) pair of ints, checked against `minimum`, as an (h, w) tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{name} must be one whole number or a (height, width) pair, got {value!r}")
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be a whole number, got {v!r}")
        if v < minimum:
            raise ValueError(_too_small(name, int(v), minimum))
        out.append(int(v))
    return tuple(out)


def _too_small(name: str, value: int, minimum: int) -> str:
    if name == "stride":
        return (f"stride must be at least 1 (got {value}): it is how many cells the window moves each step; "
                f"use 1 to visit every position")
    if name == "dilation":
        return (f"dilation must be at least 1 (got {value}): 1 means the kernel's taps touch, 2 leaves one "
                f"cell between them")
    if name == "padding":
        return f"padding cannot be negative (got {value}): use 0 for no border, 1 for one ring of zeros"
    return f"{name} must be at least {minimum} (got {value})"


def as_grid(values: ArrayLike, name: str = "input") -> np.ndarray:
    """A 2-D float array of finite numbers, or a ValueError saying what is wrong with it."""
    try:
        grid = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"the {name} must be a table of numbers (rows of equal length)") from None
    if grid.ndim != 2:
        raise ValueError(f"the {name} must be a 2-D grid (rows × columns), got {grid.ndim} dimension(s) "
                         f"{tuple(grid.shape)}")
    if grid.size == 0:
        raise ValueError(f"the {name} is empty: give it at least one row and one column")
    if not np.all(np.isfinite(grid)):
        raise ValueError(f"the {name} contains a value that is not a finite number; replace it with a number")
    return grid


def effective_kernel(size: int, dilation: int) -> int:
    """The span a dilated kernel covers: d·(k − 1) + 1."""
    return dilation * (size - 1) + 1


def check_fits(shape: tuple, kernel_shape: tuple, padding: tuple, dilation: tuple, what: str = "kernel") -> None:
    """Raise ValueError, with a way out, when the window is larger than the padded input in either direction."""
    for axis, label in ((0, "rows"), (1, "columns")):
        n, k, p, d = shape[axis], kernel_shape[axis], padding[axis], dilation[axis]
        span = effective_kernel(k, d)
        if span > n + 2 * p:
            spread = f" (spanning {span} with dilation {d})" if d > 1 else ""
            need = -(-(span - n) // 2)
            raise ValueError(
                f"the {kernel_shape[0]}×{kernel_shape[1]} {what}{spread} does not fit the {shape[0]}×{shape[1]} "
                f"input: its {label} are {n} + 2·{p} padding = {n + 2 * p} < {span}. Use a smaller {what}, "
                f"padding of at least {need}" + (", less dilation" if d > 1 else "") + " or a larger input.")


def conv_steps(grid: ArrayLike, kernel: ArrayLike, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
               dilation: int | Sequence[int] = 1, bias: float = 0.0) -> ConvResult:
    """Convolve (cross-correlate) a 2-D grid with a 2-D kernel, keeping every step's arithmetic."""
    x = as_grid(grid, "input")
    k = as_grid(kernel, "kernel")
    s, p, d = pair(stride, "stride", 1), pair(padding, "padding", 0), pair(dilation, "dilation", 1)
    try:
        b = float(bias)
    except (TypeError, ValueError):
        raise ValueError(f"the bias must be a number, got {bias!r}") from None
    if not np.isfinite(b):
        raise ValueError("the bias must be a finite number")
    check_fits(x.shape, k.shape, p, d)
    padded = np.pad(x, ((p[0], p[0]), (p[1], p[1])))
    output = np.zeros(output_shape(x.shape, k.shape, s, p, d))
    steps = []
    for i, j, top, left, positions, window in sliding_windows(padded, k.shape, s, d, output.shape):
        products = window * k
        total = float(products.sum()) + b
        output[i, j] = total
        steps.append(ConvStep(i, j, top, left, positions, window, products, b, total))
    return ConvResult(padded, k, b, s, p, d, tuple(steps), output)


def output_shape(shape: Sequence[int], window: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                 dilation: Sequence[int]) -> tuple:
    return tuple(window_out(shape[a], window[a], stride[a], padding[a], dilation[a]) for a in (0, 1))


def sliding_windows(padded: np.ndarray, window: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
                    out_shape: Sequence[int]) -> Iterator[tuple[int, int, int, int, tuple, np.ndarray]]:
    """Every stop of a window sliding over an already padded grid, row by row:
    (row, col, top, left, padded (r, c) of each cell in row-major order, the window's values)."""
    rows, cols = np.arange(window[0]) * dilation[0], np.arange(window[1]) * dilation[1]
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            top, left = i * stride[0], j * stride[1]
            positions = tuple((int(top + r), int(left + c)) for r in rows for c in cols)
            yield i, j, top, left, positions, padded[np.ix_(top + rows, left + cols)]


def output_size_text(n: int, k: int, p: int, s: int, d: int = 1, symbol: str = "W") -> str:
    """The output-size formula with the numbers filled in, e.g. "⌊(7 − 3 + 2·1) / 2⌋ + 1 = 4"."""
    span = effective_kernel(k, d)
    out = (n - span + 2 * p) // s + 1
    kernel = f"{span}" if d == 1 else f"({d}·({k} − 1) + 1)"
    if n - span + 2 * p < 0:
        return f"⌊({n} − {kernel} + 2·{p}) / {s}⌋ + 1 < 1: the window does not fit"
    return f"⌊({n} − {kernel} + 2·{p}) / {s}⌋ + 1 = {out}"


def format_number(value: float, decimals: int = 2) -> str:
    """A compact, readable number: whole numbers without decimals, a real minus sign, ±∞ spelled out."""
    v = float(value)
    if np.isinf(v):
        return "−∞" if v < 0 else "∞"
    if abs(v - round(v)) < 1e-9:
        text = str(int(round(v)))
    else:
        text = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
        if text in ("-0", "0", ""):
            text = "0"
    return text.replace("-", "−")


def step_arithmetic(step: ConvStep, kernel: np.ndarray, max_terms: int = 25) -> str:
    """The multiply-and-sum of one step written out: "1·0 + 2·(−1) + … = 5" (inputs times weights)."""
    def factor(v):
        text = format_number(v)
        return f"({text})" if text.startswith("−") else text

    terms = [f"{factor(x)}·{factor(w)}" for x, w in zip(step.window.ravel(), np.asarray(kernel).ravel())]
    if len(terms) > max_terms:
        terms = terms[:max_terms - 2] + ["…", terms[-1]]
    text = " + ".join(terms)
    if step.bias != 0:
        text += f" + {factor(step.bias)} (bias)"
    return f"{text} = {format_number(step.total)}"
