"""What a network is trained to predict: a class per image (classification) or a class per pixel
(segmentation). The design's Output says which; a data set's labels must match it."""
from __future__ import annotations

TASKS = ("classification", "segmentation")
_WHAT = {"classification": "one class per image", "segmentation": "a class for every pixel"}


def task_mismatch(design_task: str, data_title: str, data_task: str) -> str:
    """The message for a design and a data set of different tasks, with what to change."""
    return (f"The network's Output is set to {design_task} ({_WHAT.get(design_task, design_task)}) but "
            f"{data_title} labels {_WHAT.get(data_task, data_task)}; set the Output's task to {data_task}, or "
            f"choose a {design_task} data set.")
