"""Loading a data set in the app: an image folder with files that cannot be read lists them (or stops and names
them, when asked), a load can be cancelled with the same button, and progress reaches the window."""
from __future__ import annotations

import pytest
from PIL import Image


@pytest.fixture
def data(window):
    return window.training.data


def _folder(root):
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (28, 28), 30 * i).save(root / cls / f"{i}.png")
    (root / "a" / "broken <b>1.png").write_bytes(b"not an image")
    (root / "b" / "empty.png").write_bytes(b"")
    return root


def test_unreadable_images_are_left_out_and_listed_or_stop_the_load(window, data, qtbot, tmp_path, dialog_answers):
    root = _folder(tmp_path / "images")
    data.select("folder")
    data.folder = str(root)
    assert data.stop_unreadable.isVisibleTo(data)
    messages = []
    data.status.connect(messages.append)
    with qtbot.waitSignal(data.dataset_loaded, timeout=60000):
        data.load()
    assert len(data.dataset.train) + len(data.dataset.val) + len(data.dataset.test) == 10
    assert data.left_out.isVisibleTo(data) and data.left_out.text().startswith("2 image(s) could not be read")
    assert "2 image(s) that could not be read were left out" in messages[-1]
    data.left_out.click()
    title, text, details = dialog_answers.details[-1]
    assert "broken <b>1.png" in details and "empty.png" in details and "not a readable image" in details

    data.stop_unreadable.setChecked(True)
    with qtbot.waitSignal(data.load_failed, timeout=60000) as failed:
        data.load()
    assert "2 of the 12 images" in failed.args[0] and "empty.png" in failed.args[0]
    assert data.load_button.text() == "Load" and data.load_button.isEnabled()
    data.select("generated_digits")
    assert not data.stop_unreadable.isVisibleTo(data) and not data.left_out.isVisibleTo(data)


def test_a_load_is_cancelled_with_the_load_button(window, data, qtbot):
    data.select("generated_digits")
    data.size.setValue(400_000)      # long enough to be running when Cancel is pressed
    messages, progress = [], []
    data.status.connect(messages.append)
    data.progress_text.connect(progress.append)
    data.load()
    assert data.loading and data.load_button.text() == "Cancel"
    # progress reaches the Training panel's message line (the window's status line keeps "Loading …")
    qtbot.waitUntil(lambda: any(m.startswith("Drawing digits: ") and m.endswith("of 400,000") for m in progress),
                    timeout=60000)
    qtbot.waitUntil(lambda: window.training.controls.message.text().startswith("Drawing digits: "), timeout=10000)
    data.load_button.click()
    qtbot.waitUntil(lambda: not data.loading, timeout=60000)
    qtbot.waitUntil(lambda: "Loading cancelled." in messages, timeout=10000)
    assert data.dataset is None and data.load_button.text() == "Load" and data.load_button.isEnabled()


def test_a_streamed_folder_trains_in_the_app(window, data, qtbot, tmp_path):
    """Read from disk while training: the folder loads as a file list, the run in the training process reads it
    batch by batch, and evaluation and the feature-map probe decode the images they show."""
    root = tmp_path / "images"
    for k, cls in enumerate(("light", "dark")):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            Image.new("L", (32, 32), 220 - 180 * k + i).save(root / cls / f"{i}.png")
    graph = window.document.graph
    output = graph.nodes_of_kind("Output")[0]
    head = graph.nodes_of_kind("Linear")[-1]
    window.document.set_params(output.id, {**output.params, "classes": 2})
    window.document.set_params(head.id, {**head.params, "out_features": 2})
    data.select("folder")
    data.folder = str(root)
    data.data_mode.setCurrentIndex(data.data_mode.findData("stream"))
    messages = []
    data.status.connect(messages.append)
    with qtbot.waitSignal(data.dataset_loaded, timeout=60000):
        data.load()
    assert getattr(data.dataset.train.images, "lazy", False) and "read from disk while training" in messages[-1]
    dash = window.training
    dash.form.batch_size.setValue(16)
    dash.form.epochs.setValue(6)
    dash.form.lr.setValue(0.005)
    dash.form.device.setCurrentText("cpu")
    with qtbot.waitSignal(dash.run_finished, timeout=180000):
        assert dash.start()
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=60000)
    record = dash.record
    losses = record.epoch_metrics["train_loss"]
    assert record.status == "finished" and len(losses) == 6 and losses[-1] < losses[0]
    assert record.test is not None and record.test["count"] == len(data.dataset.test)
