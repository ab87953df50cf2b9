"""Scores for boxes: average precision at IoU 0.5 (PASCAL VOC's all-point rule), and the test-set results of
localization and detection networks."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch


from engine.training.boxes import MATCH_IOU, box_iou, match_image, paired_iou

if TYPE_CHECKING:
    from engine.training.evaluate import EvaluationResult

KEEP_SCORE = 0.01   # detections below this never change the AP noticeably, and would fill memory


def average_precision(scores: np.ndarray, hits: np.ndarray, objects: int) -> float:
    """The area under the precision-recall curve of detections ranked by score, each a hit or not, against
    `objects` true objects; precision is first made non-increasing (the VOC 2010+ rule). nan with no objects."""
    if objects == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hit = np.asarray(hits, dtype=np.float64)[order]
    tp, fp = np.cumsum(hit), np.cumsum(1 - hit)
    recall = np.concatenate([[0.0], tp / objects, [1.0]])
    precision = np.concatenate([[0.0], tp / np.maximum(tp + fp, 1e-12), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(((recall[steps + 1] - recall[steps]) * precision[steps + 1]).sum())


def class_hits(dets: np.ndarray, truth: np.ndarray, cls: int) -> tuple[np.ndarray, np.ndarray, int]:
    """For one class: (scores, hit flags, number of objects). dets: rows (image, class, score, x0, y0, x1, y1);
    truth: rows (image, class, x0, y0, x1, y1). Highest score first, each detection looks at the object of its
    class in its image it overlaps most; a hit if that IoU is ≥ 0.5 and no surer detection took the object."""
    d = dets[dets[:, 1] == cls]
    t = truth[truth[:, 1] == cls]
    d = d[np.argsort(-d[:, 2], kind="stable")]
    hits = np.zeros(len(d), bool)
    by_image = {int(i): np.flatnonzero(t[:, 0] == i) for i in np.unique(t[:, 0])}
    taken = np.zeros(len(t), bool)
    for k, row in enumerate(d):
        members = by_image.get(int(row[0]))
        if members is None or not len(members):
            continue
        iou = box_iou(torch.as_tensor(row[None, 3:7]), torch.as_tensor(t[members, 2:6]))[0].numpy()
        best = int(iou.argmax())
        if iou[best] >= MATCH_IOU and not taken[members[best]]:
            taken[members[best]] = hits[k] = True
    return d[:, 2], hits, len(t)


def mean_average_precision(dets: np.ndarray, truth: np.ndarray, classes: int) -> tuple[float, np.ndarray]:
    """(mAP@0.5 over the classes that have objects, AP per class with nan for a class without any)."""
    ap = np.array([average_precision(*class_hits(dets, truth, c)) for c in range(classes)])
    return (float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")), ap


def _confusion(pairs: np.ndarray, size: int) -> np.ndarray:
    if not len(pairs):
        return np.zeros((size, size), np.int64)
    return np.bincount(pairs[:, 1] * size + pairs[:, 2], minlength=size * size).reshape(size, size)


def _per_class_recall(confusion: np.ndarray, classes: int) -> np.ndarray:
    totals = confusion[:classes].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion)[:classes] / np.maximum(totals, 1), np.nan)


def localization_result(outputs: torch.Tensor, labels: torch.Tensor, loss_sum: float,
                        class_names: Sequence[str]) -> EvaluationResult:
    """The result of a localization network: outputs N×(C+4), labels N×5 (class, corners)."""
    from engine.training.boxes import localization_split
    from engine.training.evaluate import EvaluationResult

    classes = len(class_names)
    logits, boxes = localization_split(outputs.float(), classes)
    probs = torch.softmax(logits.float(), 1)
    t_cls, p_cls = labels[:, 0].long(), probs.argmax(1)
    iou = paired_iou(boxes, labels[:, 1:5].float()).double().numpy() if len(labels) else np.zeros(0)
    hit = (t_cls == p_cls).numpy() & (iou > MATCH_IOU)
    n = len(labels)
    index = np.arange(n, dtype=np.float32)[:, None]
    pairs = np.stack([np.arange(n), t_cls.numpy(), p_cls.numpy()], 1).astype(np.int64)
    confusion = _confusion(pairs, classes)
    wrong = np.flatnonzero(~hit)
    return EvaluationResult(
        loss=float(loss_sum / max(n, 1)), accuracy=float(hit.mean()) if n else 0.0,
        per_class_accuracy=_per_class_recall(confusion, classes), confusion=confusion,
        targets=t_cls.numpy(), predictions=p_cls.numpy(), probabilities=probs.numpy().astype(np.float32),
        misclassified=wrong[np.argsort(iou[wrong], kind="stable")].astype(np.int64), class_names=tuple(class_names),
        task="localization", image_iou=iou,
        objects_true=np.concatenate([index, labels.float().numpy()], 1),
        objects_pred=np.concatenate([index, p_cls.float().numpy()[:, None],
                                     probs.max(1).values.numpy()[:, None], boxes.numpy()], 1),
        pairs=pairs)


def detection_result(detections: torch.Tensor, labels: torch.Tensor, loss_sum: float,
                     class_names: Sequence[str]) -> EvaluationResult:
    """The result of a detection network from its decoded detections N×K×6 and labels N×M×5.

    The confusion matrix has one more row and column, "nothing": objects missed, and detections where there is
    no object. Accuracy is the F1 score of detections at least SHOW_SCORE sure; images are listed worst F1 first."""
    from engine.training.evaluate import EvaluationResult

    classes, n = len(class_names), len(labels)
    pairs, f1 = [], np.ones(n)
    for i in range(n):
        mine = match_image(detections[i], labels[i], classes)
        right = sum(1 for t, p in mine if t == p)
        counted = sum(1 for t, p in mine if t < classes) + sum(1 for t, p in mine if p < classes)
        f1[i] = 2 * right / counted if counted else 1.0
        pairs.extend((i, t, p) for t, p in mine)
    pairs = np.asarray(pairs, np.int64).reshape(-1, 3)
    confusion = _confusion(pairs, classes + 1)
    dets = _rows(detections, 6)
    dets = dets[dets[:, 2] >= KEEP_SCORE]
    truth = _rows(labels, 5)
    truth = truth[truth[:, 1] >= 0]
    map50, ap = mean_average_precision(dets, truth, classes)
    right = int(np.trace(confusion[:classes, :classes]))
    counted = int(confusion[:classes].sum() + confusion[:, :classes].sum())
    images_with = np.zeros((n, classes + 1), np.float32)   # share of each image's objects per class, as found
    for i, _, p in pairs:
        if p < classes:
            images_with[i, p] += 1
    wrong = np.flatnonzero(f1 < 1)
    return EvaluationResult(
        loss=float(loss_sum / max(n, 1)), accuracy=2 * right / counted if counted else 1.0,
        per_class_accuracy=np.append(_per_class_recall(confusion, classes), np.nan), confusion=confusion,
        targets=np.zeros(n, np.int64), predictions=np.zeros(n, np.int64), probabilities=images_with,
        misclassified=wrong[np.argsort(f1[wrong], kind="stable")].astype(np.int64),
        class_names=(*class_names, "nothing"), task="detection", image_iou=f1, ap=ap, map50=map50,
        objects_true=truth, objects_pred=dets, pairs=pairs)


def _rows(per_image: torch.Tensor, width: int) -> np.ndarray:
    """N×K×width → (N·K)×(1+width) rows prefixed by their image's index."""
    n, k = per_image.shape[:2]
    index = torch.arange(n, dtype=torch.float32).repeat_interleave(k)[:, None]
    return torch.cat([index, per_image.reshape(n * k, width).float()], 1).numpy()

