"""Semantic segmentation: the generated scenes, the Output's segmentation task with its shape rules and fix-its,
augmentation that moves masks with their images, the metrics against hand-computed cases, and training,
evaluation and export of the segmentation templates."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from engine.analysis import analyze
from engine.cli import run_command_line
from engine.compiler import compile_graph, example_input
from engine.data import load_dataset
from engine.data.base import Split
from engine.fixes import apply_fix
from engine.graph import chain
from engine.interchange.train_script import export_training_script
from engine.training import fit
from engine.training.augment import augment_batch
from engine.training.batches import _IndexedBatches
from engine.training.config import Augmentation, TrainConfig
from engine.training.evaluate import evaluate, masks_result
from engine.training.events import EpochMetrics, Failed, Finished, StepMetrics

pytestmark = pytest.mark.usefixtures("one_thread")


def test_scenes_are_reproducible_drawn_at_the_inputs_size_and_masks_match_the_pictures():
    a = load_dataset("scenes", size=40, seed=3, input_shape=(3, 32, 48))
    b = load_dataset("scenes", size=40, seed=3, input_shape=(3, 32, 48))
    assert a.task == "segmentation" and a.class_names == ("background", "circle", "square", "triangle")
    assert tuple(a.train.images.shape[1:]) == (3, 32, 48) and tuple(a.train.labels.shape[1:]) == (32, 48)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.train.labels, b.train.labels)
    masks = torch.cat([a.train.labels, a.test.labels])
    assert set(masks.unique().tolist()) == {0, 1, 2, 3}
    assert all((m > 0).any() for m in masks)          # every scene has at least one shape
    # side by side, two pixels of one shape class have one colour (plus noise); the texture around them does not
    images = torch.cat([a.train.images, a.test.images])
    same = (masks[:, :, 1:] == masks[:, :, :-1]) & (masks[:, :, 1:] > 0)
    step = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().amax(dim=1)
    assert (step[same] < 0.25).float().mean() > 0.97
    edges = (masks[:, :, 1:] != masks[:, :, :-1])
    assert step[edges].mean() > 3 * step[same].mean()   # and the picture changes where the mask does


def _segmenter(size=16, pool=True, classes=4, last=4):
    layers = [("Input", {"channels": 3, "height": size, "width": size}),
              ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("ReLU", {})]
    if pool:
        layers.append(("MaxPool2d", {}))
    layers += [("Conv2d", {"out_channels": last, "kernel_size": 1}),
               ("Output", {"classes": classes, "task": "segmentation"})]
    return chain(layers)


def test_a_segmentation_output_wants_score_maps_at_the_inputs_size_and_fixes_say_how():
    graph = _segmenter(pool=True)
    (issue,) = analyze(graph).errors
    assert "masks are 16×16" in issue.message and "outputs 8×8" in issue.message and "Upsample ×2" in issue.message
    fixed, _ = apply_fix(graph, issue.fix)
    analysis = analyze(fixed)
    assert analysis.ok
    out = compile_graph(fixed)(example_input(fixed, 2))   # PyTorch agrees with the analysis
    assert tuple(out.shape[1:]) == analysis.nodes["output_1"].shape == (4, 16, 16)
    wrong = _segmenter(pool=False, last=6)
    (issue,) = analyze(wrong).errors
    assert "expects 4 score maps" in issue.message and issue.fix is not None   # (sets the last conv to 4)
    assert analyze(apply_fix(wrong, issue.fix)[0]).ok
    flat = chain([("Input", {"channels": 3, "height": 8, "width": 8}), ("Flatten", {}),
                  ("Linear", {"out_features": 4}), ("Output", {"classes": 4, "task": "segmentation"})])
    assert "one score per class at every pixel" in analyze(flat).errors[0].message


def test_metrics_match_a_hand_computed_case():
    truth = np.array([[[0, 0], [1, 1]], [[2, 2], [2, 0]]])
    guess = np.array([[[0, 1], [1, 1]], [[2, 0], [2, 0]]])
    r = masks_result(guess, truth, loss_sum=4.0, class_names=("bg", "a", "b"))
    # class 0: truth {00,01,13}, guess {00,12,13} -> 2 shared of 4 ; class 1: truth 2 px, guess 3, shared 2
    # class 2: truth 3 px, guess 2, shared 2
    np.testing.assert_allclose(r.iou, [2 / 4, 2 / 3, 2 / 3])
    assert r.mean_iou == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert r.accuracy == pytest.approx(6 / 8) and r.loss == pytest.approx(4 / 8)
    assert r.confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    # image 0: classes 0 and 1 -> (1/2 + 2/3) / 2; image 1: classes 0 and 2 -> (1/2 + 2/3) / 2
    np.testing.assert_allclose(r.image_iou, [(0.5 + 2 / 3) / 2, (0.5 + 2 / 3) / 2])
    summary = r.summary()
    assert summary["task"] == "segmentation" and summary["per_class_iou"][0] == 0.5


def _coded(n=6, size=12):
    """Images whose first channel spells their mask, so alignment after augmentation can be read off."""
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(0, 4, (n, 1, size // 4, size // 4), generator=g).float()
    masks = torch.nn.functional.interpolate(blocks, scale_factor=4, mode="nearest")[:, 0].long()
    images = torch.stack([masks / 3.0, torch.rand(n, size, size, generator=g), torch.zeros(n, size, size)], 1)
    return images, masks


def test_device_augmentation_moves_masks_with_their_images():
    images, masks = _coded()
    aug = Augmentation(crop_padding=3, hflip=True, color_jitter=0.0)
    x, y = augment_batch(images, aug, torch.Generator().manual_seed(1), masks=y_copy(masks))
    assert not torch.equal(y, masks)                                  # something moved
    inside = x[:, 2] == 0                                              # padding shows as zeros everywhere
    torch.testing.assert_close(x[:, 0], y / 3.0)                       # and the masks moved the same way
    assert inside.all()
    rotated, rmask = augment_batch(images, Augmentation(rotation=30.0), torch.Generator().manual_seed(2),
                                   masks=y_copy(masks))
    agree = (rotated[:, 0] * 3).round() == rmask
    assert agree.float().mean() > 0.8        # bilinear images and nearest masks agree away from the edges


def y_copy(masks):
    return masks.clone()


def test_streamed_augmentation_moves_masks_with_their_images():
    images, masks = _coded()
    dataset = _IndexedBatches(Split(images, masks), Augmentation(crop_padding=3, hflip=True), (3, 12, 12))
    loader = DataLoader(dataset, sampler=[list(range(6))], batch_size=None)
    x, y = next(iter(loader))
    assert y.dtype == torch.long and tuple(y.shape) == (6, 12, 12)
    torch.testing.assert_close(x[:, 0], y / 3.0)


def _events(graph, data, config):
    return list(fit(graph, data, config))


def test_training_a_segmenter_reports_pixel_accuracy_and_iou():
    data = load_dataset("scenes", size=60, seed=1, input_shape=(3, 16, 16))
    graph = _segmenter(pool=False)
    events = _events(graph, data, TrainConfig(epochs=2, batch_size=16, device="cpu", seed=0, lr=0.01))
    assert not [e for e in events if isinstance(e, Failed)]
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert steps and all(0 <= s.accuracy <= 1 for s in steps)
    assert steps[-1].samples_per_sec < 1e5       # images per second, not pixels
    done = events[-1]
    assert isinstance(done, Finished) and done.test.task == "segmentation" and len(done.test.iou) == 4
    module = compile_graph(graph)
    module.load_state_dict({k: torch.as_tensor(v) for k, v in done.weights.items()})
    module.train()
    again = evaluate(module, data.test, data.class_names, "cpu")   # evaluation is repeatable from the weights
    assert module.training                                        # and leaves the module in its mode
    assert again.accuracy == pytest.approx(done.test.accuracy) and again.mean_iou == pytest.approx(done.test.mean_iou)


def test_a_design_and_data_set_of_different_tasks_are_refused_with_what_to_change():
    data = load_dataset("scenes", size=30, seed=1, input_shape=(3, 16, 16))
    classifier = chain([("Input", {"channels": 3, "height": 16, "width": 16}), ("Flatten", {}),
                        ("Linear", {"out_features": 4}), ("Output", {"classes": 4})])
    failed = _events(classifier, data, TrainConfig(epochs=1, device="cpu"))[-1]
    assert isinstance(failed, Failed) and "set the Output's task to segmentation" in failed.reason
    shapes = load_dataset("generated_shapes", size=30, seed=1)
    failed = _events(_segmenter(size=32, pool=False, classes=8, last=8), shapes, TrainConfig(epochs=1, device="cpu"))[-1]
    assert isinstance(failed, Failed) and "set the Output's task to classification" in failed.reason


@pytest.mark.parametrize("key", ["small_fcn", "small_unet"])
def test_segmentation_templates_train_evaluate_and_export_from_the_command_line(key, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_command_line(["train", key, "--data", "scenes", "--size", "80", "--epochs", "1", "--batch-size", "16",
                             "--device", "cpu", "--seed", "2", "--out", str(out), "--quiet", "--dice-weight", "0.5"]) == 0
    assert json.loads((out / "config.json").read_text())["dice_weight"] == 0.5
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "segmentation" and len(results["per_class_iou"]) == 4
    assert 0 <= results["mean_iou"] <= 1
    capsys.readouterr()
    assert run_command_line(["eval", str(out), "--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["mean_iou"] == pytest.approx(results["mean_iou"]) and again["confusion"] == results["confusion"]
    for fmt, suffix in (("py", ".py"), ("onnx", ".onnx"), ("torchscript", ".pt")):
        assert run_command_line(["export", key, "--format", fmt, "-o", str(tmp_path / f"m{suffix}")]) == 0


def test_the_exported_training_script_trains_a_segmenter_on_its_synthetic_masks(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(export_training_script(_segmenter(pool=False), {"epochs": 1, "batch_size": 16}))
    done = subprocess.run([sys.executable, str(script), "--synthetic-size", "64", "--device", "cpu", "--out",
                           str(tmp_path / "out"), "--hflip", "--crop-padding", "2", "--dice-weight", "0.5"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics and "test" in json.dumps(metrics)


def test_dice_loss_matches_hand_computed_cases_and_trains():
    from engine.training.tasks import dice_counts, dice_loss, training_loss

    masks = torch.tensor([[[0, 1], [1, 1]]])
    sure = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).float() * 40 - 20   # right with certainty
    assert float(dice_loss(*dice_counts(sure, masks))) == pytest.approx(0.0, abs=1e-6)
    unsure = torch.zeros(1, 2, 2, 2)                       # 0.5 everywhere: class 0 Σp·t = 0.5, Σp+Σt = 2 + 1
    inter, total = dice_counts(unsure, masks)
    assert inter.tolist() == [0.5, 1.5] and total.tolist() == [3.0, 5.0]
    want = 1 - ((2 * 0.5 + 1) / (3 + 1) + (2 * 1.5 + 1) / (5 + 1)) / 2
    assert float(dice_loss(inter, total)) == pytest.approx(want)
    ce = torch.nn.functional.cross_entropy(unsure, masks)
    assert float(training_loss(unsure, masks, 0.5)) == pytest.approx(float(ce) + 0.5 * want)
    labels = torch.tensor([0, 1])                          # classification ignores the Dice weight
    assert float(training_loss(torch.zeros(2, 2), labels, 3.0)) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="dice_weight"):
        TrainConfig(dice_weight=-1)
    data = load_dataset("scenes", size=40, seed=1, input_shape=(3, 16, 16))
    events = _events(_segmenter(pool=False), data, TrainConfig(epochs=1, batch_size=16, device="cpu", dice_weight=1.0))
    epoch = [e for e in events if isinstance(e, EpochMetrics)][-1]
    assert isinstance(events[-1], Finished) and math.isfinite(epoch.val_loss)
