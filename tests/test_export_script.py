"""The exported training script is standalone: it trains for an epoch on generated data under plain
python and under torchrun with two CPU processes, and saves weights that load into the compiled design."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.compiler import compile_graph
from engine.interchange.train_script import write_training_script
from engine.templates import load_template
from engine.training.config import Augmentation, TrainConfig

TORCHRUN = Path(sys.executable).with_name("torchrun")


def isolated_env():
    """Only torch/torchvision are importable: the repository is not on the path and cwd is elsewhere."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    folder = tmp_path_factory.mktemp("script")
    config = TrainConfig(optimizer="sgd", lr=0.05, schedule="onecycle", batch_size=32, epochs=7, seed=5,
                         grad_clip=1.0, augmentation=Augmentation(crop_padding=2, rotation=5.0))
    return write_training_script(load_template("lenet5"), folder / "train.py", config, "generated_digits")


def run(cmd, cwd):
    done = subprocess.run(cmd, cwd=cwd, env=isolated_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def check_outputs(out_dir, world):
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 1 and metrics["world_size"] == world
    assert metrics["args"]["optimizer"] == "sgd" and metrics["args"]["seed"] == 5  # the run's config
    weights = torch.load(out_dir / "weights.pt", weights_only=True)
    compile_graph(load_template("lenet5")).load_state_dict(weights, strict=True)


def test_script_runs_with_python(script, tmp_path):
    run([sys.executable, str(script), "--epochs", "1", "--synthetic-size", "240", "--out", str(tmp_path / "o")],
        tmp_path)
    check_outputs(tmp_path / "o", 1)


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to this Python")
def test_script_runs_under_torchrun_with_two_processes(script, tmp_path):
    done = run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(script), "--epochs", "1",
                "--synthetic-size", "240", "--out", str(tmp_path / "o")], tmp_path)
    assert "x2" in done.stdout
    check_outputs(tmp_path / "o", 2)


def test_script_trains_on_an_exported_tensor_file(script, tmp_path):
    g = torch.Generator().manual_seed(0)
    torch.save({"images": torch.rand(60, 1, 28, 28, generator=g), "labels": torch.randint(0, 10, (60,), generator=g),
                "class_names": [str(i) for i in range(10)]}, tmp_path / "data.pt")
    run([sys.executable, str(script), "--dataset", "tensors", "--data", str(tmp_path / "data.pt"), "--epochs", "1",
         "--out", str(tmp_path / "o")], tmp_path)
    check_outputs(tmp_path / "o", 1)


def test_script_explains_a_missing_data_file(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--dataset", "tensors", "--data", "nope.pt"], cwd=tmp_path,
                          env=isolated_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_exporting_a_data_set_offline_reads_only_the_given_folder(tmp_path, capsys):
    """export --data-out with --data-root and --no-download: no network, and a clear message when the files
    are not in that folder; a folder of images there is exported."""
    from PIL import Image

    from engine.cli import run_command_line
    from engine.graph_io import save_graph

    design = tmp_path / "lenet.json"
    save_graph(load_template("lenet5"), design)
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["export", "-f", "script", "-o", str(tmp_path / "train.py"), "--data-out", str(tmp_path / "d.pt"),
            "--no-download", str(design)]
    assert run_command_line(argv + ["--dataset", "mnist", "--data-root", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "downloading is switched off" in err and str(empty) in err and not (tmp_path / "d.pt").exists()

    images = tmp_path / "images"
    for name, shade in (("dark", 30), ("light", 220)):
        (images / name).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (28, 28), shade + i).save(images / name / f"{i}.png")
    assert run_command_line(argv + ["--dataset", "folder", "--data-root", str(images)]) == 0
    saved = torch.load(tmp_path / "d.pt", weights_only=True)
    assert saved["class_names"] == ["dark", "light"]
    assert len(saved["images"]) + len(saved["test_images"]) == 12
