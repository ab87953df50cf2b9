"""The events fit() yields: frozen dataclasses of plain data (floats, ints, strings, numpy arrays), safe
to hand from a worker thread to the GUI thread. Torch tensors and modules never appear here."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    device: str              # "cpu", "cuda:0", "mps"
    device_name: str         # human readable, e.g. "NVIDIA A100" or "CPU (2 threads)"
    train_size: int
    val_size: int
    test_size: int
    steps_per_epoch: int
    total_steps: int
    parameters: int          # trainable parameters
    class_names: tuple
    world_size: int = 1      # processes in a torchrun job
    start_epoch: int = 0     # > 0 when resuming from a checkpoint
    mixed_precision: bool = False


@dataclass(frozen=True)
class StepMetrics:
    epoch: int               # 0-based epoch
    step: int                # global step count so far (1-based)
    steps_per_epoch: int
    total_steps: int
    loss: float              # mean training loss since the previous StepMetrics
    accuracy: float          # training accuracy (0..1) since the previous StepMetrics
    lr: float
    samples_per_sec: float
    elapsed: float           # seconds since the run started
    eta: float               # estimated seconds to the end of the run


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int               # 0-based epoch that just finished
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float          # nan when there is no validation split
    val_accuracy: float
    lr: float
    elapsed: float


@dataclass(frozen=True)
class ActivationSnapshot:
    epoch: int
    step: int
    end_of_epoch: bool
    probe_index: int         # index into the test split (-1 for a caller-supplied probe image)
    activations: dict = field(default_factory=dict)   # node id -> float32 (C,H,W) or (F,)
    filters: dict = field(default_factory=dict)       # Conv2d node id -> float32 (out, in, kh, kw)
    probe_image: np.ndarray | None = None             # float32 (C,H,W), the image that was fed in


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    which: str               # "best" or "last"
    epoch: int               # epochs completed when it was written


@dataclass(frozen=True)
class Finished:
    stopped: bool            # True when the user stopped the run (or early stopping ended it)
    epochs_completed: int
    test: object | None      # EvaluationResult, or None when stopped before any training
    weights: dict            # final state_dict as numpy arrays
    best_val_loss: float
    early_stopped: bool = False
    elapsed: float = 0.0


@dataclass(frozen=True)
class Failed:
    reason: str              # one readable sentence with a suggested fix
    detail: str = ""         # traceback or extra context, for logs
    setup: bool = False      # the run could not start with these inputs (the command line exits with 2)


# Any event fit() yields.
Event = Started | StepMetrics | EpochMetrics | ActivationSnapshot | CheckpointSaved | Finished | Failed
