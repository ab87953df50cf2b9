"""Replacing the design, each way the app can: after a real (short) run of the old design, no tile, result,
status line, curve or run overlay of it survives in any panel; a layer without data says why."""
import json
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDockWidget

from designer.graph_edits import blank_graph
from designer.teaching.explain_context import run_metrics
from engine.data import load_dataset
from engine.graph_io import graph_to_dict, save_graph
from engine.templates import load_template
from helpers import chain_graph

WAYS = ("new_blank", "new_template", "open_json", "open_bundle", "lesson", "import_python", "recovery")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=200, seed=3)


def show_tab(window, widget):
    """Bring the dock holding the training dashboard's tab `widget` to the front, and the tab in it."""
    dash = window.training
    if widget in (dash.feature_maps, dash.filters, dash.results, dash.runs):
        dash.insight.setCurrentWidget(widget)
        widget = dash.insight
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is widget)
    dock.show()
    dock.raise_()


def train(qtbot, window, digits, lr=None):
    dash = window.training
    dash.data.set_dataset(digits)
    dash.form.batch_size.setValue(32)
    dash.form.epochs.setValue(1)
    dash.form.device.setCurrentText("cpu")
    if lr is not None:
        dash.form.lr.setValue(lr)
    with qtbot.waitSignal(dash.run_finished, timeout=120000):
        assert dash.start()
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    return dash.record


def trained_maps(feature_maps) -> bool:
    """The maps on screen come from trained weights: a run's snapshot ("epoch 1, step 5") or its final weights."""
    label = feature_maps.timelapse_label.toolTip()   # the full text; the label itself is elided
    return "epoch" in label or "current weights" in label


def tick(runs_view, run_ids):
    """Tick runs the way a click on their check boxes does (one itemChanged each)."""
    for i in range(runs_view.list.count()):
        item = runs_view.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) in run_ids:
            item.setCheckState(Qt.CheckState.Checked)


@pytest.fixture
def trained_window(qtbot, make_window, digits):
    """LeNet-5 after one epoch, with its maps, filters, results, curves, status line and ticked run on screen."""
    window = make_window(load_template("lenet5"))
    record = train(qtbot, window, digits)
    dash = window.training
    show_tab(window, dash.curves)
    dash.curves.redraw()
    show_tab(window, dash.runs)
    tick(dash.runs, {record.id})
    window.select_node("conv2d_1")
    show_tab(window, dash.feature_maps)
    # the old design is really on screen, so the checks after the replacement can fail
    assert "Not trained yet" not in dash.feature_maps.title.text()
    assert dash.feature_maps.grid.tile_count == 6 and trained_maps(dash.feature_maps), \
        (dash.feature_maps.timelapse_label.toolTip(), dash.feature_maps.timelapse.value(), dash.feature_maps.timelapse.maximum())
    assert dash.results.result is not None and "Test accuracy" in dash.results.summary.text()
    assert "Finished" in dash.controls.message.text() and dash.controls.progress.value() > 0
    assert len(dash.curves.metrics.steps["step"]) > 0 and len(dash.curves._overlays) == 1
    assert dash.runs.listed_ids() == [record.id] and dash.runs.checked_ids() == [record.id]
    assert dash.has_trained_weights() and run_metrics(dash, window.document.graph)[0] is not None
    return window, record


def replace(way, window, qtbot, tmp_path, dialog_answers, monkeypatch, make_window):
    """Replace the open design the way `way` names, as a person would."""
    files = window.files
    if way == "new_blank":
        dialog_answers.template = blank_graph()
        assert files.new_design()
    elif way == "new_template":   # the very same network again: a new design all the same
        dialog_answers.template = load_template("lenet5")
        assert files.new_design()
    elif way == "open_json":
        save_graph(load_template("lenet5"), tmp_path / "same.json")
        assert files.open_path(str(tmp_path / "same.json"), ask_to_save=False)
    elif way == "open_bundle":
        other = make_window(chain_graph(("Conv2d", {"out_channels": 3}), ("Flatten", {}),
                                        ("Linear", {"out_features": 10})))
        other.training.data.select("uci_digits")
        assert other.interchange.export_to("export_bundle", str(tmp_path / "other.cnnd"))
        assert files.open_path(str(tmp_path / "other.cnnd"), ask_to_save=False), dialog_answers.errors
        assert window.training.data.key == "uci_digits"   # the project's data set choice came with it
    elif way == "lesson":
        next(a for a in window.menu("Learn").actions() if a.objectName() == "action_lesson_2").trigger()
    elif way == "import_python":
        from designer.interchange import import_dialogs

        (tmp_path / "m.py").write_text("from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                                       "        super().__init__()\n        self.conv = nn.Conv2d(1, 2, 3)\n"
                                       "        self.fc = nn.Linear(2 * 26 * 26, 10)\n\n    def forward(self, x):\n"
                                       "        return self.fc(self.conv(x).flatten(1))\n")

        def accept(dialog):
            dialog.path.setText(str(tmp_path / "m.py"))
            dialog.class_name.setText("Net")
            dialog.channels.setValue(1), dialog.height_.setValue(28), dialog.width_.setValue(28)
            dialog.trust.setChecked(True)
            return QDialog.DialogCode.Accepted
        monkeypatch.setattr(import_dialogs.PythonImportDialog, "exec", accept)
        window.interchange.import_python()
        assert window.document.graph.nodes_of_kind("Linear"), dialog_answers.errors
    elif way == "recovery":
        from designer.settings import recovery_dir
        record = {"format": "cnn-designer-recovery", "file_path": "", "saved": time.time(),
                  "graph": graph_to_dict(load_template("lenet5"))}
        folder = recovery_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "autosave-crashed00001.json").write_text(json.dumps(record))
        dialog_answers.restore_answer = True
        assert files.offer_recovery()
    qtbot.wait(20)   # queued refreshes (the lesson tracker, the explain panel) run


@pytest.mark.parametrize("way", WAYS)
def test_replacing_the_design_leaves_nothing_of_the_old_one(way, qtbot, trained_window, tmp_path, dialog_answers,
                                                            monkeypatch, make_window):
    window, old_run = trained_window
    dash, state = window.training, window.state
    before = state.identity
    replace(way, window, qtbot, tmp_path, dialog_answers, monkeypatch, make_window)
    assert state.identity != before and not dash.controller.running
    # curves: no steps, no overlaid run, nothing drawn
    show_tab(window, dash.curves)
    dash.curves.redraw()
    assert len(dash.curves.metrics.steps["step"]) == 0 and dash.curves._overlays == []
    assert len(dash.curves.train_loss.getData()[0] or []) == 0
    # status line of the training panel
    assert dash.controls.message.text() == "" and dash.controls.stats.text() == "Not training."
    assert dash.controls.progress.value() == 0
    # results
    assert dash.results.result is None and state.result is None and "No results yet" in dash.results.summary.text()
    # weights and maps: whatever is shown now was computed for the new design, with untrained weights
    assert not dash.has_trained_weights() and state.weights is None and state.warm_start is None
    assert dash.feature_maps.epoch_snapshots == [] and not trained_maps(dash.feature_maps)
    show_tab(window, dash.feature_maps)
    conv = window.document.graph.nodes_of_kind("Conv2d")
    if conv:
        window.select_node(conv[0].id)
        assert not trained_maps(dash.feature_maps)
        # a layer of the new design says why its maps and filters mean little yet (or why there are none)
        assert "Not trained yet" in dash.feature_maps.title.text() or dash.feature_maps.grid.tile_count == 0
        show_tab(window, dash.filters)
        assert dash.filters.grid.tile_count == 0 or "Not trained yet" in dash.filters.title.text()
    # runs: the old design's run is neither listed first nor ticked; it is one tick away
    show_tab(window, dash.runs)
    assert old_run.id not in dash.runs.listed_ids() and dash.runs.checked_ids() == []
    dash.runs.show_all.setChecked(True)
    assert dash.runs.listed_ids()[-1] == old_run.id and dash.runs.checked_ids() == []
    assert dash.curves._overlays == []
    # explain: no metrics of the old design's run
    assert run_metrics(dash, window.document.graph) == (None, "", True)


def test_a_new_unconnected_layer_shows_no_maps_and_says_why(qtbot, trained_window, dialog_answers):
    window, _run = trained_window
    dash = window.training
    dialog_answers.template = blank_graph()
    assert window.files.new_design()
    node = window.document.add_node("Conv2d", (300.0, 300.0))
    assert node == "conv2d_1"   # the same id as the old design's trained layer
    window.select_node(node)
    show_tab(window, dash.feature_maps)
    assert dash.feature_maps.grid.tile_count == 0 and "not connected" in dash.feature_maps.title.text()
    show_tab(window, dash.filters)
    assert dash.filters.grid.tile_count == 0 and "not connected" in dash.filters.title.text()


def test_a_layer_cut_off_from_the_input_loses_its_maps(qtbot, trained_window):
    window, _run = trained_window
    dash, doc = window.training, window.document
    show_tab(window, dash.feature_maps)
    window.select_node("conv2d_1")
    assert dash.feature_maps.grid.tile_count == 6
    doc.remove_edges([e for e in doc.graph.edges if e.target == "conv2d_1"])
    window.select_node("conv2d_1")
    assert dash.feature_maps.grid.tile_count == 0 and "not connected" in dash.feature_maps.title.text()


def test_runs_of_this_design_come_first_and_the_rest_on_request(qtbot, trained_window, digits, dialog_answers,
                                                                  tmp_path):
    window, old_run = trained_window
    dash = window.training
    dialog_answers.template = load_template("lenet5")
    assert window.files.new_design()
    mine = train(qtbot, window, digits)
    assert dash.runs.listed_ids() == [mine.id]
    dash.runs.show_all.setChecked(True)
    assert dash.runs.listed_ids() == [mine.id, old_run.id]
    # a saved design keeps its runs: reopened later (a new identity), they are found by its file
    dialog_answers.save_path = str(tmp_path / "mine.json")
    assert window.files.save_as()
    again = train(qtbot, window, digits)
    assert window.files.open_path(str(tmp_path / "mine.json"), ask_to_save=False)
    dash.runs.show_all.setChecked(False)
    assert dash.runs.listed_ids() == [again.id]


def test_replacing_the_design_during_a_run_stops_it_and_draws_nothing_more(qtbot, make_window, digits,
                                                                            dialog_answers):
    window = make_window(load_template("lenet5"))
    dash = window.training
    dash.data.set_dataset(digits)
    dash.form.batch_size.setValue(8)
    dash.form.epochs.setValue(20)
    dash.form.device.setCurrentText("cpu")
    with qtbot.waitSignal(dash.controller.step, timeout=120000):
        assert dash.start()
    old = dash.record
    dialog_answers.template = blank_graph()
    assert window.files.new_design()
    with qtbot.waitSignal(dash.run_finished, timeout=120000):
        pass   # the run of the replaced design ends (stopped)
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    assert len(dash.curves.metrics.steps["step"]) == 0 and dash.results.result is None
    assert dash.controls.stats.text() == "Not training." and dash.controls.message.text() == ""
    assert not dash.has_trained_weights() and dash.feature_maps.epoch_snapshots == []
    assert "previous design" in window.statusBar().currentMessage()
    assert dash.runs.listed_ids() == []
    dash.runs.show_all.setChecked(True)
    assert dash.runs.listed_ids() == [old.id] and dash.store.get(old.id).status == "stopped"


def test_a_projects_runs_stay_this_designs_after_save_as_json(make_window, tmp_path, dialog_answers):
    from engine.compiler import compile_graph

    graph = load_template("lenet5")
    first = make_window(graph)
    run_id = first.interchange.adopt_weights(graph, compile_graph(graph).state_dict(), "Imported weights")
    assert first.training.runs.listed_ids() == [run_id]
    assert first.interchange.export_to("export_bundle", str(tmp_path / "p.cnnd"))
    second = make_window(chain_graph(("Flatten", {}), ("Linear", {"out_features": 10})))
    assert second.files.open_path(str(tmp_path / "p.cnnd"), ask_to_save=False), dialog_answers.errors
    runs = second.training.runs
    own = {r.id for r in second.state.own_runs()}
    assert run_id in own and set(runs.listed_ids()) == own
    dialog_answers.save_path = str(tmp_path / "p.json")
    assert second.files.save_as()
    assert {r.id for r in second.state.own_runs()} == own and set(runs.listed_ids()) == own
