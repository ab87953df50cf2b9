"""`cnn-designer train` / `eval` in-process: files written to the run folder, clear errors, exit codes."""
import csv
import json

from engine.cli import build_parser, run_command_line
from engine.templates import TEMPLATE_DIR
from engine.training.run_record import RunRecord

LENET = str(TEMPLATE_DIR / "lenet5.json")


def test_train_writes_the_run_folder_and_eval_reads_it(tmp_path, capsys):
    out = tmp_path / "run"
    code = run_command_line(["train", LENET, "--data", "generated_digits", "--size", "400", "--epochs", "2",
                             "--batch-size", "32", "--lr", "0.002", "--device", "cpu", "--out", str(out),
                             "--rotation", "5"])
    assert code == 0
    printed = capsys.readouterr()
    assert "test accuracy" in printed.out and "epoch 2/2" in printed.err
    for name in ("run.json", "graph.json", "config.json", "metrics_steps.csv", "metrics_epochs.csv", "metrics.json",
                 "results.json", "confusion.csv", "weights.safetensors", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (out / name).is_file(), name
    with open(out / "metrics_epochs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[1]["val_accuracy"]) >= 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["confusion"]) == 10 and sum(map(sum, results["confusion"])) == results["count"]
    record = RunRecord.load(out)
    assert record.config.epochs == 2 and record.config.augmentation.rotation == 5.0
    assert set(record.weights) >= {"conv2d_1.weight", "linear_3.bias"}

    assert run_command_line(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"accuracy {results['accuracy']:.2%}" in text and "confusion matrix" in text
    assert run_command_line(["eval", LENET, "--weights", str(out / "checkpoints" / "best.pt"), "--size", "400",
                             "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["count"] == results["count"]

    # resume continues from the checkpoint up to the new epoch count
    assert run_command_line(["train", LENET, "--size", "400", "--epochs", "3", "--out", str(tmp_path / "more"),
                             "--resume", str(out), "--quiet"]) == 0
    assert len(RunRecord.load(tmp_path / "more").epoch_metrics["epoch"]) == 1


def test_bad_input_exits_non_zero_with_a_clear_message(tmp_path, capsys):
    cases = [
        (["train", str(tmp_path / "missing.json")], "missing.json"),
        (["train", LENET, "--lr", "-1"], "lr"),
        (["train", LENET, "--data", "uci_digits"], "--fix resize"),
        (["train", LENET, "--data", "mnist", "--data-root", str(tmp_path), "--no-download"], "train-images-idx3-ubyte"),
        (["train", LENET, "--data", "folder"], "--data-root"),
        (["eval", LENET], "--weights"),
    ]
    for argv, expected in cases:
        assert run_command_line(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, (argv, err)


def test_help_documents_train_and_eval(capsys):
    parser = build_parser()
    help_text = parser.format_help()
    assert "train" in help_text and "eval" in help_text
    train_help = [a for a in parser._subparsers._group_actions[0].choices["train"]._actions]
    options = {o for a in train_help for o in a.option_strings}
    assert {"--data", "--data-root", "--size", "--epochs", "--batch-size", "--lr", "--device", "--out",
            "--resume", "--optimizer", "--schedule", "--fix"} <= options


def test_more_bad_input_is_reported_without_a_traceback(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{bad")
    (tmp_path / "notweights.pt").write_text('{"a": 1}')
    cases = [
        (["train", str(tmp_path / "bad.json")], "not valid JSON"),
        (["train", LENET, "--epochs", "0"], "epochs must be at least 1"),
        (["train", LENET, "--batch-size", "0"], "batch_size must be at least 1"),
        (["eval", LENET, "--weights", str(tmp_path / "notweights.pt")], "not a PyTorch weights file"),
    ]
    for argv, expected in cases:
        assert run_command_line(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and "weights_only=False" not in err, (argv, err)


def test_ctrl_c_stops_after_the_step_keeps_a_checkpoint_and_exits_130(tmp_path, capsys, monkeypatch):
    import os
    import signal

    from engine.training.events import StepMetrics
    from engine.training.progress import ProgressBar

    show = ProgressBar.show

    def interrupt_at_step_3(self, event):
        show(self, event)
        if isinstance(event, StepMetrics) and event.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does

    monkeypatch.setattr(ProgressBar, "show", interrupt_at_step_3)
    # Python's own handler, or SIG_IGN when the test run was started in the background (`cmd &` ignores SIGINT)
    handler_before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    code = run_command_line(["train", LENET, "--size", "400", "--epochs", "3", "--batch-size", "16",
                             "--device", "cpu", "--out", str(out)])
    assert code == 130
    printed = capsys.readouterr()
    assert "stopping after this step" in printed.err and "stopped after 0 epoch(s)" in printed.out
    from engine.training.checkpoint import load_checkpoint
    assert load_checkpoint(out)["global_step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler_before  # the handler is restored


def test_eval_finds_the_runs_data_where_train_read_it(tmp_path, capsys):
    """A run trained on a folder remembers --data-root, so `eval RUN_DIR` needs no data options again."""
    from PIL import Image

    images = tmp_path / "images"
    for digit in range(10):   # LeNet-5's ten classes
        (images / str(digit)).mkdir(parents=True)
        for i in range(8):
            Image.new("L", (28, 28), digit * 25 + i).save(images / str(digit) / f"{i}.png")
    out = tmp_path / "run"
    assert run_command_line(["train", LENET, "--data", "folder", "--data-root", str(images), "--epochs", "1",
                             "--batch-size", "8", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    from engine.training.run_record import RunRecord
    assert RunRecord.load(out, load_weights=False).data_root == str(images.resolve())
    capsys.readouterr()
    assert run_command_line(["eval", str(out), "--device", "cpu"]) == 0
    assert "accuracy" in capsys.readouterr().out.lower()
