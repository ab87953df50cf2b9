"""Max and average pooling step by step, and ReLU on a map, with the same conventions as PyTorch
(max_pool2d pads with −∞ so padding never wins; avg_pool2d pads with zeros and divides by the full window,
count_include_pad=True)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.teaching.playground import as_grid, check_fits, format_number, output_shape, pair, sliding_windows

POOL_MODES = ("max", "avg")


@dataclass(frozen=True)
class PoolStep:
    row: int
    col: int
    top: int
    left: int
    positions: tuple    # ((r, c), ...) padded coordinates of the window's cells, row-major
    window: np.ndarray
    value: float        # the maximum or the mean: output[row, col]
    chosen: tuple       # max pooling: padded (r, c) of the winning cell (the first if tied); avg: ()


@dataclass(frozen=True)
class PoolResult:
    mode: str
    padded: np.ndarray  # max: −∞ border; avg: zero border
    window: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    steps: tuple
    output: np.ndarray


def pool_steps(grid: ArrayLike, kernel_size: int | Sequence[int] = 2, stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, mode: str = "max", dilation: int | Sequence[int] = 1) -> PoolResult:
    """Slide a pooling window over a 2-D map; stride defaults to the window size, as in PyTorch."""
    if mode not in POOL_MODES:
        raise ValueError(f"pooling mode must be 'max' or 'avg', got {mode!r}")
    x = as_grid(grid, "feature map")
    k = pair(kernel_size, "window size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p, d = pair(padding, "padding", 0), pair(dilation, "dilation", 1)
    if mode == "avg" and d != (1, 1):
        raise ValueError("average pooling has no dilation (PyTorch's avg_pool2d lacks it): set dilation to 1")
    for kk, pp in zip(k, p):
        if 2 * pp > kk:
            raise ValueError(f"padding {pp} is more than half the {k[0]}×{k[1]} window, so some windows would "
                             f"hold only padding; use padding of at most {kk // 2} or a larger window")
    check_fits(x.shape, k, p, d, what="pooling window")
    fill = -np.inf if mode == "max" else 0.0
    padded = np.pad(x, ((p[0], p[0]), (p[1], p[1])), constant_values=fill)
    output = np.zeros(output_shape(x.shape, k, s, p, d))
    steps = []
    for i, j, top, left, positions, window in sliding_windows(padded, k, s, d, output.shape):
        if mode == "max":
            best = int(np.argmax(window))
            value, chosen = float(window.flat[best]), positions[best]
        else:
            value, chosen = float(window.mean()), ()
        output[i, j] = value
        steps.append(PoolStep(i, j, top, left, positions, window, value, chosen))
    return PoolResult(mode, padded, k, s, p, d, tuple(steps), output)


def pool_arithmetic(step: PoolStep, mode: str, max_terms: int = 16) -> str:
    """What one pooling step computes, written out: "max(1, 3, 0, 2) = 3" or "(1 + 3 + 0 + 2) / 4 = 1.5"."""
    values = [format_number(v) for v in step.window.ravel()]
    if len(values) > max_terms:
        values = values[:max_terms - 2] + ["…", values[-1]]
    if mode == "max":
        return f"max({', '.join(values)}) = {format_number(step.value)}"
    return f"({' + '.join(values)}) / {step.window.size} = {format_number(step.value)}"


@dataclass(frozen=True)
class ReluResult:
    before: np.ndarray
    after: np.ndarray
    zeroed: np.ndarray  # bool mask: negative cells that ReLU set to zero

    @property
    def zeroed_count(self) -> int:
        return int(self.zeroed.sum())

    @property
    def zeroed_fraction(self) -> float:
        return self.zeroed_count / self.before.size


def relu_map(grid: ArrayLike) -> ReluResult:
    """ReLU on a 2-D map: max(0, x) cell by cell, and which cells it zeroed."""
    x = as_grid(grid, "feature map")
    return ReluResult(x, np.maximum(x, 0.0), x < 0)
