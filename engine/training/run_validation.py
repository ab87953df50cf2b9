"""Checks of everything read back from a run folder (the run store, a bundle, `eval RUN_DIR`).

A run folder may come from anyone (a bundle a classmate sent, a hand-edited file), and what it holds is
stored and shown again at every start of the app. So each value is checked for its type, range, finiteness
and size before a RunRecord is built from it: a 400-digit "accuracy", a list where a table belongs or a seed
"abc" make the whole run unreadable (RunRecordError, one sentence naming the file), never a crash later in a
panel. Text is cut to a length a list can show and lone surrogates are repaired.
"""
from __future__ import annotations

import math
from collections.abc import Collection

from engine.safe_files import repair_text

MAX_NAME = 500               # run name, shown in lists and legends
MAX_NOTE = 4000              # why a run failed
MAX_SHORT = 200              # dataset key, design id, creation time
MAX_PATH = 4096              # design path
MAX_ROWS = 1_000_000         # rows of each metrics table
MAX_CLASSES = 1000
MAX_CLASS_NAME = 200
MAX_COUNT = 100_000_000      # test images
MAX_INDEX = 2**53            # whole numbers stay exact as floats up to here
STATUSES = ("running", "finished", "stopped", "failed")
INT_COLUMNS = ("epoch", "step", "steps_per_epoch", "total_steps", "epochs")


class RunValueError(ValueError):
    """A value in a run folder that is not what CNN Designer writes there; the message names it."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_text(value: object, field: str, where: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RunValueError(f"{where}: \"{field}\" must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise RunValueError(f"{where}: \"{field}\" is {len(value):,} characters long; at most {limit:,} are allowed")
    return repair_text(value)


def check_whole(value: object, field: str, where: str, low: int = 0, high: int = MAX_INDEX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RunValueError(f"{where}: \"{field}\" must be a whole number from {low} to {high}; got {_shown(value)}")
    return value


def check_number(value: object, field: str, where: str, low: float | None = None, high: float | None = None,
                 allow_missing: bool = False) -> float:
    """A finite number within [low, high] as a float; None or NaN only when allow_missing (returned as NaN)."""
    if allow_missing and (value is None or (isinstance(value, float) and math.isnan(value))):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, int) and abs(value) > MAX_INDEX) or not math.isfinite(value):
        raise RunValueError(f"{where}: \"{field}\" must be a finite number; got {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise RunValueError(f"{where}: \"{field}\" must be from {low} to {high}; got {_shown(value)}")
    return float(value)


def check_meta(meta: object, where: str) -> dict:
    """run.json's fields, checked: id (checked by the caller), name, created, dataset key, seed, status, note,
    design id and path."""
    if not isinstance(meta, dict):
        raise RunValueError(f"{where} must hold a JSON object")
    status = meta.get("status", "finished")
    if status not in STATUSES:
        raise RunValueError(f"{where}: \"status\" must be one of {', '.join(STATUSES)}; got {_shown(status)}")
    return {"name": check_text(meta.get("name", ""), "name", where, MAX_NAME),
            "created": check_text(meta.get("created", ""), "created", where, MAX_SHORT),
            "dataset_key": check_text(meta.get("dataset_key", ""), "dataset_key", where, MAX_SHORT),
            "seed": check_whole(meta.get("seed", 0), "seed", where, 0, 2**63 - 1),
            "status": status,
            "note": check_text(meta.get("note", ""), "note", where, MAX_NOTE),
            "design_id": check_text(meta.get("design_id", "") or "", "design_id", where, MAX_SHORT),
            "design_path": check_text(meta.get("design_path", "") or "", "design_path", where, MAX_PATH),
            "data_root": check_text(meta.get("data_root", "") or "", "data_root", where, MAX_PATH)}


def check_table(table: object, columns: Collection[str], where: str) -> dict:
    """One metrics table {column: [values]}: known columns only, equally long, at most MAX_ROWS rows; counting
    columns hold whole numbers, the others finite numbers or NaN (null). Missing measured columns are NaN."""
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise RunValueError(f"{where} must be an object of columns, not {type(table).__name__}")
    unknown = [k for k in table if k not in columns]
    if unknown:
        raise RunValueError(f"{where} has the unknown column {_shown(unknown[0])}; known: {', '.join(columns)}")
    rows = None
    for name, values in table.items():
        if not isinstance(values, list):
            raise RunValueError(f"{where}: column {name!r} must be a list of numbers")
        if len(values) > MAX_ROWS:
            raise RunValueError(f"{where}: column {name!r} has {len(values):,} rows; at most {MAX_ROWS:,} are allowed")
        if rows is not None and len(values) != rows:
            raise RunValueError(f"{where}: the columns have different lengths ({rows} and {len(values)})")
        rows = len(values)
    rows = rows or 0
    out = {}
    for name in columns:
        values = table.get(name)
        if values is None:
            if rows and name in INT_COLUMNS:
                raise RunValueError(f"{where} has no column {name!r}")
            out[name] = [math.nan] * rows
        elif name in INT_COLUMNS:
            out[name] = [check_whole(v, name, where) for v in values]
        else:
            out[name] = [_metric(v, name, where) for v in values]
    return out


def _metric(value, name, where) -> float:
    if value is None:
        return math.nan
    if isinstance(value, float):
        return value if math.isfinite(value) else math.nan   # a diverged loss: a gap in the curve
    return check_number(value, name, where)


def check_metrics(metrics: object, step_columns: Collection[str], epoch_columns: Collection[str],
                  where: str) -> tuple:
    if not isinstance(metrics, dict):
        raise RunValueError(f"{where} must hold a JSON object with \"steps\" and \"epochs\" tables")
    return (check_table(metrics.get("steps"), step_columns, f"{where}, \"steps\""),
            check_table(metrics.get("epochs"), epoch_columns, f"{where}, \"epochs\""))


def check_results(test: object, where: str) -> dict:
    """results.json: the test summary engine.training.evaluate writes, every field present checked and sized
    (fields CNN Designer does not write are dropped)."""
    if not isinstance(test, dict):
        raise RunValueError(f"{where} must hold a JSON object of test results")
    out = {}
    if "loss" in test:
        out["loss"] = _missing_as_none(check_number(test["loss"], "loss", where, allow_missing=True))
    if "accuracy" in test:
        out["accuracy"] = _missing_as_none(check_number(test["accuracy"], "accuracy", where, 0, 1,
                                                        allow_missing=True))
    if "count" in test:
        out["count"] = check_whole(test["count"], "count", where, 0, MAX_COUNT)
    names = test.get("class_names", [])
    if not isinstance(names, list) or len(names) > MAX_CLASSES:
        raise RunValueError(f"{where}: \"class_names\" must be a list of at most {MAX_CLASSES} names")
    if "class_names" in test:
        out["class_names"] = [check_text(n, "class_names", where, MAX_CLASS_NAME) for n in names]
    classes = len(names)
    if "per_class_accuracy" in test:
        per_class = test["per_class_accuracy"]
        if not isinstance(per_class, list) or len(per_class) not in (0, classes):
            raise RunValueError(f"{where}: \"per_class_accuracy\" must list one value per class ({classes})")
        out["per_class_accuracy"] = [_missing_as_none(check_number(v, "per_class_accuracy", where, 0, 1,
                                                                   allow_missing=True)) for v in per_class]
    if "confusion" in test:
        confusion = test["confusion"]
        if not isinstance(confusion, list) or len(confusion) not in (0, classes) or \
                not all(isinstance(row, list) and len(row) == classes for row in confusion):
            raise RunValueError(f"{where}: \"confusion\" must be a {classes}×{classes} table of counts")
        # pixels, for segmentation: far more than images
        out["confusion"] = [[check_whole(v, "confusion", where, 0, MAX_INDEX) for v in row] for row in confusion]
    if "misclassified" in test:
        wrong = test["misclassified"]
        if not isinstance(wrong, list) or len(wrong) > MAX_COUNT:
            raise RunValueError(f"{where}: \"misclassified\" must be a list of image numbers")
        out["misclassified"] = [check_whole(v, "misclassified", where, 0, MAX_COUNT) for v in wrong]
    if "task" in test:
        if test["task"] not in TASKS:
            raise RunValueError(f"{where}: \"task\" must be one of {', '.join(TASKS)}")
        out["task"] = test["task"]
    for key in ("mean_iou", "mean_box_iou", "class_accuracy", "map50"):
        if key in test:
            out[key] = _missing_as_none(check_number(test[key], key, where, 0, 1, allow_missing=True))
    if "objects" in test:
        out["objects"] = check_whole(test["objects"], "objects", where, 0, MAX_INDEX)
    if "per_class_ap" in test:   # detection: the last class is "nothing", which has no AP
        ap = test["per_class_ap"]
        if not isinstance(ap, list) or len(ap) not in (0, max(classes - 1, 0)):
            raise RunValueError(f"{where}: \"per_class_ap\" must list one value per object class ({classes - 1})")
        out["per_class_ap"] = [_missing_as_none(check_number(v, "per_class_ap", where, 0, 1, allow_missing=True))
                               for v in ap]
    if "per_class_iou" in test:
        iou = test["per_class_iou"]
        if not isinstance(iou, list) or len(iou) not in (0, classes):
            raise RunValueError(f"{where}: \"per_class_iou\" must list one value per class ({classes})")
        out["per_class_iou"] = [_missing_as_none(check_number(v, "per_class_iou", where, 0, 1, allow_missing=True))
                                for v in iou]
    return out


TASKS = ("classification", "localization", "detection", "segmentation")


def _missing_as_none(value: float):
    """NaN (a split without images) is kept as JSON writes it: null."""
    return None if math.isnan(value) else value
