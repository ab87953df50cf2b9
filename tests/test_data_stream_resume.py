"""A run on an image folder read from disk (streamed, or from its decoded cache), killed with SIGKILL by the
command line and resumed with --resume, ends with the same weights as the same run never interrupted."""
from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import run_command_line
from engine.graph import chain
from engine.graph_io import save_graph
from engine.training.checkpoint import load_checkpoint
from engine.training.run_record import RunRecord
from run_killer import kill_after_two_checkpoints

pytestmark = pytest.mark.usefixtures("one_thread")   # the same arithmetic as the killed child (one thread)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("streamed_resume")
    folder = base / "photos"
    rng = np.random.default_rng(1)
    for k, cls in enumerate(("a", "b")):
        (folder / cls).mkdir(parents=True)
        for i in range(40):
            pixels = np.clip(rng.normal(70 + 90 * k, 40, (14, 14, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"{i}.png")
    design = base / "net.json"
    save_graph(chain([("Input", {"channels": 3, "height": 12, "width": 12}), ("Conv2d", {"out_channels": 4}),
                      ("ReLU", {}), ("Flatten", {}), ("Linear", {"out_features": 2}), ("Output", {"classes": 2})]),
               design)
    return base, folder, design


def _args(design, folder, mode, epochs, out):
    return ["train", str(design), "--data", "folder", "--data-root", str(folder), "--data-mode", mode,
            "--epochs", str(epochs), "--batch-size", "8", "--schedule", "constant", "--device", "cpu",
            "--seed", "4", "--out", str(out), "--quiet"]


@pytest.mark.parametrize("mode", ["stream", "cache"])
def test_a_killed_streamed_run_resumes_to_the_uninterrupted_weights(setup, mode, tmp_path, capsys, monkeypatch):
    base, folder, design = setup
    monkeypatch.setenv("CNN_DESIGNER_DATA", str(base / "data"))
    killed = tmp_path / "killed"
    kill_after_two_checkpoints(_args(design, folder, mode, 500, killed), killed)
    epochs = load_checkpoint(killed)["epoch"] + 1     # one more epoch than the checkpoint holds
    assert run_command_line([*_args(design, folder, mode, epochs, killed), "--resume", str(killed)]) == 0
    whole = tmp_path / "whole"
    assert run_command_line(_args(design, folder, mode, epochs, whole)) == 0
    capsys.readouterr()
    resumed, straight = RunRecord.load(killed), RunRecord.load(whole)
    assert resumed.epoch_metrics["epoch"] == straight.epoch_metrics["epoch"] == list(range(epochs))
    for key, value in straight.weights.items():
        assert torch.equal(torch.as_tensor(resumed.weights[key]), torch.as_tensor(value)), key
