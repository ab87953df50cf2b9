"""Your own images with masks: pairs by name, masks resized with their pictures by nearest, classes from
classes.txt or numbered, and every picture without a usable mask left out with the reason (or stopping the
load), then training a segmenter on them from the command line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import run_command_line
from engine.data import load_dataset
from engine.data.base import DatasetError
from engine.graph import chain
from engine.graph_io import save_graph

pytestmark = pytest.mark.usefixtures("one_thread")


def _pair(root, name, cls, size=(20, 16), mode="L", suffix=".jpg"):
    """A picture with one bright square, and its mask: class `cls` on the square, 0 elsewhere."""
    h, w = size
    mask = np.zeros((h, w), np.uint8)
    mask[4:12, 4:12] = cls
    picture = np.full((h, w, 3), 40, np.uint8)
    picture[mask > 0] = (220, 200 - 60 * cls, 60 * cls)
    Image.fromarray(picture).save(root / "images" / f"{name}{suffix}", quality=95)
    Image.fromarray(mask if mode == "L" else np.stack([mask] * 3, -1)).save(root / "masks" / f"{name}.png")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "own"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(12):
        _pair(root, f"p{i}", 1 + i % 2)
    return root


def test_pairs_load_resized_with_masks_by_nearest_and_classes_numbered(folder):
    data = load_dataset("mask_folder", root=folder, input_shape=(3, 10, 8), seed=1)
    assert data.task == "segmentation" and data.class_names == ("class 0", "class 1", "class 2")
    masks = torch.cat([data.train.labels, data.val.labels, data.test.labels])
    assert tuple(masks.shape[1:]) == (10, 8) and set(masks.unique().tolist()) == {0, 1, 2}
    images = torch.cat([data.train.images, data.val.images, data.test.images])
    assert tuple(images.shape[1:]) == (3, 10, 8)
    # the square stays where the picture's square is: bright red channel inside, dark outside
    inside = masks > 0
    assert images[:, 0][inside].mean() > 0.6 and images[:, 0][~inside].mean() < 0.35


def test_classes_txt_names_the_classes_and_bad_pairs_are_listed(folder):
    (folder / "classes.txt").write_text("background\ncat\n")   # class 2 is not named
    _pair(folder, "orphan", 1)
    (folder / "masks" / "orphan.png").unlink()
    _pair(folder, "colour", 1, mode="RGB")
    _pair(folder, "small", 1)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "masks" / "small.png")
    data = load_dataset("mask_folder", root=folder, input_shape=(3, 10, 8), seed=1)
    assert data.class_names == ("background", "cat")
    reasons = {p.split("/")[-1]: r for p, r in data.info.skipped}
    assert "no mask" in reasons["orphan.jpg"]
    assert "single-channel" in reasons["colour.jpg"]
    assert "5×5" in reasons["small.jpg"]
    assert sum("class 2" in r for r in reasons.values()) == 6   # the pictures whose masks use class 2
    with pytest.raises(DatasetError, match="cannot be used"):
        load_dataset("mask_folder", root=folder, input_shape=(3, 10, 8), seed=1, unreadable="stop")


def test_a_folder_without_images_and_masks_says_what_it_needs(tmp_path):
    with pytest.raises(DatasetError, match="images/ with the pictures and masks/"):
        load_dataset("mask_folder", root=tmp_path, input_shape=(3, 8, 8))
    with pytest.raises(DatasetError, match="needs a folder"):
        load_dataset("mask_folder", input_shape=(3, 8, 8))


def test_a_segmenter_trains_on_the_folder_from_the_command_line(folder, tmp_path, capsys):
    design = tmp_path / "seg.json"
    save_graph(chain([("Input", {"channels": 3, "height": 16, "width": 16}),
                      ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("ReLU", {}),
                      ("Conv2d", {"out_channels": 3, "kernel_size": 1}),
                      ("Output", {"classes": 3, "task": "segmentation"})]), design)
    out = tmp_path / "run"
    assert run_command_line(["train", str(design), "--data", "mask_folder", "--data-root", str(folder),
                             "--epochs", "2", "--batch-size", "4", "--device", "cpu", "--out", str(out),
                             "--quiet"]) == 0
    capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "segmentation" and results["class_names"] == ["class 0", "class 1", "class 2"]
