"""Curve smoothing for noisy per-step training metrics."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def exponential_moving_average(values: ArrayLike, weight: float) -> np.ndarray:
    """Debiased EMA as TensorBoard draws it: weight 0 returns the values, 0.99 is very smooth.

    NaN values (a step whose metric was missing) are skipped and stay NaN in the output.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be at least 0 and below 1; got {weight}")
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    if weight == 0.0:
        return v.copy()
    last, count = 0.0, 0
    for i, value in enumerate(v):
        if np.isnan(value):
            continue
        last = last * weight + (1.0 - weight) * value
        count += 1
        out[i] = last / (1.0 - weight ** count)  # removes the bias toward the zero start
    return out
