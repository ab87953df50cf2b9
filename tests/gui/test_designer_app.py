"""Start-up through run_app (as `cnn-designer [DESIGN.json]` does), window-level drops, zoom and edges."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from designer.main_window import MainWindow
from engine.graph import EdgeSpec
from engine.graph_io import save_graph
from helpers import chain_graph, drop_mime


def _run_and_capture(argv):
    """Run the app's event loop until its window has shown and handled start-up, then close it."""
    from designer.app import run_app

    seen = {}

    def finish():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["graph"] = windows[-1].document.graph if windows else None
        seen["title"] = windows[-1].windowTitle() if windows else ""
        for w in windows:
            w.close()
            w.deleteLater()

    QTimer.singleShot(300, finish)
    seen["code"] = run_app(argv)
    return seen


def test_start_shows_lenet5(qapp):
    seen = _run_and_capture([])
    assert seen["code"] == 0
    assert seen["graph"].name == "LeNet-5" and len(seen["graph"].nodes) == 14


def test_start_with_a_design_file(qapp, tmp_path):
    path = tmp_path / "three.json"
    save_graph(chain_graph(("Flatten", {}), ("Linear", {"out_features": 10})), path)
    seen = _run_and_capture([str(path)])
    assert [n.kind for n in seen["graph"].nodes] == ["Input", "Flatten", "Linear", "Output"]
    assert "three.json" in seen["title"]


def test_start_with_a_bad_file_shows_an_error_not_a_traceback(qapp, tmp_path, dialog_answers):
    path = tmp_path / "notes.json"
    path.write_text("this is not json")
    seen = _run_and_capture([str(path)])
    assert seen["code"] == 0 and seen["graph"].name == "LeNet-5"   # the window still opens, with LeNet-5
    title, text = dialog_answers.errors[-1]
    assert "notes.json is not valid JSON" in text


def test_dropping_a_design_file_on_the_window_opens_it(make_window, tmp_path):
    path = tmp_path / "dropped.json"
    save_graph(chain_graph(("ReLU", {})), path)
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop_mime(window, mime, QPointF(0, 0))
    assert [n.kind for n in window.document.graph.nodes] == ["Input", "ReLU", "Output"]


def test_selecting_and_deleting_an_edge(qtbot, window):
    edge = EdgeSpec("relu_1", "maxpool2d_1", 0)
    item = window.scene.edge_items[edge]
    point = item._path.pointAtPercent(0.25)
    window.canvas.centerOn(point)
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=window.canvas.mapFromScene(point))
    assert window.scene.selected_edges() == [edge]
    window.actions_["delete"].trigger()
    assert edge not in window.document.graph.edges
    assert window.scene.node_items["maxpool2d_1"].issue is not None   # now it has no input
    window.document.undo_stack.undo()
    assert edge in window.document.graph.edges


def test_wheel_zooms_around_the_cursor(qtbot, window):
    view = window.canvas
    target = window.scene.node_items["conv2d_2"].sceneBoundingRect().center()
    view.centerOn(target)
    cursor = view.mapFromScene(target) + QPoint(40, 10)
    under_before = view.mapToScene(cursor)
    zoom = view.zoom()
    event = QWheelEvent(QPointF(cursor), QPointF(view.viewport().mapToGlobal(cursor)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() > zoom * 1.2
    under_after = view.mapToScene(cursor)
    assert (under_after - under_before).manhattanLength() < 3 / view.zoom() + 2   # the point under the cursor stays


def test_title_marks_unsaved_changes(window):
    assert not window.isWindowModified()
    drop_mime(window, window.palette.mime_for("ReLU"), QPointF(200, 400))
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()


def test_keyboard_shortcuts_zoom_select_all_and_cut(qtbot, window):
    from PySide6.QtCore import Qt

    window.activateWindow()
    qtbot.waitActive(window)
    window.canvas.setFocus()
    start = window.canvas.zoom()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.zoom() > start
    qtbot.keyClick(window.canvas, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.zoom() < start
    qtbot.keyClick(window.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert sorted(window.scene.selected_node_ids()) == sorted(n.id for n in window.document.graph.nodes)
    window.scene.select_nodes(["relu_1"])
    qtbot.keyClick(window.canvas, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    assert not window.document.graph.has_node("relu_1")
    window.scene.clearSelection()
    qtbot.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = [n for n in window.document.graph.nodes if n.kind == "ReLU"]
    assert len(pasted) == 4   # relu_2..relu_4 plus the pasted one
