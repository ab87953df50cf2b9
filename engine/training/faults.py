"""Turn anything that goes wrong during training into one readable sentence with a suggested fix."""
from __future__ import annotations

import traceback

import torch

from engine.training.events import Failed


class NonFiniteLoss(ArithmeticError):
    def __init__(self, value: float, epoch: int, step: int, lr: float):
        self.value, self.epoch, self.step, self.lr = value, epoch, step, lr
        super().__init__(f"loss is {value} at epoch {epoch + 1}, step {step}")


class TrainingSetupError(ValueError):
    """The run cannot start (bad graph, data that does not fit the network, missing device...)."""


def is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError)
                                                          and "out of memory" in str(exc).lower())


def failure(exc: BaseException, batch_size: int) -> Failed:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, NonFiniteLoss):
        reason = (f"Training diverged: the loss became {'NaN' if exc.value != exc.value else 'infinite'} at "
                  f"epoch {exc.epoch + 1}, step {exc.step}. Lower the learning rate (try {exc.lr / 10:g}) "
                  f"or turn on gradient clipping.")
    elif is_out_of_memory(exc):
        reason = (f"The device ran out of memory with batch size {batch_size}. Use a smaller batch "
                  f"(try {max(1, batch_size // 2)}), a smaller network or smaller images.")
    elif isinstance(exc, TrainingSetupError):
        reason = str(exc)
    else:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = (f"Training stopped because of an error: {type(exc).__name__}"
                  f"{': ' + message if message else ''}. Check the network and the data set; "
                  f"the details are in the log.")
    return Failed(reason=reason, detail=detail)
