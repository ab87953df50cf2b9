"""Boxes for localization (one object per image) and detection (any number), as the networks see them.

Labels: boxes are (class, x0, y0, x1, y1) with corners as fractions of the image's width and height, so resizing
an image never moves its boxes. Localization labels are float32 N×5; detection labels float32 N×K×5, rows with
class −1 being padding (images hold different numbers of objects).

Outputs: a localization network outputs (classes + 4,) numbers: class scores, then the box's centre and size
through a sigmoid. A detection network outputs maps (classes + 4, h, w) at any stride, in the manner of
CenterNet: a heat map per class whose peaks are object centres, then the box's width and height (sigmoid,
fractions of the image) and the centre's offset inside its cell (sigmoid) at every cell. No anchors, no
non-maximum suppression beyond a 3×3 peak test: a design that fits on a canvas and trains on a CPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Exported training scripts copy what follows the marker: it needs only torch.
# ---- SCRIPT ----
BOX_WEIGHT = 5.0     # L1 on the box's numbers (fractions of the image: small, so weighted up)
GIOU_WEIGHT = 2.0    # generalized IoU: scale-free, keeps small and large boxes alike in view
SIZE_WEIGHT = 5.0    # detection: L1 on the width and height at each centre
OFFSET_WEIGHT = 1.0  # detection: L1 on the centre's place inside its cell
MAX_DETECTIONS = 50  # per image, the highest peaks
SHOW_SCORE = 0.3     # a detection at least this sure counts for the confusion matrix, F1 and the pictures
MATCH_IOU = 0.5


def _centre_size(xyxy: torch.Tensor) -> torch.Tensor:
    return torch.cat([(xyxy[..., :2] + xyxy[..., 2:]) / 2, xyxy[..., 2:] - xyxy[..., :2]], -1)


def _corners(cxcywh: torch.Tensor) -> torch.Tensor:
    half = cxcywh[..., 2:] / 2
    return torch.cat([cxcywh[..., :2] - half, cxcywh[..., :2] + half], -1)


# ---- localization ---------------------------------------------------------------------------------------
def localization_split(out: torch.Tensor, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(class logits N×C, boxes N×4 as corners) from a localization network's output N×(C+4)."""
    return out[:, :classes], _corners(torch.sigmoid(out[:, classes:classes + 4].float()))


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in a (N×4 corners) with every box in b (M×4): N×M."""
    lo, hi = torch.maximum(a[:, None, :2], b[None, :, :2]), torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1), (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp_min(1e-12)


def giou_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 − generalized IoU of a[i] and b[i] (Rezatofighi et al. 2019): IoU minus the share of the smallest
    enclosing box that neither covers, so even boxes that do not overlap get a gradient towards each other."""
    lo, hi = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (hi - lo).clamp_min(0).prod(1)
    union = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(1) + (b[:, 2:] - b[:, :2]).clamp_min(0).prod(1) - inter
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp_min(0).prod(1)
    iou = inter / union.clamp_min(1e-7)
    return 1 - (iou - (hull - union) / hull.clamp_min(1e-7))


def localization_loss(out: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy on the class, plus L1 and generalized-IoU losses on the box."""
    classes = out.shape[1] - 4
    logits, boxes = localization_split(out, classes)
    target = labels[:, 1:5].float()
    per_image = (F.cross_entropy(logits.float(), labels[:, 0].long(), reduction="none")
                 + BOX_WEIGHT * (_centre_size(boxes) - _centre_size(target)).abs().sum(1)
                 + GIOU_WEIGHT * giou_loss(boxes, target))
    return per_image.sum() if reduction == "sum" else per_image.mean()


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[i] with b[i] (both N×4 corners)."""
    lo, hi = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (hi - lo).clamp_min(0).prod(1)
    area = lambda t: (t[:, 2:] - t[:, :2]).clamp_min(0).prod(1)   # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp_min(1e-12)


def localization_hits(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image: the class is right and the box overlaps the truth by IoU > 0.5."""
    logits, boxes = localization_split(out, out.shape[1] - 4)
    return (logits.argmax(1) == labels[:, 0].long()) & (paired_iou(boxes, labels[:, 1:5].float()) > MATCH_IOU)


# ---- detection --------------------------------------------------------------------------------------------
def heat_targets(labels: torch.Tensor, classes: int, h: int, w: int) -> torch.Tensor:
    """N×C×h×w: a Gaussian bump per object at its centre cell in its class's map (1 exactly there), as wide as
    a sixth of the box, the larger value where two overlap."""
    n, k = labels.shape[:2]
    heat = labels.new_zeros(n, classes, h, w, dtype=torch.float32)
    ys = torch.arange(h, device=labels.device, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, device=labels.device, dtype=torch.float32)[None, None, :]
    for j in range(k):   # objects one at a time: memory stays N×C×h×w however many objects an image holds
        obj = labels[:, j].float()
        valid = obj[:, 0] >= 0
        if not bool(valid.any()):
            continue
        cx, cy = ((obj[:, 1] + obj[:, 3]) / 2 * w).clamp(0, w - 1e-3), ((obj[:, 2] + obj[:, 4]) / 2 * h).clamp(0, h - 1e-3)
        sx = ((obj[:, 3] - obj[:, 1]) * w / 6).clamp_min(0.5)
        sy = ((obj[:, 4] - obj[:, 2]) * h / 6).clamp_min(0.5)
        bump = torch.exp(-((xs - cx.floor()[:, None, None]) ** 2) / (2 * sx[:, None, None] ** 2)
                         - ((ys - cy.floor()[:, None, None]) ** 2) / (2 * sy[:, None, None] ** 2))
        cls = obj[:, 0].long().clamp(0, classes - 1)
        onehot = F.one_hot(cls, classes).to(bump.dtype) * valid[:, None]
        heat = torch.maximum(heat, onehot[:, :, None, None] * bump[:, None])
    return heat


def _centre_cells(labels: torch.Tensor, h: int, w: int):
    """For every real object: (image index, cell row, cell column, offset x, offset y, width, height)."""
    obj = labels.float()
    n_idx, k_idx = torch.nonzero(obj[..., 0] >= 0, as_tuple=True)
    o = obj[n_idx, k_idx]
    cx, cy = ((o[:, 1] + o[:, 3]) / 2 * w).clamp(0, w - 1e-3), ((o[:, 2] + o[:, 4]) / 2 * h).clamp(0, h - 1e-3)
    col, row = cx.floor(), cy.floor()
    return n_idx, row.long(), col.long(), cx - col, cy - row, o[:, 3] - o[:, 1], o[:, 4] - o[:, 2]


def detection_loss(out: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """CenterNet's loss: a focal loss on the heat maps (pixels near a centre are punished less) plus L1 on
    the size and the offset at each centre, over the number of objects (the batch's sum with "sum")."""
    n, channels, h, w = out.shape
    classes = channels - 4
    out = out.float()
    target = heat_targets(labels, classes, h, w)
    logits = out[:, :classes]
    p = torch.sigmoid(logits)
    pos = target >= 1.0
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    focal = torch.where(pos, (1 - p) ** 2 * -log_p, (1 - target) ** 4 * p ** 2 * -log_not_p).sum()
    img, row, col, ox, oy, bw, bh = _centre_cells(labels, h, w)
    at = out[img, classes:, row, col]   # M×4 at each object's centre cell
    regression = (SIZE_WEIGHT * (torch.sigmoid(at[:, :2]) - torch.stack([bw, bh], 1)).abs().sum()
                  + OFFSET_WEIGHT * (torch.sigmoid(at[:, 2:]) - torch.stack([ox, oy], 1)).abs().sum())
    objects = max(len(img), 1)
    total = (focal + regression) / objects
    return total * n if reduction == "sum" else total


@torch.no_grad()
def decode_detections(out: torch.Tensor, limit: int = MAX_DETECTIONS) -> torch.Tensor:
    """N×limit×6 detections (class, score, x0, y0, x1, y1), best first: the heat maps' 3×3 peaks."""
    n, channels, h, w = out.shape
    classes = channels - 4
    out = out.float()
    heat = torch.sigmoid(out[:, :classes])
    peaks = heat * (heat == F.max_pool2d(heat, 3, stride=1, padding=1))
    scores, flat = peaks.flatten(1).topk(min(limit, classes * h * w), dim=1)
    cls, cell = flat // (h * w), flat % (h * w)
    row, col = cell // w, cell % w
    rest = torch.sigmoid(out[:, classes:].flatten(2))   # N×4×(h·w)
    at = rest.gather(2, cell[:, None, :].expand(-1, 4, -1))   # N×4×limit
    cx, cy = (col + at[:, 2]) / w, (row + at[:, 3]) / h
    half_w, half_h = at[:, 0] / 2, at[:, 1] / 2
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], -1).clamp(0, 1)
    return torch.cat([cls[..., None].float(), scores[..., None], boxes], -1)


def match_image(dets: torch.Tensor, truth: torch.Tensor, classes: int,
                threshold: float = SHOW_SCORE) -> list[tuple[int, int]]:
    """(true class, predicted class) pairs for one image; `classes` stands for "nothing": a missed object is
    (its class, classes), a detection with no object under it is (classes, its class). Detections at least
    `threshold` sure, best first, each take the unmatched object they overlap most (IoU ≥ 0.5), any class."""
    dets = dets[dets[:, 1] >= threshold]
    truth = truth[truth[:, 0] >= 0]
    pairs, taken = [], torch.zeros(len(truth), dtype=torch.bool)
    iou = box_iou(dets[:, 2:6], truth[:, 1:5]) if len(dets) and len(truth) else None
    for i in range(len(dets)):
        j = -1
        if iou is not None:
            row = iou[i].masked_fill(taken, -1.0)
            best = int(row.argmax())
            j = best if float(row[best]) >= MATCH_IOU else -1
        if j >= 0:
            taken[j] = True
            pairs.append((int(truth[j, 0]), int(dets[i, 0])))
        else:
            pairs.append((classes, int(dets[i, 0])))
    pairs.extend((int(truth[j, 0]), classes) for j in range(len(truth)) if not taken[j])
    return pairs


def detection_f1_counts(out: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """(2 × right detections, detections + objects): their ratio is the F1 score at IoU 0.5 with detections
    at least SHOW_SCORE sure. Sums, so batches and torchrun's ranks add up."""
    classes = out.shape[1] - 4
    dets = decode_detections(out).cpu()
    labels = labels.cpu()
    right = total = 0
    for i in range(len(dets)):
        pairs = match_image(dets[i], labels[i], classes)
        right += sum(1 for t, p in pairs if t == p)
        total += sum(1 for t, p in pairs if t < classes) + sum(1 for t, p in pairs if p < classes)
    return 2 * right, total
