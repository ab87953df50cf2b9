"""Segmentation in the app: the U-Net template trains on the generated scenes in the training process, Results
shows mean IoU and IoU per class over a confusion matrix of pixels, and a cell opens the images with such
pixels as image · true mask · prediction."""
from __future__ import annotations

from engine.templates import load_template


def test_a_unet_trains_on_scenes_and_results_show_masks(make_window, qtbot):
    window = make_window(load_template("small_unet"))
    data = window.training.data
    data.select("scenes")
    data.size.setValue(200)
    with qtbot.waitSignal(data.dataset_loaded, timeout=60000):
        data.load()
    assert data.dataset.task == "segmentation"
    dash = window.training
    dash.form.batch_size.setValue(16)
    dash.form.epochs.setValue(1)
    dash.form.device.setCurrentText("cpu")
    with qtbot.waitSignal(dash.run_finished, timeout=180000):
        assert dash.start()
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    record = dash.record
    assert record.status == "finished" and record.test["task"] == "segmentation"
    assert 0 <= record.test["mean_iou"] <= 1 and len(record.test["per_class_iou"]) == 4
    from designer.training.runs import run_title
    assert f"test mean IoU {record.test['mean_iou']:.3f}" in run_title(record)   # the runs list names the metric
    results = dash.results
    qtbot.waitUntil(lambda: results.result is not None, timeout=30000)
    assert "mean IoU" in results.summary.text() and "IoU per class" in results.summary.text()
    assert "Pixels" in results.hint.text()
    results.cell_clicked.emit(0, 0)   # background pixels labelled background: nearly every image
    gallery = _find_gallery(window)
    assert gallery.list.count() > 0 and "true mask" in gallery.title.text()
    assert gallery.saliency_bar.isHidden()            # the masks say where; no saliency overlay
    first = gallery.list.item(0)
    assert "IoU" in first.text() and first.icon().actualSize(first.listWidget().iconSize()).width() > 200


def _find_gallery(window):
    from designer.training.gallery import ErrorGallery

    found = window.findChildren(ErrorGallery)
    if not found:
        from PySide6.QtWidgets import QApplication

        found = [w for top in QApplication.topLevelWidgets() for w in top.findChildren(ErrorGallery)]
    return found[-1]


def test_the_mask_folder_set_asks_for_a_folder_and_loads_it(window, qtbot, tmp_path):
    import numpy as np
    from PIL import Image

    root = tmp_path / "own"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(6):
        mask = np.zeros((12, 12), np.uint8)
        mask[2:8, 2:8] = 1 + i % 2
        Image.fromarray(np.stack([mask * 100] * 3, -1)).save(root / "images" / f"{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    data = window.training.data
    data.select("mask_folder")
    assert data.folder_button.isVisibleTo(data) and not data.data_mode.isVisibleTo(data)
    assert "images/" in data.description.text()
    data.folder = str(root)
    with qtbot.waitSignal(data.dataset_loaded, timeout=60000):
        data.load()
    assert data.dataset.task == "segmentation" and data.dataset.num_classes == 3
