"""Test-set evaluation: loss, accuracy, per-class accuracy, confusion matrix and the misclassified
samples with their predicted probabilities; for segmentation (a class per pixel) the same over pixels, plus the
intersection over union of every class and of every image, the worst images first."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.data.base import label_task
from engine.training.box_metrics import detection_result, localization_result
from engine.training.boxes import decode_detections
from engine.training.tasks import objective_loss

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
    # Segmentation: targets and predictions are uint8 N×H×W masks, accuracy and the confusion count pixels,
    # probabilities hold each image's share of pixels predicted per class, and misclassified lists the images
    # with a wrong pixel, lowest image IoU first.
    task: str = "classification"
    iou: np.ndarray | None = None         # float64 (classes,): intersection over union, nan for an absent class
    image_iou: np.ndarray | None = None   # float64 (N,): mean IoU over the classes in each image
    # Localization and detection (engine.training.box_metrics): image_iou holds each image's box IoU
    # (localization) or F1 (detection); the objects are rows (image, class, x0, y0, x1, y1) and the predictions
    # rows (image, class, score, x0, y0, x1, y1), corners as fractions of the image; pairs are (image, true class,
    # predicted class) with the last class "nothing" for detection (a missed object, or a detection of nothing).
    objects_true: np.ndarray | None = None
    objects_pred: np.ndarray | None = None
    pairs: np.ndarray | None = None
    ap: np.ndarray | None = None          # detection: float64 (classes,) average precision at IoU 0.5
    map50: float = math.nan               # detection: their mean over the classes with objects

    @property
    def count(self) -> int:
        return int(self.targets.shape[0])

    @property
    def mean_iou(self) -> float:
        return float(np.nanmean(self.iou)) if self.iou is not None and not np.isnan(self.iou).all() else math.nan

    def summary(self) -> dict:
        """Plain JSON-ready numbers (no per-sample probabilities; those can be large)."""
        out = {"loss": self.loss, "accuracy": self.accuracy, "count": self.count,
               "class_names": list(self.class_names),
               "per_class_accuracy": [None if np.isnan(a) else float(a) for a in self.per_class_accuracy],
               "confusion": self.confusion.tolist(),
               "misclassified": self.misclassified.tolist()}
        if self.task == "segmentation":
            out.update(task=self.task, mean_iou=_number(self.mean_iou), per_class_iou=[_number(v) for v in self.iou])
        elif self.task == "localization":
            out.update(task=self.task, mean_box_iou=_number(float(np.mean(self.image_iou))) if self.count else None,
                       class_accuracy=float(np.trace(self.confusion) / max(self.count, 1)))
        elif self.task == "detection":
            out.update(task=self.task, map50=_number(self.map50), per_class_ap=[_number(v) for v in self.ap],
                       objects=int(self.confusion[:-1].sum()))
        return out

    @property
    def headline(self) -> str:
        """The task's main score in words, e.g. "mAP@0.5 0.734"."""
        if self.task == "segmentation":
            return f"mean IoU {self.mean_iou:.3f}"
        if self.task == "localization":
            return f"box hits {self.accuracy:.1%} (right class, IoU > 0.5)"
        if self.task == "detection":
            return f"mAP@0.5 {self.map50:.3f}"
        return f"accuracy {self.accuracy:.2%}"


def _number(v: float) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


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
    labels = data_split.labels
    task = label_task(labels)
    if task == "localization":
        kept, loss_sum = _run(module, data_split, device, batch_size, autocast, lambda out: out.float().cpu(), task)
        outputs = torch.cat(kept) if kept else torch.zeros(0, len(class_names) + 4)
        return localization_result(outputs, labels.cpu(), loss_sum, class_names)
    if task == "detection":
        kept, loss_sum = _run(module, data_split, device, batch_size, autocast,
                              lambda out: decode_detections(out).cpu(), task)
        dets = torch.cat(kept) if kept else torch.zeros(0, 1, 6)
        return detection_result(dets, labels.cpu(), loss_sum, class_names)
    if task == "segmentation":   # segmentation: keep predicted masks only (score maps are never all held at once)
        kept, loss_sum = _run(module, data_split, device, batch_size, autocast,
                              lambda logits: logits.argmax(1).to(torch.uint8).cpu())
        h, w = labels.shape[1:]
        predicted = torch.cat(kept).numpy() if kept else np.zeros((0, h, w), np.uint8)
        return masks_result(predicted, labels.cpu().numpy(), loss_sum, class_names)
    kept, loss_sum = _run(module, data_split, device, batch_size, autocast, lambda logits: logits.float().cpu())
    logits = torch.cat(kept) if kept else torch.zeros(0, len(class_names))
    return result_from_outputs(logits, labels.cpu(), loss_sum, class_names)


def _run(module: torch.nn.Module, data_split: Split, device: torch.device, batch_size: int, autocast: bool,
         keep: Callable[[torch.Tensor], torch.Tensor], task: str = "classification") -> tuple[list, float]:
    """(keep(logits) of every batch, the summed loss), in eval mode; the module's mode is restored."""
    from engine.training.batches import evaluation_batches

    was_training = module.training
    module.eval()
    kept, loss_sum = [], 0.0
    try:
        for x, y in evaluation_batches(data_split, torch.arange(len(data_split.labels)), batch_size, device, "test"):
            with torch.autocast(device_type=device.type, enabled=autocast and device.type == "cuda"):
                logits = module(x)
            loss_sum += float(objective_loss(task, logits.float(), y, reduction="sum"))
            kept.append(keep(logits))
    finally:
        module.train(was_training)
    return kept, loss_sum


def masks_result(predicted: np.ndarray, targets: np.ndarray, loss_sum: float,
                 class_names: Sequence[str]) -> EvaluationResult:
    """The segmentation result from predicted and true masks (N×H×W) and the summed per-pixel loss."""
    classes = len(class_names)
    t, p = targets.astype(np.int64), predicted.astype(np.int64)
    confusion = np.bincount((t * classes + p).ravel(), minlength=classes * classes).reshape(classes, classes)
    truth, guessed, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    union = truth + guessed - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(truth > 0, hits / np.maximum(truth, 1), np.nan)
        iou = np.where(union > 0, hits / np.maximum(union, 1), np.nan)
    n, pixels = len(t), max(t.size, 1)
    flat_t, flat_p = t.reshape(n, -1), p.reshape(n, -1)
    image_iou = np.full(n, np.nan)
    shares = np.zeros((n, classes), np.float32)
    for i in range(n):   # per image: the classes present in its truth or its prediction
        inter = np.bincount(flat_t[i][flat_t[i] == flat_p[i]], minlength=classes)
        either = np.bincount(flat_t[i], minlength=classes) + np.bincount(flat_p[i], minlength=classes) - inter
        present = either > 0
        image_iou[i] = float((inter[present] / either[present]).mean()) if present.any() else 1.0
        shares[i] = np.bincount(flat_p[i], minlength=classes)[:classes] / max(flat_p.shape[1], 1)
    wrong = np.flatnonzero((flat_t != flat_p).any(axis=1))
    worst_first = wrong[np.argsort(image_iou[wrong], kind="stable")]
    dtype = np.uint8 if classes <= 256 else np.int64
    return EvaluationResult(loss=float(loss_sum / pixels), accuracy=float(hits.sum() / pixels),
                            per_class_accuracy=per_class.astype(np.float64), confusion=confusion.astype(np.int64),
                            targets=t.astype(dtype), predictions=p.astype(dtype), probabilities=shares,
                            misclassified=worst_first.astype(np.int64), class_names=tuple(class_names),
                            task="segmentation", iou=iou.astype(np.float64), image_iou=image_iou)
