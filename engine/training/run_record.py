"""A training run on disk (written as it goes, and when it ends), readable without unpickling anything.

RUN_DIR layout (written by RunRecord.save):
    run.json              id, name, created, dataset key, seed, status (running/finished/stopped/failed), format version
    graph.json            the design that was trained (the usual design file format)
    config.json           the TrainConfig
    metrics_steps.csv     step metrics, one row per StepMetrics event
    metrics_epochs.csv    epoch metrics, one row per epoch
    metrics.json          both tables as {"steps": {column: [...]}, "epochs": {column: [...]}}
    results.json          test summary: loss, accuracy, per-class accuracy, confusion, misclassified
    confusion.csv         the confusion matrix with class names (rows = true class)
    weights.safetensors   the final weights (state_dict keys such as conv2d_1.weight)
fit() also writes checkpoints/last.pt and checkpoints/best.pt there (loaded with weights_only=True).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from engine.atomic_write import replacing, write_texts_atomic
from engine.graph import GraphSpec
from engine.graph_io import MAX_FILE_BYTES as MAX_GRAPH_BYTES
from engine.graph_io import GraphFileError, graph_from_json, graph_to_json
from engine.safe_files import (MAX_CONFIG_BYTES, MAX_RECORD_BYTES, MAX_WEIGHTS_BYTES, FileLimitError,
                               check_regular_file, load_json_file, read_text_file, repair_text)
from engine.training.config import TrainConfig
from engine.training.checkpoint import unreadable_reason
from engine.training.events import EpochMetrics, Event, StepMetrics
from engine.training.run_validation import check_meta, check_metrics, check_results

RUN_FORMAT = "cnn-designer-run"
RUN_VERSION = 1
STEP_COLUMNS = tuple(f.name for f in fields(StepMetrics))
EPOCH_COLUMNS = tuple(f.name for f in fields(EpochMetrics))


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_run_id(run_id: object) -> str:
    """Run ids name folders, so only plain names are allowed (never `..` or a path)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        shown = repr(run_id) if len(repr(run_id)) <= 70 else repr(run_id)[:67] + "..."
        raise RunRecordError(f"the run id {shown} is not valid; a run id is 1-64 letters, digits, '-' or '_'")
    return run_id


class RunRecordError(ValueError):
    """A run folder that cannot be read; the message names the file and the problem."""


def _empty(columns) -> dict:
    return {c: [] for c in columns}


@dataclass
class RunRecord:
    graph: GraphSpec
    config: TrainConfig
    dataset_key: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    name: str = ""
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    seed: int = 0
    step_metrics: dict = field(default_factory=lambda: _empty(STEP_COLUMNS))
    epoch_metrics: dict = field(default_factory=lambda: _empty(EPOCH_COLUMNS))
    test: dict | None = None
    weights: dict | None = None   # name -> torch.Tensor
    # "running" while it trains (a record still "running" when read back was cut short by a crash),
    # then "finished", "stopped" or "failed"; `note` says why it failed.
    status: str = "finished"
    note: str = ""
    # Which open design trained it (the app's design identity token) and that design's file, if it had one,
    # so the app can list a design's own runs first. Empty in runs written before these existed.
    design_id: str = ""
    design_path: str = ""
    # Where its data set's files were read from (--data-root), so `eval` finds them again; "" for the default.
    data_root: str = ""

    def add_event(self, event: Event) -> None:
        """Append a StepMetrics or EpochMetrics event to the tables (other events are ignored)."""
        table = (self.step_metrics if isinstance(event, StepMetrics)
                 else self.epoch_metrics if isinstance(event, EpochMetrics) else None)
        if table is not None:
            for name in table:
                table[name].append(getattr(event, name))

    # ---- writing ---------------------------------------------------------------------------------
    def save(self, run_dir: str | os.PathLike[str]) -> Path:
        run_dir = Path(run_dir)
        meta = {"format": RUN_FORMAT, "version": RUN_VERSION, "id": self.id, "name": self.name,
                "created": self.created, "dataset_key": self.dataset_key, "seed": self.seed,
                "status": self.status, "note": self.note, "design_id": self.design_id,
                "design_path": self.design_path, "data_root": self.data_root}
        # Everything is turned into text (and checked to be writable as UTF-8) before the first file is
        # written, so a value that cannot be saved fails here and never leaves a half-written run folder;
        # the design and config go first, so a run.json always has them beside it.
        files = {"graph.json": graph_to_json(self.graph) + "\n",
                 "config.json": json.dumps(self.config.to_dict(), indent=1) + "\n",
                 "run.json": json.dumps(meta, indent=1) + "\n",
                 "metrics_steps.csv": _csv(self.step_metrics),
                 "metrics_epochs.csv": _csv(self.epoch_metrics),
                 "metrics.json": json.dumps({"steps": self.step_metrics, "epochs": self.epoch_metrics},
                                            allow_nan=True) + "\n"}
        if self.test is not None:
            files["results.json"] = json.dumps(self.test, indent=1) + "\n"
            files["confusion.csv"] = _confusion_csv(self.test)
        texts = {name: repair_text(text) for name, text in files.items()}
        run_dir.mkdir(parents=True, exist_ok=True)
        write_texts_atomic({run_dir / name: text for name, text in texts.items()})
        if self.weights is not None:
            save_weights(self.weights, run_dir / "weights.safetensors")
        return run_dir

    # ---- reading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], load_weights: bool = True) -> "RunRecord":
        """Read a run folder, checking every file's kind and size and every value's type, range and size
        (engine.training.run_validation); anything wrong raises RunRecordError naming the file."""
        run_dir = Path(run_dir)
        meta = _read_json(run_dir / "run.json", MAX_CONFIG_BYTES)
        if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
            raise RunRecordError(f"{run_dir / 'run.json'} is not a CNN Designer run record")
        version = meta.get("version", RUN_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= RUN_VERSION:
            raise RunRecordError(f"{run_dir / 'run.json'} has the format version {str(version)[:20]}; this CNN "
                                 f"Designer reads run records up to version {RUN_VERSION}")
        try:
            fields_ = check_meta(meta, str(run_dir / "run.json"))
            graph_file = run_dir / "graph.json"
            graph = graph_from_json(read_text_file(graph_file, MAX_GRAPH_BYTES, "design of the run"), str(graph_file))
            try:
                config = TrainConfig.from_dict(_read_json(run_dir / "config.json", MAX_CONFIG_BYTES))
            except (ValueError, TypeError) as exc:
                if isinstance(exc, RunRecordError):
                    raise
                raise RunRecordError(f"{run_dir / 'config.json'}: {str(exc)[:600]}") from None
            steps, epochs = _empty(STEP_COLUMNS), _empty(EPOCH_COLUMNS)
            if _exists(run_dir / "metrics.json"):
                steps, epochs = check_metrics(_read_json(run_dir / "metrics.json", MAX_RECORD_BYTES),
                                              STEP_COLUMNS, EPOCH_COLUMNS, str(run_dir / "metrics.json"))
            test = None
            if _exists(run_dir / "results.json"):
                test = check_results(_read_json(run_dir / "results.json", MAX_RECORD_BYTES),
                                     str(run_dir / "results.json"))
        except RunRecordError:
            raise
        except (GraphFileError, ValueError, TypeError) as exc:
            raise RunRecordError(f"cannot read run {run_dir}: {str(exc)[:600]}") from None
        weights_path = run_dir / "weights.safetensors"
        weights = load_weights_file(weights_path) if load_weights and weights_path.is_file() else None
        return cls(graph=graph, config=config, id=check_run_id(meta.get("id")), step_metrics=steps,
                   epoch_metrics=epochs, test=test, weights=weights, **fields_)


def save_weights(weights: Mapping[str, torch.Tensor | np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write a state_dict (tensors or numpy arrays) as safetensors."""
    from safetensors.torch import save_file

    tensors = {k: (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v.detach().cpu())
               .contiguous() for k, v in weights.items()}
    with replacing(Path(path)) as tmp:
        save_file(tensors, str(tmp))


def load_weights_file(path: str | os.PathLike[str]) -> dict:
    """Read weights from .safetensors, or from a .pt/.pth state_dict or fit() checkpoint with
    torch.load(weights_only=True). Never unpickles arbitrary objects."""
    path = Path(path)
    if not os.path.lexists(path):
        raise RunRecordError(f"weights file {path} does not exist")
    try:  # a FIFO or /dev/zero is refused by name, never opened
        check_regular_file(path, MAX_WEIGHTS_BYTES, "weights file")
    except FileLimitError as exc:
        raise RunRecordError(str(exc)) from None
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say so instead of a traceback
        raise RunRecordError(f"cannot read weights from {path}: {unreadable_reason(exc)}") from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]  # a fit() checkpoint
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise RunRecordError(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    return data


def _read_json(path: Path, max_bytes: int):
    """Bounded (engine.safe_files): a FIFO, a device, an oversized or deeply nested file is refused."""
    try:
        return load_json_file(path, max_bytes, "run file")
    except FileLimitError as exc:
        raise RunRecordError(str(exc)) from None


def _exists(path: Path) -> bool:
    """Present in any form: a FIFO or a link to a device named metrics.json is refused, not skipped."""
    return os.path.lexists(path)


def _csv(table: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.keys())
    writer.writerows(zip(*table.values()))
    return out.getvalue()


def _confusion_csv(test: dict) -> str:
    names, confusion = test.get("class_names", []), test.get("confusion", [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, confusion):
        writer.writerow([name, *row])
    return out.getvalue()
