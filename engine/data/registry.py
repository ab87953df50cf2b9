"""The data-set registry: one entry per key, each with a loader returning (pool, test, class_names)."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Iterable
from typing import Callable

from engine.data.adapt import check_and_fix
from engine.data.base import Dataset, DatasetError, DatasetInfo

DEFAULT_DATASET = "generated_digits"
DIGIT_NAMES = tuple(str(d) for d in range(10))


def default_root() -> Path:
    """Where downloaded data sets live: $CNN_DESIGNER_DATA, else ~/.cache/cnn-designer/datasets."""
    env = os.environ.get("CNN_DESIGNER_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cnn-designer" / "datasets"


@dataclass(frozen=True)
class _Entry:
    info: DatasetInfo
    # (size, seed, root, progress, download, input_shape, options) -> (pool, test, class_names[, skipped]);
    # options: what image folders are told (unreadable, data_mode)
    load: Callable


def _generated_digits(size, seed, root, progress, download, input_shape, options):
    from engine.data.generated_digits import make_digits
    return make_digits(size or 10_000, seed, progress)


def _generated_shapes(size, seed, root, progress, download, input_shape, options):
    from engine.data.generated_shapes import make_shapes
    return make_shapes(size or 10_000, seed, progress)


def _generated_scenes(size, seed, root, progress, download, input_shape, options):
    from engine.data.generated_scenes import make_scenes
    return make_scenes(size or 4_000, seed, input_shape, progress)


def _scene_boxes(task):
    def load(size, seed, root, progress, download, input_shape, options):
        from engine.data.generated_scenes import make_scenes
        return make_scenes(size or 4_000, seed, input_shape, progress, task)
    return load


def _uci_digits(size, seed, root, progress, download, input_shape, options):
    from engine.data.uci_digits import load_uci_digits
    return load_uci_digits(seed)


def _torchvision(key):
    def load(size, seed, root, progress, download, input_shape, options):
        from engine.data.torchvision_sets import load_torchvision_set
        return load_torchvision_set(key, Path(root) if root else default_root(), progress, download)
    return load


def _folder(size, seed, root, progress, download, input_shape, options):
    from engine.data.folder import load_image_folder
    if not root:
        raise DatasetError("the folder data set needs a folder: pass root (--data-root PATH) pointing to a "
                           "folder with one sub-folder of images per class")
    return load_image_folder(Path(root), input_shape, seed, progress, **options)


def _mask_folder(size, seed, root, progress, download, input_shape, options):
    from engine.data.mask_folder import load_mask_folder
    if not root:
        raise DatasetError("the mask folder data set needs a folder: pass root (--data-root PATH) holding images/ "
                           "and masks/")
    return load_mask_folder(Path(root), input_shape, seed, progress, **options)


def _box_folder(task):
    def load(size, seed, root, progress, download, input_shape, options):
        from engine.data.box_folder import load_box_folder
        if not root:
            raise DatasetError("the box folder data set needs a folder: pass root (--data-root PATH) holding images/ "
                               "and boxes.csv")
        return load_box_folder(Path(root), input_shape, seed, progress, task=task, **options)
    return load


def _entries() -> dict:
    from engine.data.generated_scenes import OBJECT_CLASSES, SCENE_CLASSES
    from engine.data.generated_shapes import SHAPE_NAMES
    from engine.data.torchvision_sets import files_present, source

    fashion = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
    cifar = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    root = default_root()
    entries = [
        _Entry(DatasetInfo("generated_digits", "Generated digits",
                           "Digits 0–9 drawn from pen strokes with random rotation, scale, shift, thickness and "
                           "noise; 28×28 grey, any size, made in seconds from a seed.",
                           DIGIT_NAMES, (1, 28, 28), True, 10_000, "generated"), _generated_digits),
        _Entry(DatasetInfo("uci_digits", "Handwritten digits (UCI)",
                           "1,797 handwritten digits, 8×8 grey, shipped inside scikit-learn; can be upscaled "
                           "to the network's input size (fix: resize).",
                           DIGIT_NAMES, (1, 8, 8), True, None, "scikit-learn load_digits"), _uci_digits),
        _Entry(DatasetInfo("generated_shapes", "Generated shapes",
                           "Shapes at random positions, sizes and colours, 32×32 colour: the same shape "
                           "anywhere in the image is the same class, which is why convolution helps.",
                           SHAPE_NAMES, (3, 32, 32), True, 10_000, "generated"), _generated_shapes),
        _Entry(DatasetInfo("scenes", "Generated scenes (segmentation)",
                           "One to four circles, squares and triangles on textured backgrounds, with the class of "
                           "every pixel: for networks that label each pixel. Drawn at the Input's size (64×64 "
                           "by default), any number, in seconds from a seed.",
                           SCENE_CLASSES, (3, 64, 64), True, 4_000, "generated", task="segmentation"),
               _generated_scenes),
        _Entry(DatasetInfo("scene_objects", "Generated scenes with boxes (detection)",
                           "The same scenes with a box around every shape: for networks that find each object "
                           "and its class. One to four shapes an image, partly hidden ones too.",
                           OBJECT_CLASSES, (3, 64, 64), True, 4_000, "generated", task="detection"),
               _scene_boxes("detection")),
        _Entry(DatasetInfo("single_objects", "Generated single shapes (localization)",
                           "One shape an image on a textured background, with its class and the box around it: "
                           "for networks that say what the object is and where.",
                           OBJECT_CLASSES, (3, 64, 64), True, 4_000, "generated", task="localization"),
               _scene_boxes("localization")),
        _Entry(DatasetInfo("mnist", "MNIST", "70,000 handwritten digits, 28×28 grey (downloaded once).",
                           DIGIT_NAMES, (1, 28, 28), files_present("mnist", root),
                           None, source("mnist")), _torchvision("mnist")),
        _Entry(DatasetInfo("fashion_mnist", "Fashion-MNIST",
                           "70,000 clothing images in 10 classes, 28×28 grey (downloaded once).",
                           fashion, (1, 28, 28), files_present("fashion_mnist", root),
                           None, source("fashion_mnist")), _torchvision("fashion_mnist")),
        _Entry(DatasetInfo("cifar10", "CIFAR-10",
                           "60,000 small photos in 10 classes, 32×32 colour (downloaded once).",
                           cifar, (3, 32, 32), files_present("cifar10", root),
                           None, source("cifar10")), _torchvision("cifar10")),
        _Entry(DatasetInfo("folder", "Image folder",
                           "Your own images: a folder with one sub-folder per class (ImageFolder layout), "
                           "resized to the network's input size.",
                           (), (3, 0, 0), True, None, "a local folder"), _folder),
        _Entry(DatasetInfo("mask_folder", "Image folder with masks (segmentation)",
                           "Your own pictures with a class for every pixel: images/ holds the pictures, masks/ a "
                           "single-channel PNG of class numbers for each (the same name), classes.txt optionally "
                           "names the classes, background first. Resized to the network's input size.",
                           (), (3, 0, 0), True, None, "a local folder", task="segmentation"), _mask_folder),
        _Entry(DatasetInfo("box_folder", "Image folder with boxes (detection)",
                           "Your own pictures with a box around every object: images/ holds the pictures, boxes.csv "
                           "one row per object (image,class,x0,y0,x1,y1 in pixels), classes.txt optionally fixes "
                           "the classes' order. Resized to the network's input size; boxes move with them.",
                           (), (3, 0, 0), True, None, "a local folder", task="detection"), _box_folder("detection")),
        _Entry(DatasetInfo("box_folder_single", "Image folder with one box each (localization)",
                           "Your own pictures with one object each: images/ and boxes.csv as for detection, one "
                           "row per picture. Pictures with no box or several are left out and listed.",
                           (), (3, 0, 0), True, None, "a local folder", task="localization"),
               _box_folder("localization")),
    ]
    return {e.info.key: e for e in entries}


def list_datasets() -> list:
    """Every registered data set, the built-in default first."""
    return [e.info for e in _entries().values()]


def dataset_info(key: str) -> DatasetInfo:
    entries = _entries()
    if key not in entries:
        raise DatasetError(f"unknown data set {key!r}; choose from {', '.join(entries)}")
    return entries[key].info


def load_dataset(key: str = DEFAULT_DATASET, size: int | None = None, seed: int = 0,
                 root: str | os.PathLike[str] | None = None, progress: Callable | None = None,
                 input_shape: tuple | None = None, fix: str | Iterable[str] | None = None,
                 download: bool = True, unreadable: str = "skip", data_mode: str = "auto") -> Dataset:
    """Load (or generate) a data set and split it into train, validation and test.

    size: number of images for generated sets. root: a folder for the folder set, or where MNIST /
    Fashion-MNIST / CIFAR-10 files live (default: default_root()). progress(fraction, message) is called
    while downloading or generating. input_shape (C,H,W): the network's Input; a mismatch raises
    DatasetError listing the fixes, which fix= ("resize", "grey_to_rgb", "rgb_to_grey" or "auto")
    applies. download=False never touches the network. unreadable: what an image folder does with files it
    cannot use, "skip" (left out, listed in the result's info.skipped) or "stop" (DatasetError naming them).
    data_mode: an image folder's images held in memory ("memory"), read from disk batch by batch while training
    ("stream"), streamed only when they would not fit the memory limit ("auto"), or decoded once into a uint8
    cache on disk and read from it ("cache", engine.data.decoded_cache).
    """
    entries = _entries()
    if key not in entries:
        raise DatasetError(f"unknown data set {key!r}; choose from {', '.join(entries)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 10):
        raise DatasetError(f"size must be a whole number of at least 10 images, got {size!r}")
    entry = entries[key]
    options = {"unreadable": unreadable, "data_mode": data_mode}
    pool, test, class_names, *rest = entry.load(size, seed, root, progress, download, input_shape, options)
    have = tuple(pool.images.shape[1:])
    info = replace(entry.info, input_shape=have, classes=tuple(class_names), offline=True,
                   skipped=tuple(rest[0]) if rest else ())
    pool, test = check_and_fix(pool, test, have, input_shape, fix, info.title)
    return Dataset(info, pool, test, class_names, seed)
