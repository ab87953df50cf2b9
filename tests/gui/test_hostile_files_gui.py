"""Hostile files and text in the real window: opening a corrupt file shows a message and keeps the design
(with its undo history); a Python file is never run by opening, dropping or naming it on the command line,
and the import dialog runs one only after the person ticks the confirmation; labels and file names that
look like HTML are shown as literal text."""
from __future__ import annotations

import os
import pickle
from dataclasses import replace

import pytest
from PySide6.QtCore import QMimeData, QPointF, QTimer, QUrl
from PySide6.QtGui import Qt as QtGuiNamespace
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMessageBox, QWidget

from designer import dialogs
from designer.interchange import import_dialogs
from designer.main_window import MainWindow
from engine.interchange.bundle import Bundle, save_bundle
from engine.templates import TEMPLATE_DIR, load_template
from helpers import drop_mime

ORIGINAL_SHOW_ERROR = dialogs.show_error              # (the autouse fixture replaces them during tests)
ORIGINAL_ASK_UNSAVED = dialogs.ask_unsaved_changes
HTML_LABEL = "<img src=x onerror=alert(1)><b>bold</b>"
might_be_rich_text = QtGuiNamespace.mightBeRichText


def evil_python(folder, marker):
    path = folder / "evil.py"
    path.write_text(f"open({str(marker)!r}, 'w').close()\nimport torch\nclass Net(torch.nn.Module):\n"
                    f"    def forward(self, x):\n        return x.flatten(1)\n")
    return path


def hostile_files(folder, marker) -> dict:
    lenet = (TEMPLATE_DIR / "lenet5.json").read_bytes()
    good_bundle = save_bundle(Bundle(load_template("lenet5")), folder / "good.cnnd").read_bytes()
    files = {
        "truncated.json": lenet[:len(lenet) // 2],
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "latin1.json": lenet.replace(b'"LeNet-5"', b'"L\xe9Net"'),
        "wrong_types.json": lenet.replace(b'"out_channels": 6', b'"out_channels": [6, {"a": null}]'),
        "dangling.json": lenet.replace(b'"target": "relu_1"', b'"target": "gone_1"'),
        "truncated.cnnd": good_bundle[:len(good_bundle) // 2],
        "pickle.cnnd": pickle.dumps({"x": 1}),
        "<b>html<b>.json": b"not json",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    paths["evil.py"] = evil_python(folder, marker)
    (folder / "a folder.json").mkdir()
    paths["a folder.json"] = folder / "a folder.json"
    os.mkfifo(folder / "pipe.json")
    paths["pipe.json"] = folder / "pipe.json"
    return paths


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PYTHON_RAN"
    yield path


def test_corrupt_files_leave_the_design_and_its_history_alone(make_window, tmp_path, dialog_answers, marker):
    window = make_window()
    window.document.set_params("conv2d_1", {"out_channels": 5})
    before, undo_steps = window.document.graph, window.document.undo_stack.count()
    for name, path in hostile_files(tmp_path, marker).items():
        count = len(dialog_answers.errors)
        assert not window.files.open_path(str(path), ask_to_save=False), name
        assert window.document.graph == before and window.document.undo_stack.count() == undo_steps
        assert window.document.modified
        assert len(dialog_answers.errors) == count + 1, name
        title, text = dialog_answers.errors[-1]
        assert title == "Cannot open design" and 0 < len(text) < 1000 and "Traceback" not in text, text
        assert name.split(".")[0] in text or name in text or "pipe" in text, text
    assert not marker.exists()
    assert "Could not open" in window.messages.list.item(0).text()


def test_a_python_file_is_never_run_by_opening_or_dropping_it(make_window, tmp_path, dialog_answers, marker):
    window = make_window()
    path = evil_python(tmp_path, marker)
    before = window.document.graph
    assert not window.files.open_path(str(path))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop_mime(window, mime, QPointF(0, 0))
    assert window.document.graph == before and not marker.exists()
    assert all("is not a design file this app can open" in text for _, text in dialog_answers.errors[-2:])


def test_a_python_file_on_the_command_line_is_not_run(qapp, tmp_path, dialog_answers, marker):
    from designer.app import run_app

    path = evil_python(tmp_path, marker)
    shown = {}

    def finish():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        shown["graph"] = windows[-1].document.graph
        for w in windows:
            w.close()
            w.deleteLater()

    QTimer.singleShot(300, finish)
    assert run_app([str(path)]) == 0
    assert shown["graph"] == load_template("lenet5") and not marker.exists()
    assert "evil.py is not a design file" in dialog_answers.errors[-1][1]


def test_python_import_runs_the_file_only_after_confirmation(window, monkeypatch, tmp_path, marker, dialog_answers):
    path = evil_python(tmp_path, marker)
    warnings = []   # refusals are shown through designer.dialogs.show_error (plain text)
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, text: warnings.append(text))
    attempts = []

    def exec_(dialog, trust):
        if attempts:
            return QDialog.DialogCode.Rejected  # the person gives up after the refusal
        attempts.append(1)
        dialog.path.setText(str(path))
        dialog.class_name.setText("Net")
        dialog.channels.setValue(1), dialog.height_.setValue(4), dialog.width_.setValue(4)
        dialog.trust.setChecked(trust)
        return QDialog.DialogCode.Accepted

    # Without the tick (only possible by bypassing the disabled OK button), the engine still refuses.
    monkeypatch.setattr(import_dialogs.PythonImportDialog, "exec", lambda d: exec_(d, False))
    before = window.document.graph
    window.interchange.import_python()
    assert not marker.exists() and window.document.graph == before
    assert "runs its code" in warnings[-1]
    dialog = import_dialogs.PythonImportDialog(window)
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    # With the tick, this is the one action that runs a file's code: it does, and the model lands.
    attempts.clear()
    monkeypatch.setattr(import_dialogs.PythonImportDialog, "exec", lambda d: exec_(d, True))
    window.interchange.import_python()
    assert marker.exists() and window.document.graph != before


def test_html_in_labels_is_shown_as_literal_text(make_window):
    graph = load_template("lenet5")
    graph = replace(graph, nodes=tuple(replace(n, label=HTML_LABEL) for n in graph.nodes))
    window = make_window(graph.with_params("output_1", {"classes": 7}))  # the fix-it names linear_3's label
    for node_id in ("linear_3", "output_1"):
        window.scene.select_nodes([node_id])
        QApplication.processEvents()
        texts = [(f"item {i.node_id}", i.toolTip()) for i in window.scene.node_items.values()]
        texts += [(type(w).__name__, w.toolTip()) for w in window.findChildren(QWidget)]
        hits = [(where, t) for where, t in texts if "onerror" in t]
        assert any(where == "item output_1" for where, _ in hits)   # the fix-it's text quotes the label
        for where, tip in hits:   # Qt shows a tooltip as HTML only when it "might be rich text"
            assert not might_be_rich_text(tip), where
        for label in window.findChildren(QLabel):
            if "onerror" in label.text():
                assert label.textFormat() == QtGuiNamespace.TextFormat.PlainText or not might_be_rich_text(
                    label.text()), label.text()
        assert window.scene.node_items["linear_3"].texts()[1].startswith("<img src=x")  # drawn as typed


def test_error_and_question_dialogs_show_quoted_text_as_plain_text(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.text(), box.textFormat())) or 0)
    for static in ("warning", "question", "information"):  # these guess the format (AutoText): not allowed
        monkeypatch.setattr(QMessageBox, static, lambda parent, title, text, *a: shown.append((text, "AutoText")))
    ORIGINAL_SHOW_ERROR(window, "Cannot open design", f"{HTML_LABEL}.json is not valid JSON")
    ORIGINAL_ASK_UNSAVED(window, f"{HTML_LABEL}.json")
    assert len(shown) == 2
    assert all(fmt == QtGuiNamespace.TextFormat.PlainText and "onerror" in text for text, fmt in shown)


@pytest.mark.parametrize("text", ['{"a":' * 100_000 + "1" + "}" * 100_000,
                                  '{"format": "cnn-designer-graph", "version": 1, "nodes": [{"id": ["x"]}]}',
                                  '{"format": "cnn-designer-graph", "version": 1, "nodes": [], "edges": 1e400}',
                                  '{"format": "cnn-designer-graph", "version": 1' + "0" * 5000 + "}"])
def test_hostile_clipboard_text_is_refused_with_a_message(window, text):
    from designer.mime import GRAPH_MIME

    before = window.document.graph
    data = QMimeData()
    data.setData(GRAPH_MIME, text.encode())
    QApplication.clipboard().setMimeData(data)
    assert window.clipboard.paste() == []
    assert window.document.graph == before
    assert window.statusBar().currentMessage().startswith("Cannot paste: the clipboard")


@pytest.mark.parametrize("payload", [b"os.system", b"\xff\xfe\x00", b"Conv2d" * 100_000])
def test_drops_of_unknown_layer_kinds_add_nothing(window, payload):
    from designer.mime import LAYER_KIND_MIME

    before = window.document.graph
    data = QMimeData()
    data.setData(LAYER_KIND_MIME, payload)
    drop_mime(window, data, QPointF(900, 900))
    assert window.document.graph == before
