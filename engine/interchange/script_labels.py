"""The task part of an exported training script for class labels: one class per image (classification) or per
pixel (segmentation). Only the text after the PART marker is copied, between the constants and the harness."""
import torch
from torch.utils.data import TensorDataset

INPUT_SHAPE = (1, 28, 28)   # stand-ins: the script defines these above the part
NUM_CLASSES = 10
TASK = "classification"

# ---- PART ----
METRIC = "pixel accuracy" if TASK == "segmentation" else "accuracy"
LABELS_NEEDED = "a class for every pixel (N×H×W masks)"


def dice_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """1 - the soft Dice score of a batch, averaged over the classes (a class absent from both scores 1)."""
    probs = torch.softmax(logits.float(), dim=1)
    onehot = torch.nn.functional.one_hot(masks, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    inter, total = (probs * onehot).sum((0, 2, 3)), probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + 1.0) / (total + 1.0)).mean()


def task_loss(logits: torch.Tensor, labels: torch.Tensor, dice_weight: float,
              reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy per image (or per pixel), plus the Dice loss for segmentation when asked."""
    loss = torch.nn.functional.cross_entropy(logits.float(), labels, reduction=reduction)
    if TASK == "segmentation" and dice_weight > 0 and reduction == "mean":
        loss = loss + dice_weight * dice_loss(logits, labels)
    return loss


def task_counts(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int, int]:
    """(labels the loss is averaged over, right predictions, predictions checked): images, or pixels."""
    return labels.numel(), int((logits.argmax(1) == labels).sum()), labels.numel()


def task_labels(labels: torch.Tensor) -> torch.Tensor:
    return labels.long()


def label_problem(labels: torch.Tensor, n: int) -> str:
    """What is wrong with labels read from a file, or ""."""
    want = (n, *INPUT_SHAPE[1:]) if TASK == "segmentation" else (n,)
    if tuple(labels.shape) != want:
        return (f"this {TASK} network needs {want} "
                f"({'a class for every pixel' if TASK == 'segmentation' else 'one class per image'})")
    return ""


def synthetic_data(n: int, seed: int) -> tuple[TensorDataset, TensorDataset, list[str]]:
    """One smooth random pattern per class plus noise (for segmentation: smooth regions of each class, each in
    its own colour): learnable in an epoch, needs no files."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = INPUT_SHAPE
    if TASK == "segmentation":
        fields = torch.rand(n, NUM_CLASSES, max(1, h // 8), max(1, w // 8), generator=g)
        labels = torch.nn.functional.interpolate(fields, size=(h, w), mode="bilinear", align_corners=False).argmax(1)
        colours = torch.rand(NUM_CLASSES, c, generator=g)
        images = (colours[labels].permute(0, 3, 1, 2) + 0.1 * torch.randn(n, c, h, w, generator=g)).clamp(0, 1)
    else:
        templates = torch.rand(NUM_CLASSES, c, max(1, h // 4), max(1, w // 4), generator=g)
        templates = torch.nn.functional.interpolate(templates, size=(h, w), mode="bilinear", align_corners=False)
        labels = torch.randint(0, NUM_CLASSES, (n,), generator=g)
        images = (templates[labels] + 0.25 * torch.randn(n, c, h, w, generator=g)).clamp(0, 1)
    n_test = max(1, n // 6)
    classes = [str(i) for i in range(NUM_CLASSES)]
    return TensorDataset(images[n_test:], labels[n_test:]), TensorDataset(images[:n_test], labels[:n_test]), classes


def augment_pair(transform: object, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One training sample through the transforms; a mask moves with its image (v2 knows a Mask)."""
    if TASK == "segmentation":
        from torchvision import tv_tensors
        x, y = transform(x, tv_tensors.Mask(y))
        return x, y.as_subclass(torch.Tensor)
    return transform(x), y
