"""The dashboard writes a run's record and metrics as it goes, so a crash of the app keeps them; failed and
interrupted runs are listed and say so; an interrupted run's weights come from its last checkpoint."""
import json
import threading

import numpy as np
import pytest

from engine.data import load_dataset
from helpers import small_training
from designer.training.run_store import RunStore
from designer.training.runs import run_title


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=400, seed=1)


@pytest.fixture
def dash(window, digits):
    return small_training(window, digits, epochs=2)


def test_metrics_are_on_disk_after_each_epoch_while_running(qtbot, dash):
    on_disk = []

    def after_epoch_checkpoint(ev):
        if ev.which != "last":
            return
        folder = dash.store.folder(dash.record.id)   # read while the run is still going
        dash.store.flush()     # progress is written by a background thread; wait for the copy just handed over
        meta = json.loads((folder / "run.json").read_text())
        epochs = json.loads((folder / "metrics.json").read_text())["epochs"]["epoch"]
        on_disk.append((meta["status"], len(epochs)))

    dash.controller.checkpoint.connect(after_epoch_checkpoint)
    with qtbot.waitSignal(dash.run_finished, timeout=60000):
        assert dash.start()
    assert on_disk[0] == ("running", 1)          # epoch 1's metrics next to epoch 1's checkpoint
    assert [t.name for t in threading.enumerate() if t.name.startswith("run-progress")]  # written off the GUI thread
    (record,) = dash.store.records()
    assert record.status == "finished" and len(record.epoch_metrics["epoch"]) == 2


def test_a_run_cut_short_by_a_crash_is_listed_as_interrupted_with_its_checkpoint_weights(qtbot, dash):
    saved = []
    dash.controller.checkpoint.connect(lambda ev: ev.which == "last" and saved.append(ev))
    with qtbot.waitSignal(dash.run_finished, timeout=60000):
        dash.start()
    run_id = dash.record.id
    folder = dash.store.folder(run_id)
    # what a crash after the first epoch leaves: status "running", a checkpoint, no final weights
    meta = json.loads((folder / "run.json").read_text())
    meta["status"] = "running"
    (folder / "run.json").write_text(json.dumps(meta))
    (folder / "weights.safetensors").unlink()

    store = RunStore(dash.store.root)            # the next start of the app
    (rec,) = store.refresh()
    assert rec.status == "running" and "interrupted" in run_title(rec)
    weights = store.load_weights(run_id)
    module_weights = dash.weights                # the finished run's final weights = its last checkpoint
    assert set(weights) == set(module_weights)
    for name, value in weights.items():
        np.testing.assert_allclose(value.numpy(), module_weights[name])


def test_a_failed_run_is_kept_with_its_reason(qtbot, dash, monkeypatch):
    import torch

    broken = {"now": False}
    forward = torch.nn.Linear.forward

    def failing_forward(self, x):   # a layer that starts raising mid-run, as a buggy custom layer would
        if broken["now"]:
            raise RuntimeError("simulated fault inside the layer")
        return forward(self, x)

    monkeypatch.setattr(torch.nn.Linear, "forward", failing_forward)
    dash.controller.backend = "thread"   # the patched layer exists in this process only
    dash.controller.step.connect(lambda m: m.step == 3 and broken.update(now=True))
    with qtbot.waitSignal(dash.controller.failed, timeout=60000) as failed_signal:
        dash.start()
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    assert "simulated fault" in failed_signal.args[0].reason
    failed = [r for r in RunStore(dash.store.root).refresh() if r.status == "failed"]
    assert len(failed) == 1 and "simulated fault" in failed[0].note
    assert failed[0].step_metrics["step"][:3] == [1, 2, 3]
    assert dash.runs.list.count() == 1 and "failed" in dash.runs.list.item(0).text()
