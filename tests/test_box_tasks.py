"""Localization and detection end to end: data with boxes, augmentation that moves them, the Output's checks, and
training that writes the task's scores."""
from __future__ import annotations

import json

import pytest
import torch

from engine.analysis import analyze
from engine.data.base import label_task
from engine.fixes import apply_fix
from engine.data.generated_scenes import _draw
from engine.data.registry import load_dataset
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.templates import load_template
from engine.training.augment import augment_batch
from engine.training.config import Augmentation, TrainConfig
from engine.training.events import Finished
from engine.training.loop import fit


def _bright_box(image: torch.Tensor) -> list[float]:
    """Corners (fractions) of the pixels brighter than half in a C×H×W image."""
    on = image.mean(0) > 0.5
    rows, cols = torch.nonzero(on.any(1)).flatten(), torch.nonzero(on.any(0)).flatten()
    h, w = on.shape
    return [float(cols.min()) / w, float(rows.min()) / h, float(cols.max() + 1) / w, float(rows.max() + 1) / h]


@pytest.mark.parametrize("aug", [Augmentation(crop_padding=6), Augmentation(hflip=True),
                                 Augmentation(affine_translate=0.1, affine_scale=0.2),
                                 Augmentation(crop_padding=4, hflip=True, affine_translate=0.1, color_jitter=0.2)],
                         ids=["crop", "flip", "affine", "all"])
def test_augmentation_moves_boxes_with_their_images(aug):
    n, size = 16, 48
    images = torch.zeros(n, 3, size, size)
    boxes = torch.full((n, 2, 5), -1.0)
    gen = torch.Generator().manual_seed(3)
    for i in range(n):
        x0, y0 = torch.randint(6, 20, (2,), generator=gen).tolist()
        bw, bh = torch.randint(8, 18, (2,), generator=gen).tolist()
        images[i, :, y0:y0 + bh, x0:x0 + bw] = 1.0
        boxes[i, 0] = torch.tensor([1, x0 / size, y0 / size, (x0 + bw) / size, (y0 + bh) / size])
    moved, moved_boxes = augment_batch(images, aug, torch.Generator().manual_seed(5), boxes=boxes)
    assert moved_boxes.shape == boxes.shape and (moved_boxes[:, 1, 0] == -1).all()   # padding stays padding
    for i in range(n):
        assert moved_boxes[i, 0, 1:].tolist() == pytest.approx(_bright_box(moved[i]), abs=1.6 / size)
    # a localization label (one box an image) moves the same way
    _, single = augment_batch(images, aug, torch.Generator().manual_seed(5), boxes=boxes[:, 0])
    assert torch.allclose(single, moved_boxes[:, 0])


def test_scene_boxes_frame_the_shapes():
    images, masks, boxes = _draw(32, 64, 64, torch.Generator().manual_seed(0), most=1)
    for i in range(32):
        on = masks[i] > 0
        rows, cols = torch.nonzero(on.any(1)).flatten(), torch.nonzero(on.any(0)).flatten()
        expected = [float(cols.min()) / 64, float(rows.min()) / 64, float(cols.max() + 1) / 64,
                    float(rows.max() + 1) / 64]
        assert boxes[i, 0, 1:].tolist() == pytest.approx(expected) and boxes[i, 0, 0] == masks[i].max() - 1


def test_box_data_sets_say_their_task():
    loc = load_dataset("single_objects", size=50)
    det = load_dataset("scene_objects", size=50)
    assert loc.task == label_task(loc.train.labels) == "localization" and loc.class_names == ("circle", "square",
                                                                                               "triangle")
    assert det.task == label_task(det.train.labels) == "detection" and det.train.labels.shape[1:] == (4, 5)
    again = load_dataset("scene_objects", size=50)
    assert torch.equal(det.test.images, again.test.images) and torch.equal(det.test.labels, again.test.labels)


def _with_output(graph: GraphSpec, **params) -> GraphSpec:
    out = graph.nodes_of_kind("Output")[0]
    return graph.with_params(out.id, {**out.params, **params})


@pytest.mark.parametrize("template,task,fix", [("small_localizer", "localization", "Linear"),
                                               ("small_detector", "detection", "Conv2d")])
def test_output_checks_the_shape_each_task_needs(template, task, fix):
    graph = load_template(template)
    assert analyze(graph).ok
    wrong = _with_output(graph, classes=5)
    problem = analyze(wrong).errors[0]
    assert f"expects {5 + 4}" in str(problem) and problem.fix is not None
    fixed, _ = apply_fix(wrong, problem.fix)   # the fix-it adjusts the last layer (or inserts a new one)
    assert analyze(fixed).ok, analyze(fixed).errors
    kinds = [n.kind for n in fixed.nodes]
    assert problem.fix.kind == fix or fixed.node_map()[problem.fix.node_id].kind == fix
    assert kinds.count(fix) >= [n.kind for n in wrong.nodes].count(fix)
    as_classifier = _with_output(graph, task="classification")
    assert not analyze(as_classifier).ok


@pytest.mark.parametrize("template,key,metric", [("small_localizer", "single_objects", "mean_box_iou"),
                                                 ("small_detector", "scene_objects", "map50")])
def test_training_reports_the_task_metrics(tmp_path, template, key, metric):
    data = load_dataset(key, size=120)
    config = TrainConfig(epochs=1, batch_size=32, optimizer="adam", lr=0.002,
                         augmentation=Augmentation(hflip=True, crop_padding=2))
    events = list(fit(load_template(template), data, config, run_dir=tmp_path))
    done = events[-1]
    assert isinstance(done, Finished), events[-1]
    summary = done.test.summary()
    assert summary["task"] == data.task and metric in summary
    json.dumps(summary)   # results.json must be able to hold it


def test_a_classifier_on_box_data_is_refused():
    data = load_dataset("single_objects", size=50)
    graph = GraphSpec()
    inp = make_node(graph, "Input", {"channels": 3, "height": 64, "width": 64})
    graph = graph.with_node(inp)
    flat = make_node(graph, "Flatten", {})
    graph = graph.with_node(flat).with_edge(EdgeSpec(inp.id, flat.id, 0))
    lin = make_node(graph, "Linear", {"out_features": 3})
    graph = graph.with_node(lin).with_edge(EdgeSpec(flat.id, lin.id, 0))
    out = make_node(graph, "Output", {"classes": 3})
    graph = graph.with_node(out).with_edge(EdgeSpec(lin.id, out.id, 0))
    failed = list(fit(graph, data, TrainConfig(epochs=1)))[-1]
    assert "localization" in failed.reason and "set the Output's task" in failed.reason
