"""What a network is trained to predict: a class per image (classification), a class and a box (localization),
a class and a box for every object (detection) or a class per pixel (segmentation). The design's Output says
which; a data set's labels must match it, and their form tells the task (engine.data.base.label_task).

Each task has one loss, and one pair of counts whose ratio is the number the curves show: accuracy (of images,
or of pixels), box hits (right class and IoU > 0.5) or detection F1 (at IoU 0.5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.training.boxes import detection_f1_counts, detection_loss, localization_hits, localization_loss

TASKS = ("classification", "localization", "detection", "segmentation")
DICE_EPS = 1.0   # smoothing: a class absent from both prediction and truth scores a Dice of 1
_WHAT = {"classification": "one class per image", "segmentation": "a class for every pixel",
         "localization": "one object per image, with its class and box",
         "detection": "every object in an image, with its class and box"}
METRIC = {"classification": "accuracy", "segmentation": "pixel accuracy", "localization": "box hits",
          "detection": "detection F1"}


def objective_loss(task: str, out: torch.Tensor, labels: torch.Tensor, reduction: str = "mean",
                   dice_weight: float = 0.0) -> torch.Tensor:
    """The task's loss of a batch (mean per image, or per pixel for segmentation; "sum" adds them up)."""
    if task == "localization":
        return localization_loss(out, labels, reduction)
    if task == "detection":
        return detection_loss(out, labels, reduction)
    if reduction == "sum":
        return F.cross_entropy(out.float(), labels, reduction="sum")
    return training_loss(out, labels, dice_weight)


def label_count(task: str, labels: torch.Tensor) -> int:
    """What the loss is averaged over: pixels for segmentation, images otherwise."""
    return labels.numel() if task in ("classification", "segmentation") else labels.shape[0]


def metric_counts(task: str, out: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor | int, int]:
    """(right, counted) for the task's metric on a batch; right may stay on the device (no synchronisation)."""
    if task == "localization":
        return localization_hits(out, labels).sum(), labels.shape[0]
    if task == "detection":
        return detection_f1_counts(out, labels)
    return (out.argmax(1) == labels).sum(), labels.numel()


def training_loss(logits: torch.Tensor, labels: torch.Tensor, dice_weight: float = 0.0) -> torch.Tensor:
    """Cross-entropy (per image, or per pixel for masks), plus dice_weight × the soft Dice loss for masks."""
    loss = F.cross_entropy(logits, labels)
    if dice_weight and labels.dim() > 1:
        inter, total = dice_counts(logits, labels)
        loss = loss + dice_weight * dice_loss(inter, total)
    return loss


def dice_counts(logits: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class: Σ p·t and Σ p + Σ t over a batch, with p the softmax probabilities and t the one-hot masks.
    Sums, so batches (and torchrun's ranks) add up to the whole split's."""
    probs = torch.softmax(logits.float(), dim=1)
    onehot = F.one_hot(masks, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    return (probs * onehot).sum(dims), probs.sum(dims) + onehot.sum(dims)


def dice_loss(inter: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """1 − the soft Dice score averaged over the classes."""
    return 1 - ((2 * inter + DICE_EPS) / (total + DICE_EPS)).mean()


def task_mismatch(design_task: str, data_title: str, data_task: str) -> str:
    """The message for a design and a data set of different tasks, with what to change."""
    return (f"The network's Output is set to {design_task} ({_WHAT.get(design_task, design_task)}) but "
            f"{data_title} labels {_WHAT.get(data_task, data_task)}; set the Output's task to {data_task}, or "
            f"choose a {design_task} data set.")
