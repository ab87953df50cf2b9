"""Export a complete, standalone training script: the network's source, the run's settings as argparse
defaults, and the harness in script_template.py (data, loop, evaluation, checkpoints, torchrun support).

Every value written into the script is a number, a bool, or a string rendered with repr() from a fixed
choice list, so nothing from a design or run file can inject code; labels only reach comments through
codegen.safe_comment.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from engine.analysis import analyze
from engine.module_paths import layers_named, module_path, path_problem
from engine.codegen import class_name_for, class_name_problem, export_python, safe_comment
from engine.compiler import GraphInvalidError, input_shape
from engine.graph import NODE_ID_PATTERN, GraphSpec
from engine.graph_io import write_text_atomic

if TYPE_CHECKING:
    from engine.training.config import TrainConfig

HARNESS_MARKER = "# ---- HARNESS ----"
PART_MARKER = "# ---- PART ----"
SCRIPT_MARKER = "# ---- SCRIPT ----"
# The app's data set keys and the script's equivalents (the app's generated sets become "synthetic").
DATASET_FOR_KEY = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "folder": "folder"}

_CONFIG_DEFAULTS = {"optimizer": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0, "schedule": "constant",
                    "step_size": 1, "gamma": 0.5, "batch_size": 64, "epochs": 3, "val_fraction": 0.1, "seed": 0,
                    "device": "auto", "mixed_precision": True, "grad_clip": 0.0, "early_stopping_patience": 0,
                    "dice_weight": 0.0}
_AUGMENT_DEFAULTS = {"crop_padding": 0, "hflip": False, "rotation": 0.0, "affine_translate": 0.0,
                     "affine_scale": 0.0, "color_jitter": 0.0, "erasing": 0.0}
_CHOICES = {"optimizer": ("sgd", "adam", "adamw"), "schedule": ("constant", "step", "cosine", "onecycle")}


def script_defaults(config: TrainConfig | Mapping[str, Any] | None = None, dataset_key: str = "",
                    data_path: str = "", graph: GraphSpec | None = None) -> dict:
    """The argparse defaults: the run's TrainConfig (or the usual defaults) plus the data choice. Frozen
    layers are written as the exported class's module paths (those of `graph`)."""
    values = dict(_CONFIG_DEFAULTS, **_AUGMENT_DEFAULTS, freeze=[], data_size=None)
    if config is not None:
        d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        values.update({k: d[k] for k in _CONFIG_DEFAULTS if k in d})
        values.update({k: v for k, v in (d.get("augmentation") or {}).items() if k in _AUGMENT_DEFAULTS})
        values["freeze"] = list(d.get("freeze") or [])
        values["data_size"] = d.get("data_size")
    dataset = "tensors" if data_path and dataset_key not in ("folder",) else DATASET_FOR_KEY.get(dataset_key, "synthetic")
    out = {k: _literal(k, values[k]) for k in (*_CONFIG_DEFAULTS, *_AUGMENT_DEFAULTS)}
    out["freeze"] = _frozen_paths(values["freeze"], graph)
    out["dataset"] = dataset
    out["data"] = str(data_path or "")
    out["synthetic_size"] = int(values["data_size"] or 2000)
    return out


def _frozen_paths(entries: list, graph: GraphSpec | None) -> list:
    """Module paths of the exported class, validated (they are written into the script's source)."""
    if graph is None:
        return [f for f in entries if isinstance(f, str) and NODE_ID_PATTERN.match(f)]
    nodes = graph.node_map()
    paths = [module_path(nodes[nid]) for f in entries if isinstance(f, str) for nid in layers_named(graph, f)]
    return [p for p in dict.fromkeys(paths) if not path_problem(p)]


def _literal(name, value):
    """Only plain numbers, bools and known words: the values are written into Python source."""
    default = _CONFIG_DEFAULTS.get(name, _AUGMENT_DEFAULTS.get(name))
    if name in _CHOICES:
        return value if value in _CHOICES[name] else default
    if name == "device":
        return value if isinstance(value, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value) else "auto"
    if isinstance(default, bool):
        return bool(value) if isinstance(value, bool) else default
    if isinstance(default, int):
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def script_names() -> frozenset:
    """Every top-level name the script defines besides the class (harness functions, imports, constants)."""
    import ast

    names = {"MODEL_CLASS", "INPUT_SHAPE", "NUM_CLASSES", "TASK", "DEFAULTS"}
    for node in ast.parse(harness_source() + task_source("classification") + task_source("detection")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def script_class_name_problem(name: str) -> str:
    """class_name_problem for a training script: its own names are taken too."""
    return class_name_problem(name, script_names())


def harness_source() -> str:
    text = (Path(__file__).with_name("script_template.py")).read_text(encoding="utf-8")
    return text.split(HARNESS_MARKER, 1)[1].lstrip("\n")


def task_source(task: str) -> str:
    """The task's part of the script: losses, counts, synthetic data and augmentation for its labels. Box tasks
    copy the engine's own box code (engine/training/boxes.py), so scripts train exactly as the app does."""
    here = Path(__file__).parent
    if task in ("localization", "detection"):
        boxes = (here.parent / "training" / "boxes.py").read_text(encoding="utf-8").split(SCRIPT_MARKER, 1)[1]
        part = (here / "script_boxes.py").read_text(encoding="utf-8").split(PART_MARKER, 1)[1]
        return "import torch.nn.functional as F  # noqa: E402\n" + boxes.strip("\n") + "\n\n" + part.lstrip("\n")
    return (here / "script_labels.py").read_text(encoding="utf-8").split(PART_MARKER, 1)[1].lstrip("\n")


def export_training_script(graph: GraphSpec, config: TrainConfig | Mapping[str, Any] | None = None,
                           dataset_key: str = "", data_path: str = "", class_name: Optional[str] = None) -> str:
    """The script's source text. `config` is a TrainConfig (or its dict); `data_path` a tensor file or folder."""
    analysis = analyze(graph)
    if not analysis.ok:
        raise GraphInvalidError(analysis)
    # Only a plain identifier reaches `MODEL_CLASS = ...`; anything else falls back to the design's name.
    usable = bool(class_name) and not script_class_name_problem(class_name)
    cls = class_name if usable else class_name_for(graph, reserved=script_names())
    model = export_python(graph, class_name=cls, analysis=analysis)
    model = model.split('\nif __name__ == "__main__":', 1)[0].rstrip() + "\n"
    output = next(n for n in graph.nodes if n.kind == "Output")
    defaults = script_defaults(config, dataset_key, data_path, graph)
    # The docstring is argparse's description: "%(" in it would make argparse %-format it, and then any
    # other "%" (a design called "100% CNN %(prog)s") breaks --help.
    title = (safe_comment(graph.name) or "network").replace("%(", "% (")
    doc = (f'"""Train {title.replace(chr(34), chr(39)).replace(chr(92), "/")} (exported by CNN Designer).\n\n'
           f"    python train.py --epochs 5                        # one process (GPU if present)\n"
           f"    torchrun --nproc_per_node=4 train.py              # several GPUs (or CPU processes)\n"
           f"    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --nproc_per_node=4 train.py\n\n"
           f"Needs only torch (and torchvision for real data sets or augmentation). Weights are saved as a\n"
           f"plain state_dict (weights.pt) that CNN Designer can load; run with --help for every option.\n"
           f'"""\n')
    constants = (f"MODEL_CLASS = {cls}\n"
                 f"INPUT_SHAPE = {tuple(input_shape(graph))!r}\n"
                 f"NUM_CLASSES = {int(output.params['classes'])}\n"
                 f"TASK = {output.params.get('task', 'classification')!r}\n"
                 f"DEFAULTS = {_format_dict(defaults)}\n")
    task = output.params.get("task", "classification")
    harness, main_guard = harness_source().rsplit('\nif __name__ == "__main__":', 1)
    return "\n".join([doc, model, constants, harness.rstrip("\n") + "\n\n",
                      "# ---- the task: " + task + " ----\n" + task_source(task).rstrip("\n") + "\n\n",
                      'if __name__ == "__main__":' + main_guard])


def _format_dict(d: dict) -> str:
    return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in d.items()) + "}"


def write_training_script(graph: GraphSpec, path: str | os.PathLike[str],
                          config: TrainConfig | Mapping[str, Any] | None = None, dataset_key: str = "",
                          data_path: str = "", class_name: Optional[str] = None) -> Path:
    path = Path(path)
    write_text_atomic(path, export_training_script(graph, config, dataset_key, data_path, class_name))
    return path
