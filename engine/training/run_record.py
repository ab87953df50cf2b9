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
import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from engine.atomic_write import replacing
from engine.graph import GraphSpec
from engine.graph_io import GraphFileError, graph_from_json, graph_to_json, write_text_atomic
from engine.training.config import TrainConfig
from engine.training.checkpoint import unreadable_reason
from engine.training.events import EpochMetrics, StepMetrics

RUN_FORMAT = "cnn-designer-run"
RUN_VERSION = 1
STEP_COLUMNS = tuple(f.name for f in fields(StepMetrics))
EPOCH_COLUMNS = tuple(f.name for f in fields(EpochMetrics))


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_run_id(run_id) -> str:
    """Run ids name folders, so only plain names are allowed (never `..` or a path)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunRecordError(f"the run id {run_id!r} is not valid; a run id is 1-64 letters, digits, '-' or '_'")
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

    def add_event(self, event) -> None:
        """Append a StepMetrics or EpochMetrics event to the tables (other events are ignored)."""
        table = (self.step_metrics if isinstance(event, StepMetrics)
                 else self.epoch_metrics if isinstance(event, EpochMetrics) else None)
        if table is not None:
            for name in table:
                table[name].append(getattr(event, name))

    # ---- writing ---------------------------------------------------------------------------------
    def save(self, run_dir) -> Path:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        meta = {"format": RUN_FORMAT, "version": RUN_VERSION, "id": self.id, "name": self.name,
                "created": self.created, "dataset_key": self.dataset_key, "seed": self.seed,
                "status": self.status, "note": self.note, "design_id": self.design_id,
                "design_path": self.design_path}
        write_text_atomic(run_dir / "run.json", json.dumps(meta, indent=1) + "\n")
        write_text_atomic(run_dir / "graph.json", graph_to_json(self.graph) + "\n")
        write_text_atomic(run_dir / "config.json", json.dumps(self.config.to_dict(), indent=1) + "\n")
        write_text_atomic(run_dir / "metrics_steps.csv", _csv(self.step_metrics))
        write_text_atomic(run_dir / "metrics_epochs.csv", _csv(self.epoch_metrics))
        write_text_atomic(run_dir / "metrics.json",
                          json.dumps({"steps": self.step_metrics, "epochs": self.epoch_metrics},
                                     allow_nan=True) + "\n")
        if self.test is not None:
            write_text_atomic(run_dir / "results.json", json.dumps(self.test, indent=1) + "\n")
            write_text_atomic(run_dir / "confusion.csv", _confusion_csv(self.test))
        if self.weights is not None:
            save_weights(self.weights, run_dir / "weights.safetensors")
        return run_dir

    # ---- reading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir, load_weights: bool = True) -> "RunRecord":
        run_dir = Path(run_dir)
        meta = _read_json(run_dir / "run.json")
        if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
            raise RunRecordError(f"{run_dir / 'run.json'} is not a CNN Designer run record")
        try:
            graph = graph_from_json((run_dir / "graph.json").read_text(encoding="utf-8"), str(run_dir / "graph.json"))
            config = TrainConfig.from_dict(_read_json(run_dir / "config.json"))
        except (OSError, GraphFileError, ValueError) as exc:
            raise RunRecordError(f"cannot read run {run_dir}: {exc}") from None
        metrics = _read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else {}
        test = _read_json(run_dir / "results.json") if (run_dir / "results.json").is_file() else None
        weights_path = run_dir / "weights.safetensors"
        weights = load_weights_file(weights_path) if load_weights and weights_path.is_file() else None
        return cls(graph=graph, config=config, dataset_key=str(meta.get("dataset_key", "")),
                   id=check_run_id(meta.get("id")), name=str(meta.get("name", "")), created=str(meta.get("created", "")),
                   seed=int(meta.get("seed", 0)),
                   step_metrics={**_empty(STEP_COLUMNS), **metrics.get("steps", {})},
                   epoch_metrics={**_empty(EPOCH_COLUMNS), **metrics.get("epochs", {})},
                   test=test, weights=weights, status=str(meta.get("status", "finished")),
                   note=str(meta.get("note", "")), design_id=str(meta.get("design_id", "") or ""),
                   design_path=str(meta.get("design_path", "") or ""))


def save_weights(weights: dict, path) -> None:
    """Write a state_dict (tensors or numpy arrays) as safetensors."""
    from safetensors.torch import save_file

    tensors = {k: (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v.detach().cpu())
               .contiguous() for k, v in weights.items()}
    with replacing(Path(path)) as tmp:
        save_file(tensors, str(tmp))


def load_weights_file(path) -> dict:
    """Read weights from .safetensors, or from a .pt/.pth state_dict or fit() checkpoint with
    torch.load(weights_only=True). Never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise RunRecordError(f"weights file {path} does not exist")
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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"cannot read {path}: {exc}") from None


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
