"""The training dashboard in the real main window: runs, stop, pause, close mid-run, stale runs, refusals."""
import numpy as np
import pytest

from engine.data import load_dataset
from helpers import small_training


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=400, seed=1)


@pytest.fixture
def dash(window, digits):
    return small_training(window, digits, epochs=1)


def _collect(dash):
    seen = {"step": [], "epoch": [], "snapshot": [], "finished": []}
    for name, items in seen.items():
        getattr(dash.controller, name).connect(items.append)
    return seen


def test_short_run_emits_progress_and_finished_and_fills_curves(qtbot, window, dash, digits):
    dash.form.epochs.setValue(2)
    seen = _collect(dash)
    with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
        assert dash.start()
    ev = finished.args[0]
    assert not ev.stopped and ev.epochs_completed == 2
    steps = seen["step"]
    assert steps and steps[-1].step == steps[-1].total_steps
    assert dash.controls.progress.value() == steps[-1].total_steps
    qtbot.waitUntil(lambda: not dash.controller.running)
    dash.curves.redraw()
    x, y = dash.curves.train_loss.getData()
    assert len(x) == len(steps) and np.allclose(x, [m.step for m in steps])
    assert len(dash.curves.val_loss.getData()[0]) == 2
    assert len(seen["epoch"]) == 2 and any(s.end_of_epoch for s in seen["snapshot"])
    # the run is kept with its graph, config, metrics, results and weights
    (record,) = dash.store.records()
    assert record.graph == window.document.graph and record.config.epochs == 2
    assert (dash.store.folder(record.id) / "weights.safetensors").is_file()
    assert record.test["count"] == len(digits.test)
    assert dash.runs.list.count() == 1


@pytest.fixture
def held_step(monkeypatch, tmp_path):
    """Step 3 of the next run waits in the training process until the test releases it (the process trains
    on while the GUI reacts to step 2, so on a busy machine a stop or pause could otherwise land late)."""
    import functools

    import child_faults
    from engine.training import process

    monkeypatch.setattr(process, "SETUP_HOOKS", [functools.partial(child_faults.hold_training_step, 3, str(tmp_path))])
    release = lambda: (tmp_path / "release").touch()  # noqa: E731
    yield release
    release()   # the hook stays in the warm training process: whatever happened, it must never hold again


def test_stop_ends_the_run_mid_epoch(qtbot, dash, held_step):
    dash.form.epochs.setValue(3)
    seen = _collect(dash)
    dash.controller.step.connect(lambda m: m.step == 2 and (dash.stop(), held_step()))
    with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
        dash.start()
    ev = finished.args[0]
    assert ev.stopped and ev.epochs_completed == 0
    last = seen["step"][-1]
    assert last.step < last.steps_per_epoch  # stopped inside the first epoch


def test_pause_freezes_the_step_count_and_resume_continues(qtbot, dash, held_step):
    dash.form.epochs.setValue(3)
    seen = _collect(dash)
    dash.controller.step.connect(
        lambda m: m.step == 2 and not dash.controller.paused and (dash.toggle_pause(), held_step()))
    dash.start()
    qtbot.waitUntil(lambda: dash.controller.paused, timeout=60000)
    assert dash.controls.pause_button.text().endswith("Resume")
    qtbot.wait(300)
    frozen = len(seen["step"])
    qtbot.wait(500)
    # the worker may finish a step or two before the pause reaches it, but then it stops stepping
    assert len(seen["step"]) == frozen and seen["step"][-1].step < seen["step"][-1].total_steps
    with qtbot.waitSignal(dash.run_finished, timeout=60000):
        dash.toggle_pause()
    assert len(seen["step"]) > frozen


def test_closing_the_window_mid_run_stops_it_cleanly(qtbot, window, dash, qtlog):
    dash.form.epochs.setValue(20)
    with qtbot.waitSignal(dash.controller.step, timeout=60000):
        dash.start()
    thread = dash.controller._thread
    assert thread is not None and thread.isRunning()
    window.close()
    assert not dash.controller.running
    assert thread is None or not shiboken_valid(thread) or thread.isFinished()
    assert not [r for r in qtlog.records if "QThread" in r.message]


def shiboken_valid(obj):
    import shiboken6
    return shiboken6.isValid(obj)


def test_start_refuses_an_invalid_graph_and_says_why(window, dash):
    doc = window.document
    edge = doc.graph.edges[0]
    doc.push("cut", doc.graph.without_edge(edge))
    assert not doc.analysis.ok
    assert dash.start() is False
    assert not dash.controller.running
    assert "Cannot train yet" in dash.controls.message.text()


def test_editing_the_graph_during_a_run_marks_it_stale(qtbot, window, dash):
    dash.form.epochs.setValue(2)
    with qtbot.waitSignal(dash.controller.step, timeout=60000):
        dash.start()
    doc = window.document
    snapshot = dash.run_graph
    conv = doc.graph.nodes_of_kind("Conv2d")[0].id
    doc.push("edit", doc.graph.with_params(conv, {"out_channels": 8}))
    assert dash.stale and "stale" in dash.controls.message.text()
    with qtbot.waitSignal(dash.run_finished, timeout=60000):
        pass
    assert dash.store.records()[-1].graph == snapshot      # it trained the snapshot, not the edit
    assert "stale" in dash.store.records()[-1].name


def test_the_default_data_set_loads_in_the_background_when_the_dashboard_is_first_shown(
        qtbot, make_window, monkeypatch):
    from designer.training.dashboard import TrainingDashboard

    import designer.training.data_panel as data_panel

    real_load = data_panel.load_dataset
    monkeypatch.setattr(data_panel, "load_dataset",  # a small generated set keeps the test quick
                        lambda key, size=None, **kw: real_load(key, size=300, **kw))
    monkeypatch.setattr(TrainingDashboard, "preload_on_show", True)
    win = make_window()
    d = win.training
    qtbot.waitUntil(lambda: d.data.dataset is not None, timeout=60000)
    assert d.data.samples.tile_count > 0 and d.data.dataset.key == "generated_digits"
    assert d.feature_maps.probe._image is not None       # the probe image is there before any run
    assert d.feature_maps.probe_index.maximum() == len(d.data.dataset.test) - 1
    qtbot.waitUntil(lambda: not d.data.loading)           # the loader thread ends
    assert d.preload() is False                           # a loaded set is not loaded again


def test_closing_the_window_while_the_data_set_preloads_leaves_no_thread_running(qtbot, make_window, monkeypatch,
                                                                                 qtlog):
    import designer.training.data_panel as data_panel
    from designer.training.dashboard import TrainingDashboard

    real_load = data_panel.load_dataset
    monkeypatch.setattr(data_panel, "load_dataset", lambda key, size=None, **kw: real_load(key, size=300, **kw))
    monkeypatch.setattr(TrainingDashboard, "preload_on_show", True)
    win = make_window()
    d = win.training
    qtbot.waitUntil(lambda: d.data.loading or d.data.dataset is not None, timeout=10000)
    win.close()
    assert not d.data.loading
    assert not [r for r in qtlog.records if "QThread" in r.message]
