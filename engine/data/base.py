"""The data-set types: DatasetInfo (registry entry), Split (tensors), Dataset (train/val/test) and
DatasetError (a problem the user can fix, with the fixes that would solve it)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_VAL_FRACTION = 0.1


class DatasetError(Exception):
    """Anything the user must fix before training: missing files offline, a shape that does not match
    the network's Input, an empty folder. `fixes` names the options load_dataset(fix=...) accepts that
    would solve it (for example ("resize", "grey_to_rgb"))."""

    def __init__(self, message: str, fixes: tuple = ()):
        super().__init__(message)
        self.message = message
        self.fixes = tuple(fixes)


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    title: str
    description: str
    classes: tuple
    input_shape: tuple          # (channels, height, width) as delivered without fixes
    offline: bool               # usable with no network right now (built in, or the files are present)
    default_size: int | None = None   # generated sets: images made when no size is given
    source: str = ""            # where the images come from (a URL, a package, "generated")
    skipped: tuple = ()         # image folders: (path, reason) of each file left out because it cannot be used
    task: str = "classification"   # or "segmentation", "localization", "detection": see label_task()


@dataclass(frozen=True)
class Split:
    """One split: images float32 N×C×H×W in [0, 1] (a tensor, or for a folder too large for memory a
    FolderImages that reads them from disk when indexed), and labels whose form says the task (label_task)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self):
        if self.images.dim() != 4 or self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"a split needs N×C×H×W images and N labels, got {tuple(self.images.shape)} "
                             f"and {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: Sequence[int] | torch.Tensor | np.ndarray) -> "Split":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return Split(_take(self.images, idx), self.labels[idx])


class Dataset:
    """Train, validation and test splits of one data set, ready for fit().

    The validation split is cut from the training pool with a seeded permutation; use
    with_val_fraction() to cut a different share (fit() does this with the TrainConfig's value).
    """

    def __init__(self, info: DatasetInfo, pool: Split, test: Split, class_names, seed: int = 0,
                 val_fraction: float = DEFAULT_VAL_FRACTION):
        self.info = info
        self.class_names = tuple(class_names)
        self.seed = seed
        self._pool = pool
        self.test = test
        self.val_fraction = float(val_fraction)
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed + 7919))
        n_val = int(round(len(pool) * self.val_fraction))
        if self.val_fraction > 0 and len(pool) > 1:
            n_val = min(max(n_val, 1), len(pool) - 1)
        self.val = pool.subset(order[:n_val].sort().values)
        self.train = pool.subset(order[n_val:].sort().values)

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def input_shape(self) -> tuple:
        return tuple(int(s) for s in self.test.images.shape[1:])

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def with_val_fraction(self, fraction: float) -> "Dataset":
        if abs(fraction - self.val_fraction) < 1e-12:
            return self
        return Dataset(self.info, self._pool, self.test, self.class_names, self.seed, fraction)

    def sample_images(self, n: int = 16) -> np.ndarray:
        """n preview images as uint8 N×H×W×C, cycling through the classes (a thumbnail strip)."""
        pool = self._pool
        if label_task(pool.labels) in ("segmentation", "detection"):   # the first images (each shows several)
            imgs = pool.images[0:min(n, len(pool))]
            return (imgs.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        labels = pool.labels[:, 0].long() if pool.labels.dim() == 2 else pool.labels
        picks, labels = [], labels.numpy()
        by_class = [np.flatnonzero(labels == c) for c in range(self.num_classes)]
        round_ = 0
        while len(picks) < min(n, len(pool)):
            added = False
            for members in by_class:
                if round_ < len(members) and len(picks) < n:
                    picks.append(int(members[round_]))
                    added = True
            if not added:
                break
            round_ += 1
        imgs = pool.images[torch.tensor(picks, dtype=torch.long)] if picks else pool.images[:0]
        return (imgs.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def __repr__(self) -> str:
        return (f"Dataset({self.key!r}, input {self.input_shape}, {self.num_classes} classes, "
                f"train {len(self.train)}, val {len(self.val)}, test {len(self.test)})")


def label_task(labels: torch.Tensor) -> str:
    """The task labels are for, from their form: int64 N (a class per image: classification), int64 N×H×W (a
    class per pixel: segmentation), float32 N×5 (class and box corners as fractions of the image: localization)
    or float32 N×K×5 (K objects an image, class −1 for none: detection; engine.training.boxes)."""
    if labels.is_floating_point():
        return "localization" if labels.dim() == 2 else "detection"
    return "segmentation" if labels.dim() == 3 else "classification"


def split_off_test(images: torch.Tensor, labels: torch.Tensor, test_fraction: float,
                   seed: int) -> tuple[Split, Split]:
    """Cut a seeded test split from one array of samples: (pool, test)."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed + 104729))
    n_test = max(1, int(round(len(labels) * test_fraction)))
    test_idx, pool_idx = order[:n_test].sort().values, order[n_test:].sort().values
    return (Split(_take(images, pool_idx), labels[pool_idx]),
            Split(_take(images, test_idx), labels[test_idx]))


def _take(images, idx: torch.Tensor):
    """images[idx]; for images streamed from disk, the subset stays on disk (engine.data.folder_stream)."""
    return images.take(idx) if getattr(images, "lazy", False) else images[idx]
