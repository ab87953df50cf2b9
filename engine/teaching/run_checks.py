"""Checks on training: the settings chosen now, and the runs finished during the lesson."""
from __future__ import annotations

from typing import Any

from engine.data import dataset_info
from engine.teaching.checks import Arg, CheckResult, check
from engine.teaching.lesson_state import DROPOUT_KINDS, LessonState, RunSummary

# The arguments that pick runs; `trained` takes them all, `runs_compared` the data set.
RUN_FILTERS = dict(
    dataset=Arg("dataset", False), min_epochs=Arg("int", False, 1), min_test_accuracy=Arg("fraction", False),
    design_has=Arg("kind", False), design_has_count=Arg("int", False, 1), design_lacks=Arg("kind", False),
    dropout=Arg("bool", False), augmentation=Arg("bool", False), warm_start=Arg("bool", False),
    frozen_kind=Arg("kind", False))


def _title(key: str) -> str:
    try:
        return dataset_info(key).title
    except Exception:  # an unknown key in an old run: show it as it is
        return key


def _has_dropout(graph) -> bool:
    return any(graph.nodes_of_kind(k) for k in DROPOUT_KINDS)


def _freezes_all(freeze, graph, kind: str) -> bool:
    ids = [n.id for n in graph.nodes_of_kind(kind)]
    return bool(ids) and set(ids) <= set(freeze)


def run_mismatch(run: RunSummary, f: dict) -> str:
    """'' when the run passes the filters, else why not, in the student's words."""
    if f.get("dataset") is not None and run.dataset_key != f["dataset"]:
        return f"it trained on {_title(run.dataset_key)}, and this step needs {_title(f['dataset'])}"
    if run.epochs < (f.get("min_epochs") or 1):
        return f"it trained {run.epochs} epoch(s), and this step needs at least {f.get('min_epochs') or 1}"
    if f.get("min_test_accuracy") is not None:
        if run.test_accuracy is None or run.test_accuracy < f["min_test_accuracy"]:
            got = "no test result" if run.test_accuracy is None else f"{run.test_accuracy:.1%} test accuracy"
            return f"it reached {got}, and this step needs {f['min_test_accuracy']:.0%}"
    kind = f.get("design_has")
    if kind is not None and len(run.graph.nodes_of_kind(kind)) < (f.get("design_has_count") or 1):
        return f"its design has {len(run.graph.nodes_of_kind(kind))} {kind} layer(s), and this step needs " \
               f"{f.get('design_has_count') or 1}"
    if f.get("design_lacks") is not None and run.graph.nodes_of_kind(f["design_lacks"]):
        return f"its design has a {f['design_lacks']} layer, and this step needs a design without one"
    if f.get("dropout") is not None and _has_dropout(run.graph) != f["dropout"]:
        return "its design has dropout" if not f["dropout"] else "its design has no Dropout layer"
    if f.get("augmentation") is not None and run.config.augmentation.enabled != f["augmentation"]:
        return "it used augmentation" if not f["augmentation"] else "it trained without augmentation"
    if f.get("warm_start") is not None and bool(run.warm_start_from) != f["warm_start"]:
        return "it started from loaded weights" if not f["warm_start"] else "it started from random weights " \
                                                                          "(no weights were loaded)"
    if f.get("frozen_kind") is not None and not _freezes_all(run.config.freeze, run.graph, f["frozen_kind"]):
        return f"not all of its {f['frozen_kind']} layers were frozen"
    return ""


@check("trained", **RUN_FILTERS)
def trained(state: LessonState, **filters: Any) -> CheckResult:
    """A run finished during the lesson matches every given filter."""
    if any(not run_mismatch(r, filters) for r in state.runs):
        return CheckResult(True)
    if not state.runs:
        return CheckResult(False)
    return CheckResult(False, f"Your last run does not count yet: {run_mismatch(state.runs[-1], filters)}.")


def _design_key(graph) -> tuple:
    """What makes two designs different for a comparison: layers, parameters and wiring, not positions."""
    return (tuple(sorted((n.id, n.kind, tuple(sorted((k, str(v)) for k, v in n.params.items())))
                         for n in graph.nodes)),
            tuple(sorted((e.source, e.target, e.slot) for e in graph.edges)))


def _config_key(run: RunSummary) -> tuple:
    d = run.config.to_dict()
    d.pop("device", None)   # where it ran is not a different experiment
    return tuple(sorted((k, str(v)) for k, v in d.items())) + (("warm_start", bool(run.warm_start_from)),)


@check("runs_compared", dataset=Arg("dataset", False), differ=Arg("differ", False, "any"),
       min_epochs=Arg("int", False, 1))
def runs_compared(state: LessonState, dataset: str | None, differ: str, min_epochs: int) -> CheckResult:
    """Two runs on the same data set whose designs (differ="design"), settings ("config") or either
    ("any") differ."""
    runs = [r for r in state.runs if r.epochs >= min_epochs and (dataset is None or r.dataset_key == dataset)]
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a.dataset_key != b.dataset_key:
                continue
            design = _design_key(a.graph) != _design_key(b.graph)
            config = _config_key(a) != _config_key(b)
            if (differ == "design" and design) or (differ == "config" and config) or \
                    (differ == "any" and (design or config)):
                return CheckResult(True)
    if len(runs) >= 2:
        what = {"design": "designs", "config": "settings", "any": "designs or settings"}[differ]
        return CheckResult(False, f"Your runs so far have the same {what}; change something and train again.")
    return CheckResult(False)


@check("augmentation_enabled")
def augmentation_enabled(state: LessonState) -> CheckResult:
    """Augmentation is switched on in the training settings (or was, for a finished run)."""
    now = state.config is not None and state.config.augmentation.enabled
    return CheckResult(now or any(r.config.augmentation.enabled for r in state.runs))


@check("frozen_layers", kind=Arg("kind", False, "Conv2d"))
def frozen_layers(state: LessonState, kind: str) -> CheckResult:
    """Every layer of `kind` is listed under Freeze in the training settings (or was, for a run)."""
    if state.config is not None and _freezes_all(state.config.freeze, state.graph, kind):
        return CheckResult(True)
    if any(_freezes_all(r.config.freeze, r.graph, kind) for r in state.runs):
        return CheckResult(True)
    if state.config is not None and state.config.freeze:
        missing = [n.id for n in state.graph.nodes_of_kind(kind) if n.id not in state.config.freeze]
        return CheckResult(False, f"Still to freeze: {', '.join(missing)}.")
    return CheckResult(False)


@check("weights_loaded")
def weights_loaded(state: LessonState) -> CheckResult:
    """A run's weights were loaded into the design for the next run."""
    return CheckResult(state.warm_start_pending or any(r.warm_start_from for r in state.runs))
