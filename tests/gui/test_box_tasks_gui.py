"""Localization and detection in the app: the templates train on the generated scenes with boxes in the training
process, Results names the task's score over the confusion matrix, the curves name the task's metric, and a
cell opens its images as true boxes · predicted boxes."""
from __future__ import annotations

import pytest

from engine.templates import load_template
from tests.gui.test_segmentation_gui import _find_gallery


@pytest.mark.parametrize("template,key,score,classes", [("small_localizer", "single_objects", "box hits", 3),
                                                        ("small_detector", "scene_objects", "mAP@0.5", 4)])
def test_box_networks_train_and_results_show_boxes(make_window, qtbot, template, key, score, classes):
    window = make_window(load_template(template))
    data = window.training.data
    data.select(key)
    data.size.setValue(120)
    with qtbot.waitSignal(data.dataset_loaded, timeout=60000):
        data.load()
    dash = window.training
    dash.form.batch_size.setValue(16)
    dash.form.epochs.setValue(1)
    dash.form.device.setCurrentText("cpu")
    with qtbot.waitSignal(dash.run_finished, timeout=180000):
        assert dash.start()
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    record = dash.record
    assert record.status == "finished" and record.test["task"] == data.dataset.task
    from designer.training.runs import run_title
    assert f"test {score}" in run_title(record)
    assert dash.curves.metric_name in ("box hits", "detection F1")
    assert dash.curves.acc_plot.titleLabel.text.lower().startswith(dash.curves.metric_name[:3].lower())
    results = dash.results
    qtbot.waitUntil(lambda: results.result is not None, timeout=30000)
    assert score in results.summary.text() and len(results.result.class_names) == classes
    matrix = results.result.confusion
    true_class, pred_class = divmod(int(matrix.argmax()), matrix.shape[1])   # the fullest cell has images
    results.cell_clicked.emit(true_class, pred_class)
    gallery = _find_gallery(window)
    assert gallery.list.count() > 0 and "true boxes" in gallery.title.text()
    assert gallery.saliency_bar.isHidden()
    first = gallery.list.item(0)
    assert ("F1" in first.text() or "IoU" in first.text())
    assert first.icon().actualSize(first.listWidget().iconSize()).width() > 300
