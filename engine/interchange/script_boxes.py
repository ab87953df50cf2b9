"""The task part of an exported training script for boxes: localization (one object an image) and detection
(any number). The script holds engine/training/boxes.py's losses and decoding (torch only) followed by the text
after this file's PART marker."""
import torch
from torch.utils.data import TensorDataset

from engine.training.boxes import detection_f1_counts, detection_loss, localization_hits, localization_loss

INPUT_SHAPE = (3, 64, 64)   # stand-ins: the script defines these above the part
NUM_CLASSES = 3
TASK = "detection"

# ---- PART ----
METRIC = "box hits" if TASK == "localization" else "detection F1"
LABELS_NEEDED = ("float N×5 labels (class, then the box's corners x0, y0, x1, y1 as fractions of the image)"
                 if TASK == "localization" else
                 "float N×K×5 labels (K objects an image: class, then the box's corners as fractions; class -1 "
                 "for none)")
MOST_OBJECTS = 4   # synthetic detection images


def task_loss(out: torch.Tensor, labels: torch.Tensor, dice_weight: float, reduction: str = "mean") -> torch.Tensor:
    return (localization_loss if TASK == "localization" else detection_loss)(out, labels, reduction)


def task_counts(out: torch.Tensor, labels: torch.Tensor) -> tuple[int, int, int]:
    """(images, right, checked): box hits over images, or 2 × right detections over detections + objects (F1)."""
    if TASK == "localization":
        return len(labels), int(localization_hits(out, labels).sum()), len(labels)
    right, checked = detection_f1_counts(out, labels)
    return len(labels), right, checked


def task_labels(labels: torch.Tensor) -> torch.Tensor:
    return labels.float()


def label_problem(labels: torch.Tensor, n: int) -> str:
    """What is wrong with labels read from a file, or ""."""
    good = labels.dim() == (2 if TASK == "localization" else 3) and len(labels) == n and labels.shape[-1] == 5
    if not good:
        return f"this {TASK} network needs {LABELS_NEEDED}, one for each of the {n} images"
    classes, corners = labels[..., 0], labels[..., 1:]
    real = classes >= 0
    if TASK == "localization" and not bool(real.all()):
        return "every image needs its object's class (0 or more)"
    if bool((classes[real] >= NUM_CLASSES).any()) or not bool(torch.isfinite(corners[real]).all()):
        return f"classes must be below {NUM_CLASSES} and corners finite numbers"
    return ""


def synthetic_data(n: int, seed: int) -> tuple[TensorDataset, TensorDataset, list[str]]:
    """Rectangles on noise, each class its own colour: learnable in a few epochs, needs no files."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = INPUT_SHAPE
    most = 1 if TASK == "localization" else MOST_OBJECTS
    colours = torch.rand(NUM_CLASSES, c, generator=g) * 0.7 + 0.3
    images = torch.rand(n, c, h, w, generator=g) * 0.2
    labels = torch.full((n, most, 5), -1.0)
    count = torch.randint(1, most + 1, (n,), generator=g)
    for k in range(most):
        cls = torch.randint(0, NUM_CLASSES, (n,), generator=g)
        size = 0.15 + 0.25 * torch.rand(n, 2, generator=g)
        corner = torch.rand(n, 2, generator=g) * (1 - size)
        for i in torch.nonzero(count > k).flatten().tolist():
            x0, y0 = int(corner[i, 0] * w), int(corner[i, 1] * h)
            x1, y1 = max(x0 + 1, int((corner[i, 0] + size[i, 0]) * w)), max(y0 + 1, int((corner[i, 1] + size[i, 1]) * h))
            images[i, :, y0:y1, x0:x1] = colours[cls[i]][:, None, None]
            labels[i, k] = torch.tensor([float(cls[i]), x0 / w, y0 / h, x1 / w, y1 / h])
    if TASK == "localization":
        labels = labels[:, 0]
    n_test = max(1, n // 6)
    classes = [str(i) for i in range(NUM_CLASSES)]
    return TensorDataset(images[n_test:], labels[n_test:]), TensorDataset(images[:n_test], labels[:n_test]), classes


def augment_pair(transform: object, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One training sample through the transforms, its boxes moved with it (v2 knows BoundingBoxes); a detection
    object pushed mostly out of the picture becomes padding (class -1)."""
    from torchvision import tv_tensors
    _, h, w = x.shape
    rows = y[None] if y.dim() == 1 else y
    scale = torch.tensor([w, h, w, h], dtype=torch.float32)
    boxes = tv_tensors.BoundingBoxes(rows[:, 1:] * scale, format="XYXY", canvas_size=(h, w))
    x, moved = transform(x, boxes)
    moved = moved.as_subclass(torch.Tensor).clamp_min(0) / scale
    moved = torch.minimum(moved, torch.ones(4))
    area = (rows[:, 3:] - rows[:, 1:3]).clamp_min(0).prod(1)
    kept = (moved[:, 2:] - moved[:, :2]).clamp_min(0).prod(1)
    cls = rows[:, 0].clone()
    if y.dim() == 2:
        cls[(kept < area / 3) | ((moved[:, 2:] - moved[:, :2]) < 0.005).any(1)] = -1
    out = torch.cat([cls[:, None], moved], 1)
    return x, out[0] if y.dim() == 1 else out
