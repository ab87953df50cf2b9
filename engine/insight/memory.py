"""A rough training-memory estimate, shown before a run so a too-large batch is caught early."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.units import format_bytes

if TYPE_CHECKING:
    from engine.analysis import Analysis

BYTES = 4  # float32
OPTIMIZER_STATES = {"sgd": 1, "adam": 2, "adamw": 2}  # momentum buffer; Adam's two moments


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int        # parameters + gradients + optimizer state
    activations: int    # stored for the backward pass, one batch
    data: int           # the data set held in memory

    @property
    def total(self) -> int:
        return self.weights + self.activations + self.data


def estimate_training_memory(analysis: Analysis, batch_size: int, optimizer: str = "adam",
                             data_values: int = 0) -> MemoryEstimate:
    """Bytes needed to train: parameters, their gradients and optimizer state; every layer's output for a
    batch, kept once for the backward pass and once more for its gradient; and the data set itself."""
    params = analysis.total_params
    weights = params * BYTES * (2 + OPTIMIZER_STATES.get(optimizer, 2))
    activations = 2 * analysis.total_memory * batch_size
    return MemoryEstimate(weights, activations, data_values * BYTES)


human_bytes = format_bytes   # the one way the app writes sizes (engine/units.py)
