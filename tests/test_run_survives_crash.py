"""Training results survive a crash: `cnn-designer train` killed with SIGKILL in the middle of a run leaves a
run folder whose metrics (CSV and JSON) are complete up to the last epoch, a checkpoint that loads, and
`--resume` in the same folder finishes the run with the metrics of every epoch, before and after the kill."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from engine.cli import run_command_line
from engine.templates import TEMPLATE_DIR
from engine.training.checkpoint import load_checkpoint
from engine.training.run_record import RunRecord
from run_killer import kill_after_two_checkpoints

LENET = str(TEMPLATE_DIR / "lenet5.json")
TRAIN = ["--data", "generated_digits", "--size", "600", "--batch-size", "32", "--device", "cpu", "--seed", "3"]


def epochs_in_csv(run: Path) -> list:
    with open(run / "metrics_epochs.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def kill_after_first_epoch(run: Path) -> None:
    kill_after_two_checkpoints(["train", LENET, *TRAIN, "--epochs", "200", "--out", str(run), "--quiet"], run)


def test_killed_training_keeps_its_metrics_and_checkpoint_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    kill_after_first_epoch(run)
    # Everything written so far parses: the run record, both metric tables, the checkpoint. The record's files
    # are written one after another (the CSV tables, then metrics.json, which the app and --resume read), so a
    # kill in the middle of a save can leave the CSV tables one save ahead of metrics.json, never behind.
    done = epochs_in_csv(run)
    assert done == list(range(len(done))) and len(done) >= 1
    record = RunRecord.load(run)
    epochs = record.epoch_metrics["epoch"]
    assert epochs == done[:len(epochs)] and len(done) - len(epochs) in (0, 1)
    assert record.test is None and record.weights is None              # the run never finished
    with open(run / "metrics_steps.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps and steps == sorted(steps) and steps[:len(record.step_metrics["step"])] == record.step_metrics["step"]
    checkpoint = load_checkpoint(run)
    # The record is saved at the end of each epoch, before that epoch's checkpoint: what --resume reads is
    # level with the checkpoint or one epoch ahead of it, never behind (the resume replaces the extra rows).
    assert checkpoint["epoch"] in (len(epochs) - 1, len(epochs))
    assert all(p.name.startswith(".") for p in run.rglob("*.tmp*"))   # a write cut by the kill stays hidden

    # Resume in the same folder and finish two more epochs.
    epochs = checkpoint["epoch"] + 2
    assert run_command_line(["train", LENET, *TRAIN, "--epochs", str(epochs), "--out", str(run), "--resume", str(run),
                             "--quiet"]) == 0
    capsys.readouterr()
    finished = RunRecord.load(run)
    assert finished.id == record.id                                   # the same run, continued
    assert finished.epoch_metrics["epoch"] == list(range(epochs)) == epochs_in_csv(run)
    steps = finished.step_metrics["step"]
    assert steps == sorted(set(steps))                                 # no step logged twice after the rewind
    assert finished.weights is not None and finished.test is not None
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
