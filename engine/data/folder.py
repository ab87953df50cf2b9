"""Any folder of images with one sub-folder per class (torchvision's ImageFolder layout), decoded once,
resized to the network's input size and converted to its channel count."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset

from engine.data.base import DatasetError, Split, split_off_test

if TYPE_CHECKING:
    from PIL import Image

TEST_FRACTION = 0.2
DEFAULT_SIZE = (3, 64, 64)
MAX_IMAGES = 200_000
MAX_DEPTH = 8                 # folders below a class folder
MAX_ENTRIES = 1_000_000       # files and folders looked at in one scan
MAX_CLASSES = 1000
MAX_PIXELS = 64_000_000       # one image (8000×8000); a 30000×30000 PNG of a few bytes is a decompression bomb
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def scan_image_folder(root: Path) -> tuple:
    """(class names, [(path, class index)]) of an image folder. Symbolic links are followed, but never into a
    folder already visited (a link loop), never deeper than MAX_DEPTH and never past MAX_ENTRIES entries,
    so any tree finishes scanning."""
    try:
        classes = sorted(e.name for e in os.scandir(root) if _is_dir(e) and not e.name.startswith("."))
    except OSError as exc:
        raise DatasetError(f"cannot read the image folder {root}: {exc.strerror or exc}") from None
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{root} has {len(classes)} class folders; at most {MAX_CLASSES} are supported")
    samples, seen, entries = [], set(), 0
    for index, name in enumerate(classes):
        stack = [(root / name, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                info = os.stat(folder)
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue          # a symbolic link back to a folder already scanned
                seen.add(key)
                found = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue              # unreadable or vanished: its images are simply not there
            entries += len(found)
            if entries > MAX_ENTRIES:
                raise DatasetError(f"{root} holds more than {MAX_ENTRIES:,} files and folders; point --data-root "
                                   f"(or the folder choice) at a smaller folder with one sub-folder per class")
            for entry in reversed(found):
                if _is_dir(entry):
                    if depth < MAX_DEPTH:
                        stack.append((Path(entry.path), depth + 1))
                elif entry.name.lower().endswith(IMAGE_SUFFIXES) and _is_file(entry):
                    samples.append((entry.path, index))
        if len(samples) > MAX_IMAGES:
            raise DatasetError(f"{root} holds more than {MAX_IMAGES} images; at most {MAX_IMAGES} are loaded "
                               f"into memory")
    return tuple(classes), samples


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def read_image(path: str, channels: int) -> Image.Image:
    """One image as a PIL image in grey (1) or RGB (3). ValueError saying why when it cannot be used."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ValueError(f"it claims {width}×{height} pixels, more than the {MAX_PIXELS:,} an image "
                                     f"may have (a decompression bomb, or a huge scan)")
                return img.convert("L" if channels == 1 else "RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(f"it is a decompression bomb ({exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError) as exc:
            if isinstance(exc, ValueError) and "pixels" in str(exc):
                raise
            raise ValueError(f"it is not a readable image ({type(exc).__name__}: {str(exc)[:100]})") from None


class _Images(Dataset):
    """The scanned images, decoded and resized in DataLoader workers. A file that cannot be read gives the
    label -1 - index instead of raising in the worker (whose traceback would be the message)."""

    def __init__(self, samples, shape, transform):
        self.samples, self.shape, self.transform = samples, tuple(shape), transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        try:
            return self.transform(read_image(path, self.shape[0])), label
        except Exception:  # reported by the main process, which reads the file again for the reason
            return torch.zeros(self.shape, dtype=torch.float32), -1 - index


def load_image_folder(root: Path, input_shape: Sequence[int] | None, seed: int,
                      progress: Callable[[float, str], None] | None = None) -> tuple[Split, Split, tuple[str, ...]]:
    import torchvision.transforms.v2 as T

    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist; pass a folder with one sub-folder per class")
    channels, height, width = tuple(input_shape) if input_shape else DEFAULT_SIZE
    if channels not in (1, 3):
        raise DatasetError(f"image folders give grey (1) or colour (3) images, but the network's Input has "
                           f"{channels} channels; set the Input's channels to 1 or 3")
    transform = T.Compose([T.PILToTensor(), T.Resize((height, width), antialias=True),
                           T.ToDtype(torch.float32, scale=True)])
    classes, samples = scan_image_folder(root)
    if len(classes) < 2:
        raise DatasetError(f"{root} has only {len(classes)} class folder(s); a classifier needs at least 2")
    if not samples:
        raise DatasetError(f"{root} holds no images (.png, .jpg, ...) in its class folders")
    folder = _Images(samples, (channels, height, width), transform)
    # Decode in worker processes, in batches, once; training then batches from memory.
    loader = DataLoader(folder, batch_size=256, num_workers=min(4, torch.get_num_threads()),
                        persistent_workers=False)
    images, labels = [], []
    try:
        for i, (x, y) in enumerate(loader):
            if (y < 0).any():
                path = samples[-1 - int(y[y < 0][0])][0]
                try:
                    read_image(path, channels)
                    why = "it cannot be decoded"
                except ValueError as exc:
                    why = str(exc)
                raise DatasetError(f"the image {path} cannot be used: {why}; remove or replace it")
            images.append(x)
            labels.append(y)
            if progress:
                progress(min(1.0, (i + 1) * 256 / len(folder)), f"Reading images from {root}")
    except (OSError, RuntimeError) as exc:
        raise DatasetError(f"the images in {root} cannot be read ({str(exc).splitlines()[0][:200]}); check "
                           f"the folder and try again") from None
    images, labels = torch.cat(images), torch.cat(labels).long()
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(classes)
