"""Command-line options shared by `cnn-designer train` and `cnn-designer eval`, and their translation
into a TrainConfig, a design and a data set (every user mistake becomes a CommandError)."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli import CommandError
from engine.compiler import input_shape
from engine.data import DEFAULT_DATASET, DatasetError, list_datasets, load_dataset
from engine.data.adapt import FIXES
from engine.graph_io import GraphFileError
from engine.safe_files import MAX_CONFIG_BYTES, FileLimitError, load_json_file
from engine.training.config import DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.graph import GraphSpec


def add_data_options(p: argparse.ArgumentParser) -> None:
    keys = [i.key for i in list_datasets()]
    g = p.add_argument_group("data")
    g.add_argument("--data", default=DEFAULT_DATASET, choices=keys, metavar="NAME",
                   help=f"data set: {', '.join(keys)} (default {DEFAULT_DATASET})")
    g.add_argument("--data-root", metavar="PATH",
                   help="for --data folder: a folder with one sub-folder of images per class; for mnist, "
                        "fashion_mnist, cifar10: where the files are or will be downloaded "
                        "(default $CNN_DESIGNER_DATA or ~/.cache/cnn-designer/datasets)")
    g.add_argument("--size", type=int, metavar="N", help="number of images for generated data sets (default 10000)")
    g.add_argument("--fix", choices=FIXES, action="append",
                   help="make the data fit the design's Input: resize, grey_to_rgb, rgb_to_grey, or auto (all needed)")
    g.add_argument("--no-download", action="store_true", help="never use the network; only local files")
    g.add_argument("--data-mode", choices=("auto", "memory", "stream", "cache"), default="auto",
                   help="for --data folder: hold the images in memory, read them from disk batch by batch while "
                        "training (stream: memory stays flat however large the folder), stream only when they "
                        "would not fit the memory limit (auto, the default), or decode them once into a uint8 "
                        "cache on disk that later epochs and runs read without decoding (cache: C*H*W bytes per "
                        "image, under $CNN_DESIGNER_DATA/decoded)")
    g.add_argument("--unreadable", choices=("skip", "stop"), default="skip",
                   help="for --data folder: leave out images that cannot be read and list them (skip, the default), "
                        "or stop and name them (stop)")
    g.add_argument("--seed", type=int, default=None, help="seed for data generation, splits and training (default 0)")


def add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--config", metavar="CONFIG.json", help="a TrainConfig JSON file; options below override it")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--momentum", type=float, help="SGD momentum")
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    g.add_argument("--step-size", type=int, help="epochs between decays for --schedule step")
    g.add_argument("--gamma", type=float, help="decay factor for --schedule step")
    g.add_argument("--val-fraction", type=float, help="share of the training images held out for validation")
    g.add_argument("--device", help=f"{', '.join(DEVICES)} or cuda:N (auto: CUDA, then Apple MPS, then CPU)")
    g.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    g.add_argument("--dice-weight", type=float, metavar="W",
                   help="segmentation: add W × the soft Dice loss to the per-pixel cross-entropy (helps small classes)")
    g.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value (0 = off)")
    g.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after this many epochs without a better validation loss (0 = off)")
    g.add_argument("--freeze", metavar="IDS", help="comma-separated layers whose weights stay fixed: ids (conv2d_1) or "
                                                          "module paths of an imported model (layer1 = all of layer1.*)")
    a = p.add_argument_group("augmentation (training images only)")
    a.add_argument("--crop-padding", type=int, metavar="PX", help="random crop after padding by PX pixels")
    a.add_argument("--hflip", action="store_true", help="random left-right flips")
    a.add_argument("--rotation", type=float, metavar="DEG", help="random rotation up to +/- DEG degrees")
    a.add_argument("--translate", type=float, metavar="FRAC", help="random shift up to FRAC of the image size")
    a.add_argument("--scale", type=float, metavar="FRAC", help="random zoom up to +/- FRAC")
    a.add_argument("--color-jitter", type=float, metavar="FRAC", help="random brightness/contrast/saturation")
    a.add_argument("--erasing", type=float, metavar="P", help="probability of erasing a random rectangle")


_FIELDS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer",
           "momentum": "momentum", "weight_decay": "weight_decay", "schedule": "schedule", "step_size": "step_size",
           "gamma": "gamma", "val_fraction": "val_fraction", "device": "device", "grad_clip": "grad_clip",
           "early_stopping": "early_stopping_patience", "seed": "seed", "size": "data_size",
           "dice_weight": "dice_weight"}
_AUG = {"crop_padding": "crop_padding", "rotation": "rotation", "translate": "affine_translate",
        "scale": "affine_scale", "color_jitter": "color_jitter", "erasing": "erasing"}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = {}
    if getattr(args, "config", None):
        try:  # bounded: --config /dev/zero, a FIFO or a deeply nested file is refused with a message
            base = load_json_file(Path(args.config), MAX_CONFIG_BYTES, "training config")
        except FileLimitError as exc:
            raise CommandError(str(exc)) from None
        if not isinstance(base, dict):
            raise CommandError(f"{args.config} must hold a JSON object of TrainConfig fields")
    values = dict(base)
    for arg, name in _FIELDS.items():
        if getattr(args, arg, None) is not None:
            values[name] = getattr(args, arg)
    aug = dict(values.get("augmentation") or {})
    for arg, name in _AUG.items():
        if getattr(args, arg, None) is not None:
            aug[name] = getattr(args, arg)
    if getattr(args, "hflip", False):
        aug["hflip"] = True
    values["augmentation"] = aug
    if getattr(args, "no_amp", False):
        values["mixed_precision"] = False
    if getattr(args, "freeze", None):
        values["freeze"] = [s.strip() for s in args.freeze.split(",") if s.strip()]
    try:
        return TrainConfig.from_dict(values)
    except ValueError as exc:
        raise CommandError(f"bad training option: {exc}") from None


def load_design(path: str) -> GraphSpec:
    """A design file or a built-in template's name, as the commands' DESIGN argument takes it."""
    from engine.templates import load_design_or_template

    try:
        return load_design_or_template(path)
    except GraphFileError as exc:
        raise CommandError(str(exc)) from None


def load_data(args: argparse.Namespace, graph: GraphSpec, config: TrainConfig,
              report: Callable[[str], None] | None = None) -> Dataset:
    """Load the data set for `graph`; a mismatch with the design's Input names the --fix that solves it."""
    try:
        want = input_shape(graph)
    except (IndexError, KeyError):
        raise CommandError(f"{args.design} has no Input node; add one") from None
    last = [-1.0]

    def progress(fraction, message):
        if report and fraction - last[0] >= 0.1 or fraction >= 1.0:
            last[0] = fraction
            if report:
                report(f"{message} ({fraction:.0%})")

    try:
        data = load_dataset(args.data, size=config.data_size, seed=config.seed, root=args.data_root,
                            progress=progress, input_shape=want, fix=args.fix, download=not args.no_download,
                            unreadable=getattr(args, "unreadable", "skip"),
                            data_mode=getattr(args, "data_mode", "auto"))
    except DatasetError as exc:
        hint = f" Add {' '.join('--fix ' + f for f in exc.fixes)} to do that." if exc.fixes else ""
        raise CommandError(f"{exc}{hint}") from None
    if getattr(data.train.images, "lazy", False) and report:
        from engine.memory_limit import format_size

        count = len(data.train) + len(data.val) + len(data.test)
        size = format_size(count * int(data.train.images.nelement() / max(len(data.train), 1)) * 4)
        report(f"note: the {count:,} images are read from disk batch by batch while training (in memory they would "
               f"take {size}; --data-mode memory to hold them)")
    if data.info.skipped and report:
        from engine.data.folder import unreadable_summary

        report(f"note: {len(data.info.skipped):,} image(s) could not be used and were left out (--unreadable stop "
               f"to stop instead):\n{unreadable_summary(data.info.skipped)}")
    return data
