"""fit(): reaches real accuracy, is reproducible, stops/pauses/resumes cleanly and turns faults into
Failed events. PyTorch itself is the oracle for evaluation and snapshot shapes."""
import math
import queue
import threading

import numpy as np
import pytest
import torch

from engine.analysis import analyze
from engine.compiler import compile_graph
from engine.data import load_dataset
from engine.templates import load_template
from engine.training import (ActivationSnapshot, CheckpointSaved, EpochMetrics, Failed, Finished, Started,
                             StepMetrics, TrainConfig, TrainControl, fit)
from engine.training.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def lenet():
    return load_template("lenet5")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=5000, seed=0)


@pytest.fixture(scope="module")
def small():
    return load_dataset("generated_digits", size=600, seed=1)


def run(*args, **kwargs):
    return list(fit(*args, **kwargs))


def last(events, kind):
    found = [e for e in events if isinstance(e, kind)]
    return found[-1] if found else None


def test_lenet5_reaches_95_percent_on_generated_digits(lenet, digits):
    events = run(lenet, digits, TrainConfig(epochs=3, batch_size=32, lr=2e-3, seed=0))
    assert not any(isinstance(e, Failed) for e in events), last(events, Failed)
    started, done = events[0], events[-1]
    assert isinstance(started, Started) and started.class_names == digits.class_names
    assert isinstance(done, Finished) and not done.stopped and done.epochs_completed == 3
    assert done.test.accuracy >= 0.95
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert len(epochs) == 3 and epochs[-1].val_accuracy > epochs[0].val_accuracy - 0.05
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert steps[-1].step == started.total_steps and all(s.samples_per_sec > 0 for s in steps)


def test_evaluation_matches_a_plain_torch_oracle(lenet, small):
    done = last(run(lenet, small, TrainConfig(epochs=1, seed=0)), Finished)
    model = compile_graph(lenet)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in done.weights.items()})
    model.eval()
    with torch.no_grad():
        logits = model(small.test.images)
    pred = logits.argmax(1).numpy()
    t = done.test
    assert np.array_equal(t.predictions, pred)
    assert math.isclose(t.accuracy, float((pred == small.test.labels.numpy()).mean()))
    assert math.isclose(t.loss, float(torch.nn.functional.cross_entropy(logits, small.test.labels)), rel_tol=1e-4)
    assert t.confusion.sum() == len(small.test) and t.confusion.dtype == np.int64
    assert np.array_equal(t.misclassified, np.flatnonzero(pred != small.test.labels.numpy()))
    assert t.probabilities.shape == (len(small.test), 10) and np.allclose(t.probabilities.sum(1), 1, atol=1e-5)
    row = t.confusion[3]
    assert math.isclose(t.per_class_accuracy[3], row[3] / row.sum())


def test_seeded_runs_are_reproducible_on_cpu(lenet, small):
    cfg = TrainConfig(epochs=1, seed=5, augmentation={"rotation": 10.0, "erasing": 0.3})
    a, b = last(run(lenet, small, cfg), Finished), last(run(lenet, small, cfg), Finished)
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert all(w.flags.c_contiguous for w in a.weights.values())


def test_snapshots_cover_every_node_with_analysis_shapes(lenet, small):
    events = run(lenet, small, TrainConfig(epochs=1, snapshot_every=3))
    snaps = [e for e in events if isinstance(e, ActivationSnapshot)]
    assert len(snaps) >= 2 and snaps[-1].end_of_epoch
    analysis = analyze(lenet)
    model = compile_graph(lenet)
    for nid in model.node_order:
        assert snaps[0].activations[nid].shape == tuple(analysis.nodes[nid].shape)
        assert snaps[0].activations[nid].dtype == np.float32
        assert snaps[0].activations[nid].flags.c_contiguous  # whatever memory layout training uses
    assert set(snaps[0].filters) == {"conv2d_1", "conv2d_2"} and snaps[0].filters["conv2d_1"].shape == (6, 1, 5, 5)
    assert not np.array_equal(snaps[0].filters["conv2d_1"], snaps[-1].filters["conv2d_1"])  # training moved them


def _stop_after(events_iter, control, n_steps):
    out = []
    for e in events_iter:
        out.append(e)
        if isinstance(e, StepMetrics) and e.step == n_steps:
            control.stop()
    return out


def test_stop_mid_epoch_leaves_a_checkpoint_and_resume_matches_an_uninterrupted_run(lenet, small, tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=32, report_every=1, seed=2)
    full = last(run(lenet, small, cfg), Finished)
    control = TrainControl()
    events = _stop_after(fit(lenet, small, cfg, control, run_dir=tmp_path), control, 20)
    done = events[-1]
    assert isinstance(done, Finished) and done.stopped and done.epochs_completed == 1
    saved = last(events, CheckpointSaved)
    assert saved.which == "last"
    state = load_checkpoint(tmp_path)
    assert state["epoch"] == 1 and state["step_in_epoch"] == 20 - events[0].steps_per_epoch
    resumed = run(lenet, small, cfg, resume=tmp_path)
    assert resumed[0].start_epoch == 1
    again = last(resumed, Finished)
    assert not again.stopped and again.epochs_completed == 2
    for k in full.weights:
        np.testing.assert_allclose(again.weights[k], full.weights[k], rtol=1e-5, atol=1e-6)


def test_pause_holds_between_steps_and_resume_continues(lenet, small):
    control = TrainControl()
    events = queue.Queue()
    cfg = TrainConfig(epochs=2, batch_size=16, report_every=1)

    def worker():
        for e in fit(lenet, small, cfg, control):
            events.put(e)
            if isinstance(e, StepMetrics) and e.step == 5:
                control.pause()
                paused.set()
        events.put(None)

    paused = threading.Event()
    thread = threading.Thread(target=worker)
    thread.start()
    assert paused.wait(30)
    seen = []
    while True:  # drain: nothing past step 5 arrives while paused
        try:
            seen.append(events.get(timeout=0.5))
        except queue.Empty:
            break
    assert control.paused and max(e.step for e in seen if isinstance(e, StepMetrics)) == 5
    control.resume()
    thread.join(60)
    while (e := events.get()) is not None:
        seen.append(e)
    assert isinstance(seen[-1], Finished) and not seen[-1].stopped


def test_stop_while_paused_ends_the_run(lenet, small):
    control = TrainControl()
    out = []
    for e in fit(lenet, small, TrainConfig(epochs=3, report_every=1), control):
        out.append(e)
        if isinstance(e, StepMetrics) and e.step == 2:
            control.pause()
            threading.Timer(0.2, control.stop).start()
    assert isinstance(out[-1], Finished) and out[-1].stopped


def test_nan_loss_from_nan_pixels_fails_with_advice_to_fix_the_data(lenet, small):
    # a learning rate that diverges gets learning-rate advice: tests/test_training_faults.py
    poisoned = load_dataset("generated_digits", size=600, seed=1)
    poisoned.train.images[::7] = float("nan")
    failed = run(lenet, poisoned, TrainConfig(epochs=1, report_every=1))[-1]
    assert isinstance(failed, Failed) and "NaN" in failed.reason and "Reload the data set" in failed.reason


def test_exception_in_the_loop_becomes_a_failed_event(lenet, small, monkeypatch):
    from engine.training import loop

    def boom(self, x, y):
        raise RuntimeError("something broke")

    monkeypatch.setattr(loop._Run, "_train_step", boom)
    failed = run(lenet, small, TrainConfig(epochs=1))[-1]
    assert isinstance(failed, Failed) and "something broke" in failed.reason and "Traceback" in failed.detail


def test_out_of_memory_suggests_a_smaller_batch(lenet, small, monkeypatch):
    from engine.training import loop

    def oom(self, x, y):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loop._Run, "_train_step", oom)
    failed = run(lenet, small, TrainConfig(epochs=1, batch_size=128))[-1]
    assert isinstance(failed, Failed) and "smaller batch" in failed.reason and "64" in failed.reason


def test_setup_problems_fail_before_training(lenet, small):
    wrong_classes = lenet.with_params(lenet.nodes_of_kind("Output")[0].id, {"classes": 7})
    wrong_classes = wrong_classes.with_params("linear_3", {"out_features": 7})
    events = run(wrong_classes, small, TrainConfig(epochs=1))
    assert len(events) == 1 and "set the Output's classes to 10" in events[0].reason
    shapes = load_dataset("generated_shapes", size=100)
    events = run(lenet, shapes, TrainConfig(epochs=1))
    assert isinstance(events[0], Failed) and "3×32×32" in events[0].reason
    broken = lenet.without_edge(next(e for e in lenet.edges if e.target == "linear_1"))
    events = run(broken, small, TrainConfig(epochs=1))
    assert isinstance(events[0], Failed) and "cannot be built" in events[0].reason
    events = run(lenet, small, TrainConfig(epochs=1, freeze=("nope_1",)))
    assert "nope_1" in events[0].reason


@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
def test_schedules_change_the_learning_rate(lenet, small, schedule):
    events = run(lenet, small, TrainConfig(epochs=2, schedule=schedule, optimizer="sgd", lr=0.05, report_every=1))
    lrs = [e.lr for e in events if isinstance(e, StepMetrics)]
    assert isinstance(events[-1], Finished) and len(set(lrs)) > 1


def test_freeze_keeps_layers_fixed(lenet, small):
    torch.manual_seed(0)
    initial = compile_graph(lenet).state_dict()
    done = last(run(lenet, small, TrainConfig(epochs=1, seed=0, freeze=("conv2d_1",), optimizer="adamw",
                                              weight_decay=0.01)), Finished)
    assert np.array_equal(done.weights["conv2d_1.weight"], initial["conv2d_1.weight"].numpy())
    assert not np.array_equal(done.weights["conv2d_2.weight"], initial["conv2d_2.weight"].numpy())


def test_augmentation_and_grad_clip_run_on_colour_data():
    graph = load_template("lenet5")
    graph = graph.with_params("input_1", {"channels": 3, "height": 32, "width": 32})
    graph = graph.with_params(graph.nodes_of_kind("Output")[0].id, {"classes": 8})
    graph = graph.with_params("linear_3", {"out_features": 8})
    graph = graph.with_params("linear_1", {})
    data = load_dataset("generated_shapes", size=300)
    cfg = TrainConfig(epochs=1, grad_clip=1.0, augmentation={"crop_padding": 2, "hflip": True, "rotation": 15.0,
                                                             "affine_translate": 0.1, "affine_scale": 0.1,
                                                             "color_jitter": 0.3, "erasing": 0.5})
    events = run(graph, data, cfg)
    assert isinstance(events[-1], Finished), events[-1]


def test_early_stopping_ends_the_run_when_validation_loss_stops_improving(lenet, small, monkeypatch, tmp_path):
    from engine.training import loop

    losses = iter([0.5, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0])  # best at epoch 2, then worse and worse
    monkeypatch.setattr(loop._Run, "_validate", lambda self: (next(losses), 0.5))
    events = run(lenet, small, TrainConfig(epochs=7, early_stopping_patience=2), run_dir=tmp_path)
    done = events[-1]
    assert isinstance(done, Finished) and done.early_stopped and done.stopped
    assert done.epochs_completed == 4 and len([e for e in events if isinstance(e, EpochMetrics)]) == 4
    assert done.best_val_loss == 0.4 and done.test is not None
    assert [e.epoch for e in events if isinstance(e, CheckpointSaved) and e.which == "best"] == [1, 2]
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt")["epoch"] == 2


def test_resume_from_another_network_or_optimizer_says_why(lenet, small, tmp_path):
    assert isinstance(run(lenet, small, TrainConfig(epochs=1), run_dir=tmp_path)[-1], Finished)
    wider = lenet.with_params("linear_1", {"out_features": 100})
    failed = run(wider, small, TrainConfig(epochs=2), resume=tmp_path)[-1]
    assert isinstance(failed, Failed) and "different network" in failed.reason
    assert "linear_1.weight (120, 400) instead of (100, 400)" in failed.reason
    failed = run(lenet, small, TrainConfig(epochs=2, optimizer="sgd"), resume=tmp_path)[-1]
    assert isinstance(failed, Failed) and "optimizer 'adam'" in failed.reason
    failed = run(lenet, small, TrainConfig(epochs=2), resume=tmp_path / "nowhere")[-1]
    assert isinstance(failed, Failed) and "does not exist" in failed.reason


def test_run_ids_that_are_paths_are_refused_by_records_and_the_run_store(tmp_path):
    from engine.training.run_record import RunRecordError, check_run_id

    assert check_run_id("a1b2-c3_d4") == "a1b2-c3_d4"
    for bad in ("../x", "", "a/b", "..", None, "x" * 65):
        with pytest.raises(RunRecordError):
            check_run_id(bad)
    from designer.training.run_store import RunStore

    precious = tmp_path / "precious"
    precious.mkdir()
    store = RunStore(tmp_path / "runs" / "store")
    with pytest.raises(RunRecordError):
        store.delete("../../precious")
    assert precious.is_dir()
