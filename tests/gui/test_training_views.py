"""Feature maps, filters, receptive fields, confusion matrix, error gallery, runs comparison, exports."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from engine.data import load_dataset
from engine.insight.receptive import receptive_box


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=400, seed=2)


@pytest.fixture
def trained(qtbot, window, digits):
    d = window.training
    d.data.set_dataset(digits)
    d.form.batch_size.setValue(32)
    d.form.epochs.setValue(1)
    with qtbot.waitSignal(d.run_finished, timeout=60000):
        d.start()
    qtbot.waitUntil(lambda: not d.controller.running)
    return d


def test_feature_maps_have_one_tile_per_channel_and_map_clicks_to_receptive_fields(qtbot, window, trained):
    d = trained
    d.insight.setCurrentWidget(d.feature_maps)
    graph = window.document.graph
    for node in graph.nodes_of_kind("Conv2d") + graph.nodes_of_kind("MaxPool2d"):
        window.select_node(node.id)
        channels = window.document.analysis.nodes[node.id].shape[0]
        assert d.feature_maps.grid.tile_count == channels
    conv2 = graph.nodes_of_kind("Conv2d")[1].id
    window.select_node(conv2)
    grid = d.feature_maps.grid
    qtbot.waitUntil(lambda: grid.width() > 100)
    rect = grid._image_rect(3)
    h, w = window.document.analysis.nodes[conv2].shape[1:]
    row, col = 2, 7
    point = QPoint(rect.x() + int((col + 0.5) * rect.width() / w), rect.y() + int((row + 0.5) * rect.height() / h))
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=point)
    assert d.feature_maps.probe.box == receptive_box(graph, conv2, row, col)
    assert "Channel 3 at row 2, column 7" in d.feature_maps.rf_text.text()
    # the time-lapse keeps the end-of-epoch snapshot
    assert len(d.feature_maps.epoch_snapshots) == 1


def test_filter_viewer_shows_first_layer_kernels_and_deeper_ones_per_input_channel(window, trained):
    d = trained
    graph = window.document.graph
    first, second = graph.nodes_of_kind("Conv2d")[:2]
    d.insight.setCurrentWidget(d.filters)
    window.select_node(first.id)
    assert d.filters.first_layer_mode and d.filters.grid.tile_count == 6
    window.select_node(second.id)
    assert not d.filters.first_layer_mode and d.filters.grid.tile_count == 6  # one per input channel
    window.select_node(graph.nodes_of_kind("ReLU")[0].id)
    assert d.filters.grid.tile_count == 0


def test_confusion_matrix_sums_to_the_test_set_and_a_cell_click_shows_exactly_its_images(qtbot, trained, digits):
    d = trained
    result = d.result
    assert result.confusion.sum() == len(digits.test)
    assert d.results.matrix.confusion.sum() == len(digits.test)
    d.insight.setCurrentWidget(d.results)
    matrix = d.results.matrix
    qtbot.waitUntil(lambda: matrix.isVisible())
    counts = result.confusion.copy()
    np.fill_diagonal(counts, -1)
    t, p = np.unravel_index(int(np.argmax(counts)), counts.shape)   # the most common mistake
    if counts[t, p] <= 0:
        t, p = 0, 0
    centre = matrix.cell_rect(int(t), int(p)).center().toPoint()
    qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=centre)
    gallery = d.gallery.gallery
    expected = np.flatnonzero((result.targets == t) & (result.predictions == p)).tolist()
    shown = [gallery.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(gallery.list.count())]
    assert shown == expected[:60] and len(expected) == result.confusion[t, p]
    for method in ("Input gradient", "Grad-CAM"):
        gallery.method.setCurrentText(method)
        assert "Cannot" not in gallery.status.text()
    d.gallery.close()


def test_runs_overlay_and_compare_hyper_parameters_and_layers(qtbot, window, trained, tmp_path):
    d = trained
    d.form.lr.setValue(0.01)
    doc = window.document
    conv = doc.graph.nodes_of_kind("Conv2d")[0].id
    doc.push("wider", doc.graph.with_params(conv, {"out_channels": 8}))
    with qtbot.waitSignal(d.run_finished, timeout=60000):
        d.start()
    qtbot.waitUntil(lambda: not d.controller.running)
    a, b = d.store.records()
    assert a.name == "Run 1 · LeNet-5" and b.name == f"Run 2 · LeNet-5 ({conv} changed)"   # told apart
    d.runs.set_checked([a.id, b.id])
    table = d.runs.config_table
    names = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert names[0] == "lr" and table.item(0, 0).font().bold()
    assert table.item(0, 1).text() == "0.001" and table.item(0, 2).text() == "0.01"
    assert f"{conv}" in d.runs.layer_diff.text() and "out_channels 6 → 8" in d.runs.layer_diff.text()
    assert len(d.curves._overlays) == 2
    labels = lambda plot: [label.text for _sample, label in plot.legend.items]  # noqa: E731
    d.curves.redraw()
    assert sum(t in (a.name or a.id, b.name or b.id) for t in labels(d.curves.loss_plot)) == 2
    assert labels(d.curves.acc_plot) == ["train (per step)", "validation (per epoch)"]   # runs named once
    # loading the first run's weights: the next run warm-starts from the layers that still fit
    d.runs.list.setCurrentRow(0)
    d.runs.load_button.click()
    assert d.warm_start is not None and d.warm_start[0] == a.id
    d.curves.export_csv(str(tmp_path / "curves.csv"))
    d.curves.export_png(str(tmp_path / "curves.png"))
    text = (tmp_path / "curves.csv").read_text()
    assert text.startswith("epoch,step,") and "val_loss" in text
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_feature_maps_without_a_run_use_the_current_weights(qtbot, window, digits):
    d = window.training
    window.workspace.switch_to("train")   # the Design layout keeps the feature maps out of the way
    d.data.set_dataset(digits)
    conv = window.document.graph.nodes_of_kind("Conv2d")[0].id
    window.select_node(conv)
    assert d.feature_maps.grid.tile_count == 6
    assert "untrained" in d.feature_maps.timelapse_label.toolTip()


def test_a_flat_layer_is_one_tile_of_all_its_values(qtbot, window, digits):
    d = window.training
    window.workspace.switch_to("train")
    d.data.set_dataset(digits)
    d.insight.setCurrentWidget(d.feature_maps)
    window.select_node("flatten_1")
    fm = d.feature_maps
    assert fm.grid.tile_count == 1
    assert "400 values (flat)" in fm.title.text() and "row by row" in fm.title.text()
    assert "one channel" not in fm.title.text()
    values = np.asarray(fm._current["flatten_1"]).reshape(-1)
    assert values.size == 400
    assert fm.grid.caption(0) == f"{values.min():.2g}…{values.max():.2g}"   # short enough for the tile


def test_confusion_counts_show_on_hover_even_when_cells_are_too_small_for_text(qtbot):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QHelpEvent, QMouseEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    from designer.training.results import HINT, ResultsView

    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(300, 260)      # 10 classes in a small dock: cells well under 16 px
    view.show()
    qtbot.waitExposed(view)
    names = tuple(str(i) for i in range(10))
    confusion = np.diag(np.full(10, 190))
    confusion[9, 4] = 7
    view.matrix.set_matrix(confusion, names)
    matrix = view.matrix
    centre = matrix.cell_rect(9, 4).center().toPoint()
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(centre), QPointF(matrix.mapToGlobal(centre)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(matrix, move)   # qtbot.mouseMove sends no button-less moves on offscreen
    assert "7 test images of class 9 predicted as 4" in view.hint.text()
    help_event = QHelpEvent(QEvent.Type.ToolTip, centre, matrix.mapToGlobal(centre))
    matrix.event(help_event)
    assert "7 test images of class 9 predicted as 4 (3.6% of class 9)" in QToolTip.text()
    assert matrix.cell_description(2, 2).startswith("190 test images of class 2 classified correctly")
    matrix.leaveEvent(QEvent(QEvent.Type.Leave))
    assert view.hint.text() == HINT
    QToolTip.hideText()


def test_hidden_views_draw_when_shown_and_the_time_lapse_names_its_epoch(qtbot, window, trained):
    d = trained
    conv = window.document.graph.nodes_of_kind("Conv2d")[0].id
    d.insight.setCurrentWidget(d.runs)           # feature maps and filters hidden
    window.select_node(conv)
    assert d.feature_maps.grid.tile_count == 0 and d.filters.grid.tile_count == 0
    d.insight.setCurrentWidget(d.feature_maps)
    assert d.feature_maps.grid.tile_count == 6
    d.insight.setCurrentWidget(d.filters)
    assert d.filters.grid.tile_count == 6
    d.insight.setCurrentWidget(d.feature_maps)
    d.feature_maps.timelapse.setValue(0)
    assert d.feature_maps.timelapse_label.text() == "end of epoch 1"
    title = d.feature_maps.title.text()
    d.feature_maps.timelapse.setValue(d.feature_maps.timelapse.maximum())
    assert d.feature_maps.timelapse_label.text().startswith("live")
    assert d.feature_maps.title.text() == title     # stable title: no dock re-layout on every snapshot


def test_choosing_another_data_set_hides_the_loaded_sets_samples(window, digits):
    panel = window.training.data
    panel.set_dataset(digits)
    assert panel.samples.tile_count > 0
    panel.select("generated_shapes")
    assert panel.samples.tile_count == 0 and "Load" in panel.samples.toolTip()
    panel.select("generated_digits")
    assert panel.samples.tile_count > 0


def test_wheel_over_an_unfocused_setting_scrolls_the_panel_instead_of_changing_it(qtbot, window):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    d = window.training
    d.settings_panel.show()
    size = d.data.size
    before = size.value()

    def wheel():
        centre = QPointF(size.rect().center())
        event = QWheelEvent(centre, QPointF(size.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(size, event)

    wheel()
    assert size.value() == before
    size.setFocus()
    qtbot.waitUntil(size.hasFocus)
    wheel()
    assert size.value() != before     # once clicked into, the field takes the wheel as usual


def test_a_probe_image_from_a_file_is_fitted_to_the_input_and_a_bad_file_is_explained(window, digits, tmp_path):
    from PIL import Image

    d = window.training
    window.workspace.switch_to("train")
    d.data.set_dataset(digits)
    window.select_node(window.document.graph.nodes_of_kind("Conv2d")[0].id)
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[10:30, 25:35] = 255                      # a bright bar on a colour photo-sized image
    Image.fromarray(rgb).save(tmp_path / "bar.png")
    assert d.set_probe_file(str(tmp_path / "bar.png"))
    assert d.probe_image.shape == (1, 28, 28)    # grey and resized to the design's Input
    assert d.feature_maps.grid.tile_count == 6
    (tmp_path / "notes.png").write_text("not an image")
    assert not d.set_probe_file(str(tmp_path / "notes.png"))
    message = d.controls.message.text()
    assert "Cannot use" in message and "notes.png" in message and "Traceback" not in message
    assert d.probe_image.shape == (1, 28, 28)    # the previous probe stays
