"""Any folder of images with one sub-folder per class (torchvision's ImageFolder layout), decoded once,
resized to the network's input size and converted to its channel count."""
from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from engine.data.base import DatasetError, Split, split_off_test

if TYPE_CHECKING:
    from PIL import Image

TEST_FRACTION = 0.2
DEFAULT_SIZE = (3, 64, 64)
MAX_IMAGES = 200_000          # held in memory; larger folders are streamed from disk (folder_stream)
MAX_DEPTH = 8                 # folders below a class folder
MAX_ENTRIES = 5_000_000       # files and folders looked at in one scan (ImageNet's training set has 1.3 million)
MAX_CLASSES = 1000
MAX_PIXELS = 64_000_000       # one image (8000×8000); a 30000×30000 PNG of a few bytes is a decompression bomb
SCAN_REPORT_EVERY = 2_000     # entries between progress reports while scanning
UNREADABLE_LISTED = 1_000     # unreadable files named in the report (the rest are counted)
UNREADABLE_CHOICES = ("skip", "stop")
DATA_MODES = ("auto", "memory", "stream", "cache")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def scan_image_folder(root: Path, progress: Callable[[float, str], None] | None = None) -> tuple:
    """(class names, [(path, class index)]) of an image folder. Symbolic links are followed, but never into a
    folder already visited (a link loop), never deeper than MAX_DEPTH and never past MAX_ENTRIES entries,
    so any tree finishes scanning. progress(0, "… N images found") is called as the scan goes."""
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
            if progress is not None and entries // SCAN_REPORT_EVERY != (entries - len(found)) // SCAN_REPORT_EVERY:
                progress(0.0, f"Scanning {root}: {len(samples):,} images found in {index + 1} of {len(classes)} "
                              f"class folders")
            if entries > MAX_ENTRIES:
                raise DatasetError(f"{root} holds more than {MAX_ENTRIES:,} files and folders; point --data-root "
                                   f"(or the folder choice) at a smaller folder with one sub-folder per class")
            for entry in reversed(found):
                if _is_dir(entry):
                    if depth < MAX_DEPTH:
                        stack.append((Path(entry.path), depth + 1))
                elif entry.name.lower().endswith(IMAGE_SUFFIXES) and _is_file(entry):
                    samples.append((entry.path, index))
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


@contextlib.contextmanager
def _opened(path: str) -> Iterator[Image.Image]:
    """The image at `path`, opened (its header read) and within MAX_PIXELS. Any failure, also while the caller
    decodes it, becomes a ValueError saying why in the user's words."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise _TooLarge(f"it claims {width}×{height} pixels, more than the {MAX_PIXELS:,} an image "
                                    f"may have (a decompression bomb, or a huge scan)")
                yield img
        except _TooLarge as exc:
            raise ValueError(str(exc)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(f"it is a decompression bomb ({exc})") from None
        except Image.UnidentifiedImageError:   # its message repeats the path
            raise ValueError("it is not a readable image (not an image file, or a format PIL cannot read)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ValueError(f"it is not a readable image ({type(exc).__name__}: {str(exc)[:100]})") from None


class _TooLarge(Exception):
    """An image over MAX_PIXELS (kept apart from PIL's own ValueErrors, whose message is rephrased)."""


def read_image(path: str, channels: int, size: Sequence[int] | None = None) -> Image.Image:
    """One image as a PIL image in grey (1) or RGB (3). ValueError saying why when it cannot be used.

    With the (height, width) it will be resized to, a JPEG at least twice as large is decoded at a reduced
    scale (PIL's draft: the decoder skips the detail a downscale would throw away), never below that size."""
    mode = "L" if channels == 1 else "RGB"
    with _opened(path) as img:
        width, height = img.size
        if size is not None and img.format == "JPEG" and width >= 2 * size[1] and height >= 2 * size[0]:
            img.draft(mode, (size[1], size[0]))
        return img.convert(mode)


class _Images(Dataset):
    """The scanned images, decoded and resized in DataLoader workers: uint8, or float32 in [0, 1] when
    `scaled`. A file that cannot be read gives the label -1 - index instead of raising in the worker (whose
    traceback would be the message)."""

    def __init__(self, samples, shape, scaled: bool = True):
        self.samples, self.shape, self.scaled = samples, tuple(shape), scaled
        self.transform = None

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        if self.transform is None:   # built in the worker: v2 transforms need not pickle
            import torchvision.transforms.v2 as T

            steps = [T.PILToTensor(), T.Resize(self.shape[1:], antialias=True)]
            self.transform = T.Compose(steps + ([T.ToDtype(torch.float32, scale=True)] if self.scaled else []))
        path, label = self.samples[index]
        try:
            return self.transform(read_image(path, self.shape[0], self.shape[1:])), label
        except Exception:  # reported by the main process, which reads the file again for the reason
            return torch.zeros(self.shape, dtype=torch.float32 if self.scaled else torch.uint8), -1 - index


def decode_batches(root: Path, samples: Sequence[tuple], shape: Sequence[int],
                   progress: Callable[[float, str], None] | None, scaled: bool = True,
                   verb: str = "Reading") -> Iterator[tuple[torch.Tensor, torch.Tensor, list]]:
    """(images, labels, indices of the samples that failed) per batch, decoded in worker processes, in order."""
    folder = _Images(samples, shape, scaled)
    loader = DataLoader(folder, batch_size=256, num_workers=min(4, torch.get_num_threads()),
                        persistent_workers=False)
    started, done, failures = time.monotonic(), 0, 0
    try:
        for x, y in loader:
            bad = y < 0
            failed = [-1 - int(v) for v in y[bad]]
            done, failures = done + len(y), failures + len(failed)
            yield x[~bad], y[~bad], failed
            if progress:
                progress(done / len(folder), _reading_text(root, done, len(folder), failures, started, verb))
    except (OSError, RuntimeError) as exc:
        raise DatasetError(f"the images in {root} cannot be read ({str(exc).splitlines()[0][:200]}); check "
                           f"the folder and try again") from None


def load_image_folder(root: Path, input_shape: Sequence[int] | None, seed: int,
                      progress: Callable[[float, str], None] | None = None,
                      unreadable: str = "skip", data_mode: str = "auto") -> tuple[Split, Split, tuple[str, ...], tuple]:
    """(pool, test, class names, skipped): the folder's images at the Input's size. A file that cannot be used
    is left out and listed in `skipped` as (path, reason) with unreadable="skip", after reading all the others;
    with "stop", DatasetError names every such file (the first UNREADABLE_LISTED).

    data_mode "memory" decodes every image once into memory; "stream" keeps only the file list and decodes
    batches while training (engine.data.folder_stream), so memory stays flat however large the folder is;
    "auto" streams when the decoded images would not fit the memory limit or number over MAX_IMAGES."""
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist; pass a folder with one sub-folder per class")
    channels, height, width = tuple(input_shape) if input_shape else DEFAULT_SIZE
    if channels not in (1, 3):
        raise DatasetError(f"image folders give grey (1) or colour (3) images, but the network's Input has "
                           f"{channels} channels; set the Input's channels to 1 or 3")
    if data_mode not in DATA_MODES:
        raise DatasetError(f"the data mode is one of {', '.join(DATA_MODES)}; got {data_mode!r}")
    if unreadable not in UNREADABLE_CHOICES:
        raise DatasetError(f"unreadable images can be skipped or stop the load ({', '.join(UNREADABLE_CHOICES)}); "
                           f"got {unreadable!r}")
    classes, samples = scan_image_folder(root, progress)
    if len(classes) < 2:
        raise DatasetError(f"{root} has only {len(classes)} class folder(s); a classifier needs at least 2")
    if not samples:
        raise DatasetError(f"{root} holds no images (.png, .jpg, ...) in its class folders")
    if data_mode == "cache":
        from engine.data.decoded_cache import cached_folder

        images, labels, skipped = cached_folder(root, samples, (channels, height, width), progress, unreadable)
        pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
        return pool, test, tuple(classes), skipped
    if streamed(len(samples), (channels, height, width), data_mode):
        return _stream(root, samples, classes, (channels, height, width), seed, progress, unreadable)
    if len(samples) > MAX_IMAGES:
        raise DatasetError(f"{root} holds {len(samples):,} images; at most {MAX_IMAGES:,} are loaded into memory. "
                           f"Stream them from disk instead (--data-mode stream, or Automatic in the app)")
    # Decode in worker processes, in batches, once; training then batches from memory.
    images, labels, failed = [], [], []
    for x, y, bad in decode_batches(root, samples, (channels, height, width), progress):
        images.append(x)
        labels.append(y)
        failed += bad
    skipped = unusable(root, samples, failed, channels, unreadable)
    images, labels = torch.cat(images), torch.cat(labels).long()
    if len(labels) < 2:
        raise DatasetError(f"none of the images in {root} can be used: {_first_few(skipped)}")
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(classes), skipped


def unusable(root: Path, samples: Sequence[tuple], failed: Sequence[int], channels: int, unreadable: str) -> tuple:
    """(path, reason) of each sample that failed; with unreadable="stop", DatasetError naming them."""
    skipped = tuple((samples[i][0], _reason(samples[i][0], channels, n)) for n, i in enumerate(failed))
    if failed and unreadable == "stop":
        raise DatasetError(f"{len(failed):,} of the {len(samples):,} images in {root} cannot be used: "
                           f"{_first_few(skipped)}; remove or replace them, or let the load leave them out")
    return skipped


def streamed(count: int, shape: Sequence[int], data_mode: str) -> bool:
    """Whether a folder of `count` images of `shape` is streamed from disk rather than held in memory."""
    if data_mode != "auto":
        return data_mode == "stream"
    from engine.memory_limit import current_limit

    return count > MAX_IMAGES or count * int(np.prod(shape)) * 4 > current_limit()


def _stream(root, samples, classes, shape, seed, progress, unreadable):
    """Check every file's header (cheap: no pixels are decoded) and keep the readable ones as a FolderImages."""
    from engine.data.folder_stream import FolderImages

    kept, failed, started = [], [], time.monotonic()
    for n, (path, label) in enumerate(samples, start=1):
        try:
            check_image(path)
            kept.append((path, label))
        except ValueError as exc:
            failed.append((path, str(exc)))
        if progress and (n % 512 == 0 or n == len(samples)):
            progress(n / len(samples), _reading_text(root, n, len(samples), len(failed), started, "Checking"))
    skipped = tuple(failed)
    if failed and unreadable == "stop":
        raise DatasetError(f"{len(failed):,} of the {len(samples):,} images in {root} cannot be used: "
                           f"{_first_few(skipped)}; remove or replace them, or let the load leave them out")
    if len(kept) < 2:
        raise DatasetError(f"none of the images in {root} can be used: {_first_few(skipped)}")
    images = FolderImages([p for p, _ in kept], shape)
    labels = torch.tensor([label for _, label in kept], dtype=torch.long)
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(classes), skipped


def check_image(path: str) -> None:
    """ValueError saying why, when a file is not an image PIL can open or is too large; reads its header only."""
    with _opened(path):
        pass


def _reading_text(root: Path, done: int, total: int, failed: int, started: float, verb: str = "Reading") -> str:
    """"Reading images from …: 2,560 of 10,000, about 12 s left (1 unreadable)"."""
    elapsed = time.monotonic() - started
    left = elapsed / done * (total - done) if done else 0.0
    when = f", about {left:.0f} s left" if done < total and elapsed > 1 else ""
    bad = f" ({failed:,} unreadable)" if failed else ""
    return f"{verb} images from {root}: {done:,} of {total:,}{when}{bad}"


def _reason(path: str, channels: int, listed: int) -> str:
    """Why a file could not be used: read again here, in the main process, for the first UNREADABLE_LISTED."""
    if listed >= UNREADABLE_LISTED:
        return "it cannot be decoded"
    try:
        read_image(path, channels)
        return "it cannot be decoded"
    except ValueError as exc:
        return str(exc)


def _first_few(skipped: Sequence[tuple], shown: int = 3) -> str:
    """The first files that cannot be used and why, on one line (an error message)."""
    text = "; ".join(f"{path} ({reason})" for path, reason in skipped[:shown])
    return text + (f"; and {len(skipped) - shown:,} more" if len(skipped) > shown else "")


def unreadable_summary(skipped: Sequence[tuple], shown: int = 10) -> str:
    """One line per file that could not be used (the first `shown`), then how many more."""
    lines = [f"  - {path}: {reason}" for path, reason in skipped[:shown]]
    if len(skipped) > shown:
        lines.append(f"  ... and {len(skipped) - shown:,} more")
    return "\n".join(lines)
