"""Test-set evaluation: loss, accuracy, per-class accuracy, confusion matrix and the misclassified
samples with their predicted probabilities."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from engine.data.base import Split


@dataclass(frozen=True)
class EvaluationResult:
    loss: float
    accuracy: float
    per_class_accuracy: np.ndarray   # float64 (classes,), nan for a class absent from the split
    confusion: np.ndarray            # int64 (classes, classes), rows = true class, columns = predicted
    targets: np.ndarray              # int64 (N,)
    predictions: np.ndarray          # int64 (N,)
    probabilities: np.ndarray        # float32 (N, classes)
    misclassified: np.ndarray        # int64 indices into the evaluated split
    class_names: tuple

    @property
    def count(self) -> int:
        return int(self.targets.shape[0])

    def summary(self) -> dict:
        """Plain JSON-ready numbers (no per-sample probabilities; those can be large)."""
        return {"loss": self.loss, "accuracy": self.accuracy, "count": self.count,
                "class_names": list(self.class_names),
                "per_class_accuracy": [None if np.isnan(a) else float(a) for a in self.per_class_accuracy],
                "confusion": self.confusion.tolist(),
                "misclassified": self.misclassified.tolist()}


def result_from_outputs(logits_or_probs: torch.Tensor, targets: torch.Tensor, loss_sum: float,
                        class_names: Sequence[str], are_probabilities: bool = False) -> EvaluationResult:
    """Build the result from all outputs of a split (CPU tensors)."""
    classes = len(class_names)
    probs = logits_or_probs if are_probabilities else torch.softmax(logits_or_probs.float(), dim=1)
    probs_np = probs.float().cpu().numpy().astype(np.float32, copy=False)
    t = targets.cpu().numpy().astype(np.int64)
    p = probs_np.argmax(axis=1).astype(np.int64) if len(t) else np.zeros(0, np.int64)
    confusion = np.bincount(t * classes + p, minlength=classes * classes).reshape(classes, classes)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)
    n = max(len(t), 1)
    return EvaluationResult(loss=float(loss_sum / n), accuracy=float((p == t).sum() / n),
                            per_class_accuracy=per_class.astype(np.float64), confusion=confusion.astype(np.int64),
                            targets=t, predictions=p, probabilities=probs_np,
                            misclassified=np.flatnonzero(p != t).astype(np.int64), class_names=tuple(class_names))


@torch.no_grad()
def evaluate(module: torch.nn.Module, data_split: Split, class_names: Sequence[str] | None = None,
             device: str | torch.device | None = None, batch_size: int = 512,
             autocast: bool = False) -> EvaluationResult:
    """Evaluate `module` on a split (anything with .images N×C×H×W and .labels N tensors).

    Runs in eval mode (dropout off, batch-norm running statistics) and restores the previous mode.
    """
    if class_names is None:
        class_names = getattr(data_split, "class_names", None)
    if class_names is None:
        raise ValueError("evaluate() needs class_names (the split has none)")
    device = torch.device(device) if device is not None else next(module.parameters()).device
    was_training = module.training
    module.eval()
    from engine.training.batches import evaluation_batches

    outputs, loss_sum = [], 0.0
    labels = data_split.labels
    try:
        for x, y in evaluation_batches(data_split, torch.arange(len(labels)), batch_size, device, "test"):
            with torch.autocast(device_type=device.type, enabled=autocast and device.type == "cuda"):
                logits = module(x)
            loss_sum += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            outputs.append(logits.float().cpu())
    finally:
        module.train(was_training)
    logits = torch.cat(outputs) if outputs else torch.zeros(0, len(class_names))
    return result_from_outputs(logits, labels.cpu(), loss_sum, class_names)
