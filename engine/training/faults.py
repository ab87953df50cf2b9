"""Turn anything that goes wrong during training into one readable sentence with a suggested fix."""
from __future__ import annotations

import traceback

import torch

from engine.training.events import Failed

# What torch's own allocators say when memory runs out: CUDA/MPS "out of memory", the CPU allocator
# "can't allocate memory" or "not enough memory".
_OOM_TEXTS = ("out of memory", "can't allocate memory", "not enough memory")


class NonFiniteLoss(ArithmeticError):
    def __init__(self, value: float, epoch: int, step: int, lr: float, bad_images: int = 0):
        self.value, self.epoch, self.step, self.lr = value, epoch, step, lr
        self.bad_images = bad_images   # training images holding NaN or infinite pixels (then the data is at fault)
        super().__init__(f"loss is {value} at epoch {epoch + 1}, step {step}")


class TrainingSetupError(ValueError):
    """The run cannot start (bad graph, data that does not fit the network, missing device...)."""


class DataSourceError(RuntimeError):
    """The training images could not be read mid-run (files moved or deleted, a drive unplugged...)."""


class CheckpointError(RuntimeError):
    """A checkpoint could not be written (disk full, folder not writable)."""


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and any(text in str(exc).lower() for text in _OOM_TEXTS))


def failing_layer(exc: BaseException, model: torch.nn.Module | None) -> str | None:
    """The name of the network's top-level layer (a node id) whose code raised `exc`, found by walking
    the traceback for frames that belong to one of `model`'s submodules; None when no layer was involved."""
    if model is None:
        return None
    owners = {}
    for name, child in model.named_children():
        for module in child.modules():
            owners[id(module)] = name
    found, tb = None, exc.__traceback__
    while tb is not None:
        owner = owners.get(id(tb.tb_frame.f_locals.get("self")))
        found = owner or found     # the deepest frame wins
        tb = tb.tb_next
    return found


def failure(exc: BaseException, batch_size: int, layer: str | None = None, when: str = "") -> Failed:
    """The Failed event for `exc`. layer: "conv2d_1 (Conv2d)" when a layer raised it; when: "at epoch 1,
    step 3" or similar, to say where the run was."""
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    where = f" {when}" if when else ""
    if isinstance(exc, NonFiniteLoss):
        what = "NaN" if exc.value != exc.value else "infinite"
        if exc.bad_images:
            reason = (f"Training stopped: the loss became {what} at epoch {exc.epoch + 1}, step {exc.step}, because "
                      f"{exc.bad_images} training image(s) contain NaN or infinite pixel values. Reload the data "
                      f"set, or remove the damaged images, and start again.")
        else:
            # Suggest a tenth of the rate, but never more than a usual starting rate for a wildly high one.
            reason = (f"Training diverged: the loss became {what} at epoch {exc.epoch + 1}, step {exc.step}. "
                      f"Lower the learning rate (try {min(exc.lr / 10, 0.01):g}) or turn on gradient clipping.")
    elif is_out_of_memory(exc):
        ram = isinstance(exc, MemoryError) or "cpu" in str(exc).lower()
        reason = (f"The {'computer' if ram else 'device'} ran out of memory{where} with batch size {batch_size}. "
                  f"Use a smaller batch (try {max(1, batch_size // 2)}), a smaller network or smaller images"
                  f"{', and close other programs' if ram else ''}.")
    elif isinstance(exc, (TrainingSetupError, DataSourceError, CheckpointError)):
        reason = str(exc)
        if isinstance(exc, TrainingSetupError):
            return Failed(reason=reason, detail=detail, setup=True)
    else:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = f"{type(exc).__name__}{': ' + message if message else ''}"
        if layer:
            reason = (f"Training stopped: layer {layer} raised {error}{where}. Check that layer's settings (or "
                      f"replace it) and start again; the details are in the log.")
        else:
            reason = (f"Training stopped because of an error{where}: {error}. Check the network and the data "
                      f"set; the details are in the log.")
    return Failed(reason=reason, detail=detail)
