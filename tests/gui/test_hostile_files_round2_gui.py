"""Hostile and broken files, round 2 (issue 16), in the real window: a damaged run in the run store or a
bundle never stops the Training panel from loading, and text from files (run names, notes, class names,
design names, labels) is never rendered as rich text anywhere it is shown."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGuiNamespace
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QTableWidget, QTextBrowser, QTreeWidget, QWidget

from engine.compiler import compile_graph
from engine.interchange.bundle import Bundle, save_bundle
from engine.templates import load_template
from engine.training.config import TrainConfig
from engine.training.run_record import RunRecord

might_be_rich_text = QtGuiNamespace.mightBeRichText
MARK = "zq9"   # in every hostile string, to find where it is shown
HTML = f"<img src='/usr/share/pixmaps/x.png' width=4000 height=3000>{MARK}<b>bold</b>"


def hostile_run(graph, seed, status="finished", name=HTML) -> RunRecord:
    torch.manual_seed(seed)
    run = RunRecord(graph=graph, config=TrainConfig(epochs=1, seed=seed), dataset_key=f"<i>{MARK}</i>",
                    name=f"{name} {seed}", seed=seed, status=status, note=f"<a href='x'>{MARK} failed</a>",
                    weights={k: v.clone() for k, v in compile_graph(graph).state_dict().items()},
                    test={"loss": 0.5, "accuracy": 0.5, "count": 2, "class_names": [f"<u>{MARK}{i}</u>" for i in
                                                                                    range(10)],
                          "per_class_accuracy": [0.5] * 10, "confusion": [[0] * 10 for _ in range(10)],
                          "misclassified": [0]})
    for epoch in (0, 1):
        for column in run.epoch_metrics:
            run.epoch_metrics[column].append(epoch if column in ("epoch", "epochs") else 0.1 * (epoch + 1))
    return run


def hostile_graph():
    graph = load_template("lenet5")
    nodes = tuple(replace(n, label=f"<img src=x>{MARK}") if n.kind == "Conv2d" else n for n in graph.nodes)
    return replace(graph, nodes=nodes, name=f"<h1>{MARK}</h1>", description=f"<script>{MARK}</script>")


def literal(text: str) -> bool:
    """Qt shows `text` as typed: it does not take it for HTML, or it is HTML that spells the tags out (every
    hostile string has a tag right before MARK, whose '>' survives only when shown literally)."""
    if not might_be_rich_text(text):
        return True
    doc = QTextDocument()
    doc.setHtml(text)
    return f">{MARK}" in doc.toPlainText()


def texts_on_screen(window):
    """(where, text, plain) for every text a person can see or hover: labels, tooltips, list, table and tree
    items, headers, text browsers. `plain` is True when Qt will not render the text as HTML."""
    out = []
    for w in window.findChildren(QWidget):
        tip = w.toolTip()
        out.append((f"tooltip of {type(w).__name__} {w.objectName()}", tip, literal(tip)))
        if isinstance(w, QLabel):
            plain = w.textFormat() == QtGuiNamespace.TextFormat.PlainText or literal(w.text())
            out.append((f"label {w.objectName()}", w.text(), plain))
        if isinstance(w, QTextBrowser):
            out.append((f"text browser {w.objectName()}", w.toPlainText(), MARK not in w.toPlainText() or
                        f">{MARK}" in w.toPlainText()))
        if isinstance(w, QListWidget):
            for i in range(w.count()):
                item = w.item(i)
                out.append(("list item tooltip", item.toolTip(), literal(item.toolTip())))
        if isinstance(w, QTableWidget):
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    if item is not None:
                        out.append(("table item tooltip", item.toolTip(), literal(item.toolTip())))
            for c in range(w.columnCount()):
                header = w.horizontalHeaderItem(c)
                if header is not None:
                    out.append(("table header tooltip", header.toolTip(), literal(header.toolTip())))
        if isinstance(w, QTreeWidget):
            it = w.invisibleRootItem()
            stack = [it.child(i) for i in range(it.childCount())]
            while stack:
                item = stack.pop()
                stack += [item.child(i) for i in range(item.childCount())]
                for c in range(w.columnCount()):
                    out.append(("tree item tooltip", item.toolTip(c), literal(item.toolTip(c))))
    return [(where, text, plain) for where, text, plain in out if MARK in text]


def show_runs(window):
    from PySide6.QtWidgets import QDockWidget
    dash = window.training
    dash.insight.setCurrentWidget(dash.runs)
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is dash.insight)
    dock.show()
    dock.raise_()
    dash.runs.show_all.setChecked(True)
    for i in range(dash.runs.list.count()):
        dash.runs.list.item(i).setCheckState(Qt.CheckState.Checked)
    QApplication.processEvents()
    return dash.runs


def test_text_from_a_bundle_is_never_rich_text(make_window, tmp_path, dialog_answers):
    graph = hostile_graph()
    runs = [hostile_run(graph, 1), hostile_run(graph, 2, status="failed")]
    path = save_bundle(Bundle(graph, runs, None, {"key": "generated_digits"}), tmp_path / f"p{MARK}.cnnd")
    window = make_window()
    assert window.files.open_path(str(path), ask_to_save=False), dialog_answers.errors
    runs_view = show_runs(window)
    assert len(runs_view.checked_ids()) == 2
    window.select_node("conv2d_1")
    QApplication.processEvents()
    shown = texts_on_screen(window)
    assert any("list item" in where for where, _, _ in shown)       # the sweep really sees the run names
    rich = [(where, text[:120]) for where, text, plain in shown if not plain]
    assert not rich, rich
    # the layer comparison (HTML on purpose) quotes run names escaped
    diff = runs_view.layer_diff.text()
    assert "<img" not in diff and "&lt;img" in diff


def write_run(folder, run, change=None):
    run.save(folder / run.id)
    if change:
        file, values = change
        data = json.loads((folder / run.id / file).read_text())
        data.update(values)
        (folder / run.id / file).write_text(json.dumps(data))


@pytest.mark.parametrize("change", [("results.json", {"accuracy": 10 ** 400}), ("run.json", {"seed": "abc"}),
                                    ("run.json", {"name": {"a": 1}}), ("metrics.json", {"epochs": [1]}),
                                    ("config.json", {"lr": float("nan")}), "fifo"])
def test_a_damaged_run_in_the_store_does_not_stop_the_app(make_window, isolated_settings, change):
    graph = load_template("lenet5")
    store = isolated_settings / "runs"
    good = hostile_run(graph, 1, name="good")
    write_run(store, good)
    bad = hostile_run(graph, 2, name="bad")
    if change == "fifo":
        write_run(store, bad)
        os.unlink(store / bad.id / "metrics.json")
        os.mkfifo(store / bad.id / "metrics.json")
    else:
        write_run(store, bad, change)
    window = make_window(graph)
    runs_view = show_runs(window)
    assert runs_view.listed_ids() == [good.id]
    assert window.training.state.store.problems and bad.id in window.training.state.store.problems[0]
    assert "1 saved run could not be read" in window.training.controls.message.text()
    window.document.add_node("ReLU", (10, 10))   # the window still works
    assert any(n.kind == "ReLU" for n in window.document.graph.nodes)


def test_a_bundle_with_a_damaged_run_is_refused_and_the_store_is_untouched(make_window, tmp_path, dialog_answers,
                                                                          isolated_settings):
    import zipfile
    graph = load_template("lenet5")
    path = save_bundle(Bundle(graph, [hostile_run(graph, 1)]), tmp_path / "bad.cnnd")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    name = next(n for n in members if n.endswith("results.json"))
    members[name] = json.dumps({**json.loads(members[name]), "accuracy": 10 ** 400}).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    window = make_window(graph)
    before = window.document.graph
    assert not window.files.open_path(str(path), ask_to_save=False)
    assert len(dialog_answers.errors) == 1 and "accuracy" in dialog_answers.errors[0][1]
    assert window.document.graph == before
    assert not (isolated_settings / "runs").exists() or not any((isolated_settings / "runs").iterdir())


# ---- writing over special files, and settings that are special files, from the app ---------------------------

POSIX = pytest.mark.skipif(os.name == "nt", reason="FIFOs and /dev/null are POSIX")


@POSIX
@pytest.mark.parametrize("kind", ["device", "fifo", "link to a device"])
def test_save_and_export_from_the_app_never_replace_a_special_file(make_window, tmp_path, dialog_answers, kind):
    fifo = tmp_path / "design.json"
    os.mkfifo(fifo)
    (tmp_path / "null.json").symlink_to("/dev/null")
    target = {"device": "/dev/null", "fifo": str(fifo), "link to a device": str(tmp_path / "null.json")}[kind]
    before = os.stat(target)
    window = make_window(load_template("lenet5"))
    dialog_answers.save_path = target
    assert not window.files.save_as()
    for name in ("export_python", "export_script", "export_bundle"):
        assert not window.interchange.export_to(name, target)
    assert len(dialog_answers.errors) == 4
    assert all("not an ordinary file" in text or "must end in .cnnd" in text
               for _, text in dialog_answers.errors), dialog_answers.errors
    after = os.stat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    window.document.add_node("ReLU", (10, 10))   # still usable
    assert window.document.modified


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero", "huge"])
def test_a_settings_file_that_cannot_be_read_is_set_aside(make_window, isolated_settings, kind):
    from designer.settings import make_settings

    isolated_settings.mkdir(parents=True, exist_ok=True)
    path = isolated_settings / "settings.ini"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(64 * 1024 * 1024)
    else:
        path.symlink_to("/dev/zero")
    settings = make_settings()   # would block (FIFO) or read without end (/dev/zero) before
    settings.setValue("probe", 1)
    settings.sync()
    assert (isolated_settings / "settings.ini.unusable").exists() or os.path.islink(
        isolated_settings / "settings.ini.unusable")
    assert os.path.isfile(path) and not os.path.islink(path)
    window = make_window(load_template("lenet5"))   # the app starts with fresh settings
    assert window.document.graph.name


@pytest.mark.parametrize("how", ["one run listed 500 times", "3,000 runs", "many small compressed members"])
def test_a_bundle_that_would_unpack_too_much_is_refused_in_the_app(make_window, tmp_path, dialog_answers,
                                                                   isolated_settings, how):
    import zipfile
    graph = load_template("lenet5")
    path = save_bundle(Bundle(graph, [hostile_run(graph, 1)]), tmp_path / "big.cnnd")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    if how.startswith("one run"):
        manifest = json.loads(members["manifest.json"])
        manifest["runs"] = manifest["runs"] * 500
        members["manifest.json"] = json.dumps(manifest).encode()
    elif how == "3,000 runs":
        manifest = json.loads(members["manifest.json"])
        manifest["runs"] = [f"runs/r{i}/" for i in range(3000)]
        members["manifest.json"] = json.dumps(manifest).encode()
    else:
        members.update({f"extra/{i:03d}.json": b" " * (1024 * 1024) for i in range(120)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    window = make_window(graph)
    before = window.document.graph
    assert not window.files.open_path(str(path), ask_to_save=False)
    assert len(dialog_answers.errors) == 1
    expected = {"one run listed 500 times": "more than once", "3,000 runs": "at most 1000",
                "many small compressed members": "unpacks to more than"}[how]
    assert expected in dialog_answers.errors[0][1], dialog_answers.errors
    assert window.document.graph == before
    assert not (isolated_settings / "runs").exists() or not any((isolated_settings / "runs").iterdir())
