"""Localization and detection leave the app intact: exported training scripts train them with the engine's own
box code (torch only), the command line trains, evaluates and exports them, and the box geometry agrees with
torchvision's."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torchvision.ops import box_iou as tv_box_iou
from torchvision.ops import generalized_box_iou_loss

from engine.cli import run_command_line
from engine.data.registry import load_dataset
from engine.interchange.train_script import export_training_script
from engine.templates import load_template
from engine.training.boxes import box_iou, giou_loss


def _random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    lo = torch.rand(n, 2, generator=g) * 0.7
    return torch.cat([lo, lo + 0.05 + torch.rand(n, 2, generator=g) * 0.3], 1)


def test_box_geometry_matches_torchvision():
    a, b = _random_boxes(40, 0), _random_boxes(30, 1)
    assert torch.allclose(box_iou(a, b), tv_box_iou(a, b), atol=1e-6)
    c = _random_boxes(40, 2)
    assert torch.allclose(giou_loss(a, c), generalized_box_iou_loss(a, c, reduction="none"), atol=1e-5)


@pytest.mark.parametrize("template,metric", [("small_localizer", "box hits"), ("small_detector", "detection F1")])
def test_exported_scripts_train_box_networks(tmp_path, template, metric):
    script = tmp_path / "train.py"
    script.write_text(export_training_script(load_template(template), {"epochs": 1, "batch_size": 16}))
    text = script.read_text()
    assert "import engine" not in text and "torchvision.ops" not in text   # torch only, no app code
    done = subprocess.run([sys.executable, str(script), "--synthetic-size", "96", "--device", "cpu", "--out",
                           str(tmp_path / "out"), "--hflip", "--crop-padding", "2", "--affine-translate", "0.1"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["metric"] == metric and 0 <= metrics["test_accuracy"] <= 1
    assert metric in done.stdout


def test_an_exported_detector_refuses_class_labels(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(export_training_script(load_template("small_detector"), {"epochs": 1, "batch_size": 16}))
    wrong = tmp_path / "classes.pt"
    torch.save({"images": torch.rand(8, 3, 64, 64), "labels": torch.zeros(8, dtype=torch.long)}, wrong)
    refused = subprocess.run([sys.executable, str(script), "--dataset", "tensors", "--data", str(wrong),
                              "--device", "cpu", "--out", str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert refused.returncode != 0 and "N×K×5" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("template,key,metric", [("small_localizer", "single_objects", "mean_box_iou"),
                                                 ("small_detector", "scene_objects", "map50")])
def test_box_templates_train_evaluate_and_export_from_the_command_line(template, key, metric, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_command_line(["train", template, "--data", key, "--size", "80", "--epochs", "1", "--batch-size",
                             "16", "--device", "cpu", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == load_template(template).nodes_of_kind("Output")[0].params["task"]
    assert metric in results
    capsys.readouterr()
    assert run_command_line(["eval", str(out), "--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again[metric] == pytest.approx(results[metric]) and again["confusion"] == results["confusion"]
    for fmt, suffix in (("py", ".py"), ("onnx", ".onnx"), ("torchscript", ".pt")):
        assert run_command_line(["export", template, "--format", fmt, "-o", str(tmp_path / f"m{suffix}")]) == 0
    # the app's own data with boxes, in the tensor file export --data-out writes, trains the exported script
    script, data = tmp_path / "train.py", tmp_path / "data.pt"
    assert run_command_line(["export", template, "--format", "script", "-o", str(script)]) == 0
    d = load_dataset(key, size=80)
    torch.save({"images": torch.cat([d.train.images, d.val.images]), "labels": torch.cat([d.train.labels, d.val.labels]),
                "test_images": d.test.images, "test_labels": d.test.labels, "class_names": list(d.class_names)}, data)
    done = subprocess.run([sys.executable, str(script), "--dataset", "tensors", "--data", str(data), "--epochs", "1",
                           "--device", "cpu", "--out", str(tmp_path / "script-run")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(torch.load(data, weights_only=True)["labels"]) < 100
