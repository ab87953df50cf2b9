"""Your own images with boxes, for detection and localization:

    ROOT/images/NAME.jpg (or .png, ...)   the pictures
    ROOT/boxes.csv                        one row per object: image,class,x0,y0,x1,y1 with a header row;
                                          image is the picture's file name (or name without
                                          its extension), class a name, and x0,y0 (left, top)
                                          and x1,y1 (right, bottom) are pixels of the picture as it is on disk
    ROOT/classes.txt                      optional: one class name per line, fixing their order

For detection a picture may hold any number of objects (up to MAX_OBJECTS), none included; for localization
each picture must hold exactly one. Boxes are stored as fractions of their picture, so resizing to the Input's
size keeps them in place. A picture whose rows cannot be used is left out and listed with the reason, or stops
the load (unreadable="stop"). The pictures are held in memory.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from engine.data.base import DatasetError, Split, split_off_test
from engine.data.folder import IMAGE_SUFFIXES, MAX_IMAGES, TEST_FRACTION, _first_few, _opened, decode_batches
from engine.data.mask_folder import MAX_CLASSES, _class_names, in_memory_shape
from engine.safe_files import repair_text
from engine.units import MB, format_bytes

CSV_LIMIT = 64 * MB
MAX_OBJECTS = 100          # per picture
MAX_ROWS = 2_000_000
COLUMNS = ("image", "class", "x0", "y0", "x1", "y1")

Progress = Callable[[float, str], None]


def load_box_folder(root: Path, input_shape: Sequence[int] | None, seed: int, progress: Progress | None = None,
                    unreadable: str = "skip", data_mode: str = "auto",
                    task: str = "detection") -> tuple[Split, Split, tuple, tuple]:
    """(pool, test, class names, skipped): images N×C×H×W in [0, 1] at the Input's size with float32 labels, N×K×5
    for detection (class −1 pads) or N×5 for localization (engine.training.boxes)."""
    channels, height, width = in_memory_shape(input_shape, data_mode, "boxes")
    images_dir, table = root / "images", root / "boxes.csv"
    if not images_dir.is_dir() or not table.is_file():
        raise DatasetError(f"{root} needs images/ with the pictures and boxes.csv with one row per object "
                           f"({','.join(COLUMNS)}, in pixels)")
    pictures = sorted(e.name for e in os.scandir(images_dir)
                      if e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES)
    if not pictures:
        raise DatasetError(f"{images_dir} holds no pictures (.png, .jpg, ...)")
    if len(pictures) > MAX_IMAGES:
        raise DatasetError(f"{root} holds {len(pictures):,} pictures; at most {MAX_IMAGES:,} with boxes are loaded")
    rows, problems = read_box_table(table, set(pictures))
    names = _class_names(root, 1, "boxes need 1 to {most} classes") or \
        tuple(sorted({cls for objects in rows.values() for cls, _ in objects}))
    if not names:
        raise DatasetError(f"{table} lists no objects; add one row per object ({','.join(COLUMNS)})")
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"{table} names {len(names):,} classes; at most {MAX_CLASSES} are used")
    skipped = [(str(images_dir / name), why) for name, why in problems.items()]
    wanted = []
    for name in pictures:
        if name in problems:
            continue
        objects = rows.get(name, [])
        why = _unusable(objects, names, task)
        if why:
            skipped.append((str(images_dir / name), why))
        else:
            wanted.append((name, objects))
    labels, kept, images = [], [], []
    samples = [(str(images_dir / name), i) for i, (name, _) in enumerate(wanted)]
    for x, index, failed in decode_batches(root, samples, (channels, height, width), progress):
        images.append(x)
        kept.extend(int(i) for i in index)
        skipped.extend((samples[i][0], "it cannot be decoded") for i in failed)
    for i in kept:
        labels.append(_label(wanted[i], images_dir, names, task))
    skipped.extend((str(images_dir / wanted[i][0]), why) for i, why in enumerate(labels) if isinstance(why, str))
    usable = [j for j, label in enumerate(labels) if not isinstance(label, str)]
    if skipped and unreadable == "stop":
        raise DatasetError(f"{len(skipped):,} of the {len(pictures):,} pictures in {root} cannot be used: "
                           f"{_first_few(skipped)}; fix or remove them, or let the load leave them out")
    if len(usable) < 2:
        raise DatasetError(f"fewer than two pictures in {root} can be used: {_first_few(skipped)}")
    images = torch.cat(images)[usable]
    stacked = _stack([labels[j] for j in usable], task)
    pool, test = split_off_test(images, stacked, TEST_FRACTION, seed)
    return pool, test, names, tuple(skipped)


def read_box_table(path: Path, pictures: set) -> tuple[dict, dict]:
    """({picture: [(class name, (x0, y0, x1, y1)), ...]}, {picture: why it cannot be used}) from boxes.csv."""
    size = path.stat().st_size
    if size > CSV_LIMIT:
        raise DatasetError(f"{path} is {format_bytes(size)}; at most {format_bytes(CSV_LIMIT)} of boxes are read")
    with open(path, "rb") as f:
        text = f.read(CSV_LIMIT + 1).decode("utf-8-sig", "replace")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if tuple(header[:6]) != COLUMNS:
        raise DatasetError(f"{path} must start with the header row {','.join(COLUMNS)}")
    rows: dict = {}
    problems: dict = {}
    unknown = 0
    stems: dict = {}
    for picture in pictures:   # a row may name a picture without its extension, when that is unambiguous
        stems[Path(picture).stem] = None if Path(picture).stem in stems else picture
    for number, row in enumerate(reader, start=2):
        if number > MAX_ROWS:
            raise DatasetError(f"{path} has more than {MAX_ROWS:,} rows")
        if not row or not any(cell.strip() for cell in row):
            continue
        name = row[0].strip()
        name = name if name in pictures else stems.get(name)
        if name is None:
            unknown += 1
            continue
        try:
            cls, corners = _row(row)
        except ValueError as exc:
            problems.setdefault(name, f"boxes.csv line {number}: {exc}")
            continue
        rows.setdefault(name, []).append((cls, corners))
    if unknown and not rows:
        raise DatasetError(f"none of the {unknown:,} rows of {path} names a picture in images/; the first column "
                           f"is the picture's file name (for example cat_01.jpg)")
    return rows, problems


def _row(row: list) -> tuple[str, tuple]:
    if len(row) < 6:
        raise ValueError(f"it has {len(row)} columns, not 6 ({','.join(COLUMNS)})")
    cls = repair_text(row[1].strip())[:200]
    if not cls:
        raise ValueError("the class is empty")
    try:
        corners = tuple(float(v) for v in row[2:6])
    except ValueError:
        raise ValueError("x0, y0, x1 and y1 must be numbers (pixels)") from None
    if not all(math.isfinite(v) for v in corners):
        raise ValueError("x0, y0, x1 and y1 must be finite numbers")
    if corners[2] <= corners[0] or corners[3] <= corners[1]:
        raise ValueError(f"the box {corners} is empty: x1 must be right of x0 and y1 below y0")
    return cls, corners


def _unusable(objects: list, names: tuple, task: str) -> str:
    if task == "localization" and len(objects) != 1:
        return f"it has {len(objects)} boxes; for localization every picture has exactly one"
    if len(objects) > MAX_OBJECTS:
        return f"it has {len(objects)} boxes; at most {MAX_OBJECTS} a picture are used"
    strangers = sorted({cls for cls, _ in objects if cls not in names})
    if strangers:
        return f"its class {strangers[0]!r} is not in classes.txt"
    return ""


def _label(entry: tuple, images_dir: Path, names: tuple, task: str) -> torch.Tensor | str:
    """The picture's objects as rows (class, corners as fractions), or why they do not fit the picture."""
    name, objects = entry
    try:
        with _opened(str(images_dir / name)) as img:
            w, h = img.size
    except ValueError as exc:
        return str(exc)
    out = []
    for cls, (x0, y0, x1, y1) in objects:
        if x0 < -1 or y0 < -1 or x1 > w + 1 or y1 > h + 1:
            return f"its {cls} box {(x0, y0, x1, y1)} reaches outside the picture ({w}×{h} pixels)"
        out.append([float(names.index(cls)), max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h)])
    return torch.tensor(out, dtype=torch.float32).reshape(-1, 5)


def _stack(labels: list, task: str) -> torch.Tensor:
    if task == "localization":
        return torch.stack([label[0] for label in labels])
    most = max(1, max(len(label) for label in labels))
    out = torch.full((len(labels), most, 5), -1.0)
    for i, label in enumerate(labels):
        out[i, :len(label)] = label
    return out
