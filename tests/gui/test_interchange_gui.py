"""File > Import / Export in the real window: exports write checked files, imports land on the canvas
with their weights, a .cnnd project reopens with its weights, and a malicious bundle is refused."""
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox

from designer.interchange import import_dialogs
from engine.compiler import compile_graph
from engine.graph_io import graph_to_json
from engine.templates import load_template


@pytest.fixture
def warnings_shown(dialog_answers):
    """(title, text) of each error shown: exports report through designer.dialogs.show_error (plain text)."""
    return dialog_answers.errors


def test_export_menu_has_every_format(window):
    texts = [a.text() for a in window.file_export_menu().actions()]
    for fragment in ("PyTorch code", "Training script", "ONNX", "TorchScript", "Weights", "Project bundle"):
        assert any(fragment in t for t in texts), texts
    imports = [a.text() for a in window.file_import_menu().actions()]
    assert any("torchvision" in t for t in imports) and any("Python file" in t for t in imports)


def test_exports_write_files_and_explain_missing_weights(window, tmp_path, warnings_shown):
    actions = window.interchange
    for name, file in (("export_python", "n.py"), ("export_script", "t.py"), ("export_onnx", "n.onnx"),
                       ("export_torchscript", "n.pt")):
        assert actions.export_to(name, str(tmp_path / file)), warnings_shown
        assert (tmp_path / file).stat().st_size > 0
    assert "random weights" in window.statusBar().currentMessage()
    assert not actions.export_to("export_weights", str(tmp_path / "w.safetensors"))
    assert "no weights" in warnings_shown[-1][1] and not (tmp_path / "w.safetensors").exists()


def accept_with(setup):
    def exec_(dialog):
        setup(dialog)
        return QDialog.DialogCode.Accepted
    return exec_


def test_torchvision_import_lands_on_canvas_with_weights(window, monkeypatch, tmp_path):
    torch.manual_seed(0)
    import torchvision
    original = torchvision.models.squeezenet1_1(weights=None, num_classes=4).eval()
    torch.save(original.state_dict(), tmp_path / "sq.pt")

    def setup(d):
        d.model.setCurrentIndex(d.model.findData("squeezenet1_1"))
        d.classes.setValue(4)
        d.weights.setText(str(tmp_path / "sq.pt"))
    monkeypatch.setattr(import_dialogs.TorchvisionImportDialog, "exec", accept_with(setup))
    window.interchange.import_torchvision()
    graph = window.document.graph
    assert graph.nodes_of_kind("Output")[0].params["classes"] == 4 and len(graph.nodes) == 68
    assert len(window.scene.items()) > 68
    dash = window.training
    assert dash.weights_graph == graph
    module = compile_graph(graph).eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in dash.weights.items()})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), original(x), rtol=1e-4, atol=1e-5)
    # and the weights now export
    assert window.interchange.export_to("export_weights", str(tmp_path / "w.safetensors"))


MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.up = nn.PixelShuffle(2)

    def forward(self, x):
        return torch.flatten(self.up(self.conv(x)).amax(dim=(2, 3)), 1)
"""


def test_python_import_needs_trust_and_offers_partial_import(window, monkeypatch, tmp_path):
    (tmp_path / "m.py").write_text(MODEL)
    dialog = import_dialogs.PythonImportDialog(window)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.trust.setChecked(True)
    assert ok.isEnabled()
    asked = []
    monkeypatch.setattr(import_dialogs, "ask_keep_partial", lambda parent, unmapped: asked.append(unmapped) or True)

    def setup(d):
        d.path.setText(str(tmp_path / "m.py"))
        d.class_name.setText("Net")
        d.channels.setValue(1), d.height_.setValue(8), d.width_.setValue(8)
        d.trust.setChecked(True)
    monkeypatch.setattr(import_dialogs.PythonImportDialog, "exec", accept_with(setup))
    window.interchange.import_python()
    assert {u.op for u in asked[0]} >= {"nn.PixelShuffle", "Tensor.amax"}
    assert window.document.graph.nodes_of_kind("Conv2d")
    assert "replace the placeholders" in window.statusBar().currentMessage()
    # each operation that did not map is on the canvas as a placeholder drawn as an error, in the Messages
    # panel, and in the inspector as plain read-only text
    holders = window.document.graph.nodes_of_kind("Unsupported")
    assert {h.params["operation"] for h in holders} >= {"nn.PixelShuffle", "Tensor.amax"}
    up = next(h for h in holders if h.params["operation"] == "nn.PixelShuffle")
    item = window.scene.node_items[up.id]
    assert item.issue is not None and item.issue.severity == "error" and "nn.PixelShuffle from up" in item.issue.message
    messages = [window.messages.list.item(i).text() for i in range(window.messages.list.count())]
    assert any("nn.PixelShuffle from up" in m for m in messages)
    window.select_node(up.id)
    shown = {name: e.label.text() for name, e in window.inspector.editors.items()}
    assert shown["operation"] == "nn.PixelShuffle" and shown["source"] == "up" and shown["shape"] == "2×12×12"
    assert not window.document.analysis.ok   # and so training and export refuse until it is replaced


def test_project_bundle_reopens_with_weights(make_window, tmp_path, dialog_answers):
    graph = load_template("lenet5")
    first = make_window(graph)
    torch.manual_seed(2)
    weights = {k: v.numpy().copy() for k, v in compile_graph(graph).state_dict().items()}
    first.training.weights, first.training.weights_graph = weights, first.document.graph
    path = tmp_path / "project.cnnd"
    assert first.interchange.export_to("export_bundle", str(path))
    second = make_window()
    assert second.files.open_path(str(path), ask_to_save=False), dialog_answers.errors
    assert second.document.graph == graph
    got = second.training.weights
    assert second.training.weights_graph == graph
    assert all(np.array_equal(got[k], weights[k]) for k in weights)


def test_malicious_bundle_is_refused_in_the_app(window, tmp_path, dialog_answers):
    before = window.document.graph
    path = tmp_path / "evil.cnnd"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "cnn-designer-bundle", "version": 1}))
        zf.writestr("graph.json", graph_to_json(load_template("lenet5")))
        zf.writestr("../../escape.json", "{}")
        zf.writestr("runs/x/evil.pt", pickle.dumps({"a": 1}))
    assert not window.files.open_path(str(path), ask_to_save=False)
    assert "path traversal" in dialog_answers.errors[-1][1]
    assert window.document.graph == before


def test_weights_export_without_weights_says_so_before_asking_for_a_file(window, monkeypatch, warnings_shown):
    from PySide6.QtWidgets import QFileDialog
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or ("", ""))
    window.interchange.actions["export_weights"].trigger()
    assert not asked and "no weights" in warnings_shown[-1][1]
    window.interchange.actions["export_onnx"].trigger()
    assert asked[-1][1] == "Export ONNX (.onnx)"  # the save dialog names the format


def test_trust_is_given_to_one_file_only(window, tmp_path):
    dialog = import_dialogs.PythonImportDialog(window)
    dialog.path.setText(str(tmp_path / "a.py"))
    dialog.trust.setChecked(True)
    dialog.path.setText(str(tmp_path / "b.py"))
    assert not dialog.trust.isChecked()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_unmapped_operations_are_listed_in_the_question(window, monkeypatch):
    from engine.interchange.fx_import import UnmappedOp
    seen = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: seen.append(box.informativeText()) or 0)
    unmapped = [UnmappedOp(f"op_{i}", "torch.<lambda>", "no registered layer kind does this", f"block{i}")
                for i in range(8)]
    unmapped += [UnmappedOp(f"other_{i}", f"torch.op{i}", "no registered layer kind does this") for i in range(7)]
    assert not import_dialogs.ask_keep_partial(window, unmapped)
    assert "torch.&lt;lambda&gt; ×8 in block0, block1, block2, block3 and 4 more" in seen[0]
    assert "torch.op4 in (top level)" in seen[0] and "torch.op5" not in seen[0] and "and 2 more kinds" in seen[0]


def test_bundle_whose_run_id_is_a_path_writes_nothing_outside(window, tmp_path, dialog_answers):
    from engine.interchange.bundle import Bundle, save_bundle
    from engine.training.config import TrainConfig
    from engine.training.run_record import RunRecord
    graph = load_template("lenet5")
    good = save_bundle(Bundle(graph, [RunRecord(graph=graph, config=TrainConfig(), dataset_key="x")]),
                       tmp_path / "good.cnnd")
    evil = tmp_path / "evil.cnnd"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("run.json"):
                data = json.dumps({**json.loads(data), "id": "../../escaped_run"}).encode()  # settings/runs -> tmp_path
            dst.writestr(name, data)
    assert not window.files.open_path(str(evil), ask_to_save=False)
    assert "never a path" in dialog_answers.errors[-1][1]
    assert not list(tmp_path.rglob("escaped_run"))


def test_saving_an_opened_project_keeps_it_a_bundle(window, tmp_path, dialog_answers):
    # Open project.cnnd, edit, Save: the file stays a bundle that keeps its runs (and their weights), never
    # plain JSON over the project.
    from engine.interchange.bundle import Bundle, load_bundle, save_bundle
    from engine.training.config import TrainConfig
    from engine.training.run_record import RunRecord
    graph = load_template("lenet5")
    torch.manual_seed(2)
    weights = {k: v.clone() for k, v in compile_graph(graph).state_dict().items()}
    run = RunRecord(graph=graph, config=TrainConfig(epochs=1), dataset_key="generated_digits", name="first try",
                    weights=weights)
    path = save_bundle(Bundle(graph, [run], weights, {"key": "generated_digits"}, seed=3), tmp_path / "p.cnnd")
    assert window.files.open_path(str(path), ask_to_save=False), dialog_answers.errors
    doc = window.document
    doc.push("wider", doc.graph.with_params("linear_1", {"out_features": 100}))
    assert doc.modified
    assert window.files.save(), dialog_answers.errors  # saved in place: no Save As question
    reopened = load_bundle(path)
    assert reopened.graph == doc.graph != graph and not doc.modified
    assert run.id in [r.id for r in reopened.runs]  # the project's history survives the edit
    kept = next(r for r in reopened.runs if r.id == run.id)
    assert kept.graph == graph and all(torch.equal(kept.weights[k], weights[k]) for k in weights)
    assert reopened.weights is None  # the old weights do not fit the edited design


def test_onnx_import_reads_the_files_input_size_and_lands_with_its_weights(window, monkeypatch, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from engine.interchange.exporters import _quiet_onnx_log

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 3)).eval()
    path = tmp_path / "tiny <b>net.onnx"   # shown as plain text, never as markup
    with _quiet_onnx_log():
        torch.onnx.export(model, (torch.randn(1, 1, 8, 8),), str(path), dynamo=False)
    assert any("ONNX" in a.text() for a in window.file_import_menu().actions())
    dialog = import_dialogs.OnnxImportDialog(window)
    dialog.path.setText(str(path))
    dialog.read_input_size()
    assert dialog.input_shape() == (1, 8, 8) and "made for inputs of 1×8×8" in dialog.size_note.text()
    dialog.path.setText(str(tmp_path / "missing.onnx"))
    dialog.read_input_size()
    assert "cannot read" in dialog.size_note.text()

    def setup(d):
        d.path.setText(str(path))
        d.read_input_size()
    monkeypatch.setattr(import_dialogs.OnnxImportDialog, "exec", accept_with(setup))
    window.interchange.import_onnx()
    graph = window.document.graph
    assert [n.kind for n in graph.nodes] == ["Input", "Conv2d", "ReLU", "Flatten", "Linear", "Output"]
    assert "outputs match onnxruntime" in window.statusBar().currentMessage()
    module = compile_graph(graph).eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in window.training.weights.items()})
    x = torch.randn(1, 1, 8, 8)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        torch.testing.assert_close(module(x), torch.from_numpy(expected), rtol=1e-4, atol=1e-5)
