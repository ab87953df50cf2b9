"""A test result in words, the same for every task in the command line, the app and the runs list."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.training.evaluate import EvaluationResult


def _num(v, fmt: str) -> str:
    return "-" if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) else format(v, fmt)


def headline_of(test: dict | None) -> str:
    """The task's main score from a result summary (results.json's "test"), e.g. "mAP@0.5 0.734"."""
    if not isinstance(test, dict):
        return "no test result"
    task = test.get("task", "classification")
    if task == "segmentation":
        return f"mean IoU {_num(test.get('mean_iou'), '.3f')}"
    if task == "localization":
        return f"box hits {_num(test.get('accuracy'), '.1%')}"
    if task == "detection":
        return f"mAP@0.5 {_num(test.get('map50'), '.3f')}"
    return f"accuracy {_num(test.get('accuracy'), '.1%')}"


def result_lines(result: EvaluationResult) -> list[str]:
    """Two or three lines on an EvaluationResult: the task's scores, then the weakest classes."""
    r, names = result, [str(n) for n in result.class_names]
    if r.task == "segmentation":
        return [f"test mean IoU {r.mean_iou:.3f}  pixel accuracy {r.accuracy:.2%}  test loss {r.loss:.4f}  "
                f"({r.count} images)",
                "IoU per class: " + ", ".join(f"{n} {_num(v, '.3f')}" for n, v in zip(names, r.iou))]
    if r.task == "localization":
        summary = r.summary()
        return [f"test box hits {r.accuracy:.2%} (right class and IoU > 0.5)  mean box IoU "
                f"{_num(summary['mean_box_iou'], '.3f')}  class accuracy {summary['class_accuracy']:.2%}  "
                f"test loss {r.loss:.4f}  ({r.count} images)",
                "box hits per class: " + ", ".join(f"{n} {_num(v, '.1%')}" for n, v in zip(names, r.per_class_accuracy))]
    if r.task == "detection":
        found = r.confusion[:-1, :-1].trace()
        objects = int(r.confusion[:-1].sum())
        return [f"test mAP@0.5 {_num(r.map50, '.3f')}  F1 {r.accuracy:.2%} (detections at least 30% sure)  "
                f"test loss {r.loss:.4f}  ({r.count} images, {objects} objects, {found} found with the right class)",
                "AP@0.5 per class: " + ", ".join(f"{n} {_num(v, '.3f')}" for n, v in zip(names, r.ap))]
    worst = sorted((a, n) for a, n in zip(r.per_class_accuracy, names) if a == a)[:3]
    return [f"test accuracy {r.accuracy:.2%}  test loss {r.loss:.4f}  ({r.count} images, "
            f"{len(r.misclassified)} misclassified)",
            "weakest classes: " + ", ".join(f"{n} {a:.1%}" for a, n in worst)]
