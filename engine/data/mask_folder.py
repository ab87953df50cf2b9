"""Your own images with masks, for segmentation:

    ROOT/images/NAME.jpg (or .png, ...)   the pictures
    ROOT/masks/NAME.png                   for each picture, a single-channel PNG of the same size whose pixel
                                          values are class numbers (0, 1, 2, ...)
    ROOT/classes.txt                      optional: one class name per line, class 0 first

Images are resized to the Input's size (bilinear) and masks with them (nearest, so every pixel keeps a class).
A picture without a usable mask is left out and listed with the reason, or stops the load (unreadable="stop").
The pairs are held in memory.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from engine.data.base import DatasetError, Split, split_off_test
from engine.data.folder import DEFAULT_SIZE, IMAGE_SUFFIXES, MAX_IMAGES, TEST_FRACTION, _first_few, _opened, \
    _reading_text, read_image
from engine.safe_files import repair_text
from engine.units import KB, format_bytes

MAX_CLASSES = 256
CLASSES_FILE_LIMIT = 64 * KB
MASK_MODES = ("L", "P", "1")

Progress = Callable[[float, str], None]


def load_mask_folder(root: Path, input_shape: Sequence[int] | None, seed: int, progress: Progress | None = None,
                     unreadable: str = "skip", data_mode: str = "auto") -> tuple[Split, Split, tuple, tuple]:
    """(pool, test, class names, skipped): images N×C×H×W in [0, 1] and int64 masks N×H×W at the Input's size."""
    import time

    channels, height, width = in_memory_shape(input_shape, data_mode, "masks")
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise DatasetError(f"{root} needs two folders: images/ with the pictures and masks/ with one PNG of "
                           f"class numbers per picture (the same name, .png)")
    names = _class_names(root)
    pairs = _pairs(images_dir, masks_dir)
    if not pairs:
        raise DatasetError(f"{images_dir} holds no pictures (.png, .jpg, ...)")
    if len(pairs) > MAX_IMAGES:
        raise DatasetError(f"{root} holds {len(pairs):,} pictures; at most {MAX_IMAGES:,} with masks are loaded")
    loader = DataLoader(_Pairs(pairs, (channels, height, width)), batch_size=128,
                        num_workers=min(4, torch.get_num_threads()), persistent_workers=False)
    images, masks, failed, started, done = [], [], [], time.monotonic(), 0
    try:
        for x, m, ok in loader:
            failed += [int(i) for i in (-1 - ok[ok < 0])]
            images.append(x[ok >= 0])
            masks.append(m[ok >= 0])
            done += len(ok)
            if progress:
                progress(done / len(pairs), _reading_text(root, done, len(pairs), len(failed), started))
    except (OSError, RuntimeError) as exc:
        raise DatasetError(f"the pictures in {root} cannot be read ({str(exc).splitlines()[0][:200]}); check the "
                           f"folder and try again") from None
    dropped = set(failed)
    kept = [i for i in range(len(pairs)) if i not in dropped]
    images, masks = (torch.cat(images), torch.cat(masks)) if kept else (None, None)
    skipped = [(pairs[i][0], _why(pairs[i], channels)) for i in failed]
    if kept:
        images, masks, skipped = _check_classes(images, masks, [pairs[i] for i in kept], names, skipped)
    if skipped and unreadable == "stop":
        raise DatasetError(f"{len(skipped):,} of the {len(pairs):,} pictures in {root} cannot be used: "
                           f"{_first_few(skipped)}; fix or remove them, or let the load leave them out")
    if images is None or len(images) < 2:
        raise DatasetError(f"fewer than two pictures in {root} can be used: {_first_few(skipped)}")
    classes = names or tuple(f"class {c}" for c in range(max(2, int(masks.max()) + 1)))
    pool, test = split_off_test(images, masks, TEST_FRACTION, seed)
    return pool, test, classes, tuple(skipped)


def in_memory_shape(input_shape: Sequence[int] | None, data_mode: str, labels: str) -> tuple[int, int, int]:
    """(channels, height, width) to read pictures at, for a folder whose pictures and `labels` are held in memory
    (the data mode must allow it, and pictures come in grey or colour)."""
    if data_mode not in ("auto", "memory"):
        raise DatasetError(f"images with {labels} are held in memory; choose the data mode Automatic or memory")
    channels, height, width = tuple(input_shape) if input_shape else DEFAULT_SIZE
    if channels not in (1, 3):
        raise DatasetError(f"images give grey (1) or colour (3) pictures, but the network's Input has {channels} "
                           f"channels; set the Input's channels to 1 or 3")
    return channels, height, width


def _pairs(images_dir: Path, masks_dir: Path) -> list:
    """(picture path, mask path or "") for every picture, sorted by name."""
    masks = {Path(e.name).stem: e.path for e in os.scandir(masks_dir) if e.name.lower().endswith(".png")}
    pictures = sorted(e.path for e in os.scandir(images_dir)
                      if e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES)
    return [(p, masks.get(Path(p).stem, "")) for p in pictures]


def _class_names(root: Path, least: int = 2, rule: str = "a segmentation needs 2 to {most} (background first)") -> tuple:
    """The names in ROOT/classes.txt (one a line), or () without the file; `rule` words the count it needs."""
    path = root / "classes.txt"
    if not path.is_file():
        return ()
    with open(path, "rb") as f:
        raw = f.read(CLASSES_FILE_LIMIT + 1)
    if len(raw) > CLASSES_FILE_LIMIT:
        raise DatasetError(f"{path} is larger than {format_bytes(CLASSES_FILE_LIMIT)}; it lists one class name per "
                           f"line")
    names = tuple(repair_text(line.strip())[:200] for line in raw.decode("utf-8", "replace").splitlines()
                  if line.strip())
    if not least <= len(names) <= MAX_CLASSES:
        raise DatasetError(f"{path} names {len(names)} classes; {rule.format(most=MAX_CLASSES)}, one per line")
    return names


def read_mask(path: str, size: tuple | None = None) -> np.ndarray:
    """The class numbers of a mask PNG (uint8 H×W), checked; resized to `size` (height, width) by nearest."""
    from PIL import Image

    if not path:
        raise ValueError("it has no mask (masks/ holds no PNG of the same name)")
    with _opened(path) as img:
        if img.mode not in MASK_MODES:
            raise ValueError(f"its mask {Path(path).name} is {img.mode} (colour); save masks as single-channel PNGs "
                             f"whose pixel values are class numbers")
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), Image.Resampling.NEAREST)
        return np.asarray(img, dtype=np.uint8).copy()


class _Pairs(Dataset):
    """Pictures and masks decoded in DataLoader workers; a pair that cannot be used comes back with
    ok = -1 - index (the main process reads it again for the reason)."""

    def __init__(self, pairs: list, shape: tuple) -> None:
        self.pairs, self.shape, self.transform = pairs, shape, None

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple:
        if self.transform is None:
            import torchvision.transforms.v2 as T

            self.transform = T.Compose([T.PILToTensor(), T.Resize(self.shape[1:], antialias=True),
                                        T.ToDtype(torch.float32, scale=True)])
        picture, mask = self.pairs[index]
        try:
            _same_size(picture, mask)
            x = self.transform(read_image(picture, self.shape[0]))
            m = torch.from_numpy(read_mask(mask, self.shape[1:]).astype(np.int64))
            return x, m, index
        except Exception:  # the reason is worded in the main process
            return torch.zeros(self.shape), torch.zeros(self.shape[1:], dtype=torch.long), -1 - index


def _same_size(picture: str, mask: str) -> None:
    if not mask:
        raise ValueError("it has no mask (masks/ holds no PNG of the same name)")
    with _opened(picture) as a, _opened(mask) as b:
        if a.size != b.size:
            raise ValueError(f"its mask is {b.size[0]}×{b.size[1]} but the picture {a.size[0]}×{a.size[1]}; a mask "
                             f"has its picture's size")


def _why(pair: tuple, channels: int) -> str:
    try:
        _same_size(*pair)
        read_image(pair[0], channels)
        read_mask(pair[1])
        return "it cannot be decoded"
    except ValueError as exc:
        return str(exc)


def _check_classes(images: torch.Tensor, masks: torch.Tensor, pairs: list, names: tuple, skipped: list) -> tuple:
    """Leave out masks with class numbers that classes.txt does not name."""
    if not names:
        return images, masks, skipped
    top = masks.reshape(len(masks), -1).amax(dim=1)
    bad = (top >= len(names)).nonzero().flatten().tolist()
    for i in bad:
        skipped.append((pairs[i][0], f"its mask has class {int(top[i])} but classes.txt names {len(names)} classes "
                                     f"(0 to {len(names) - 1})"))
    keep = top < len(names)
    return images[keep], masks[keep], skipped
