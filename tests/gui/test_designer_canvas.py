"""Canvas behaviour driven through real widgets: drops, connections, fix-its, clipboard, moves."""
from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from engine.analysis import analyze
from engine.graph import EdgeSpec
from helpers import chain_graph, drag_between, drop_mime, loose_graph, port_pos


def test_palette_drop_creates_node_and_undo_redo(window):
    before = len(window.document.graph.nodes)
    empty = QPointF(300, max(n.pos[1] for n in window.document.graph.nodes) + 400)  # below the design
    drop_mime(window, window.palette.mime_for("Conv2d"), empty)
    graph = window.document.graph
    assert len(graph.nodes) == before + 1
    new = [n for n in graph.nodes if n.kind == "Conv2d"][-1]
    assert new.id in window.scene.node_items
    item = window.scene.node_items[new.id]
    assert item.sceneBoundingRect().contains(empty)   # it landed where it was dropped
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert len(window.document.graph.nodes) == before and new.id not in window.scene.node_items
    window.document.undo_stack.redo()
    assert window.document.graph.node(new.id).params == new.params
    assert new.id in window.scene.node_items


def test_a_drop_onto_a_layer_lands_beside_it_not_on_top(window):
    target = window.scene.node_items["conv2d_1"]
    drop_mime(window, window.palette.mime_for("MaxPool2d"), target.sceneBoundingRect().center())
    new = window.scene.node_items[window.document.graph.nodes[-1].id]
    others = [item.sceneBoundingRect() for nid, item in window.scene.node_items.items() if item is not new]
    assert not any(new.sceneBoundingRect().intersects(rect) for rect in others)
    assert abs(new.pos().x() - target.pos().x()) < 2   # straight above or below the drop point


def test_drop_on_edge_inserts_layer(make_window):
    window = make_window(chain_graph(("Flatten", {}), ("Linear", {"out_features": 10})))
    edge = EdgeSpec("flatten_1", "linear_1", 0)
    middle = window.scene.edge_items[edge].shape().boundingRect().center()
    mid_point = window.scene.edge_items[edge]._path.pointAtPercent(0.5)
    drop_mime(window, window.palette.mime_for("Dropout"), mid_point)
    graph = window.document.graph
    assert graph.nodes_of_kind("Dropout"), middle
    assert EdgeSpec("flatten_1", "dropout_1", 0) in graph.edges
    assert EdgeSpec("dropout_1", "linear_1", 0) in graph.edges
    assert edge not in graph.edges
    window.document.undo_stack.undo()   # one step
    assert edge in window.document.graph.edges and not window.document.graph.nodes_of_kind("Dropout")


def overlapping(window):
    rects = {nid: item.sceneBoundingRect() for nid, item in window.scene.node_items.items()}
    return [(a, b) for a in rects for b in rects if a < b and rects[a].intersects(rects[b])]


def test_inserting_on_an_edge_moves_the_rest_of_the_row_aside(make_window):
    from engine.layout import COLUMN_SPACING
    from engine.templates import load_template

    window = make_window(load_template("lenet5"))
    doc = window.document
    before = {n.id: n.pos for n in doc.graph.nodes}
    row_y = before["linear_1"][1]
    beyond = [nid for nid, (x, y) in before.items() if y == row_y and x >= before["linear_1"][0]]
    assert len(beyond) >= 3 and "linear_1" in beyond
    nid = doc.insert_on_edge(EdgeSpec("flatten_1", "linear_1", 0), "Dropout")
    after = {n.id: n.pos for n in doc.graph.nodes}
    assert after[nid] == before["linear_1"]                       # the new layer takes the target's place
    for other in beyond:                                          # and the row moves on one column
        assert after[other] == (before[other][0] + COLUMN_SPACING, before[other][1])
    assert all(after[o] == before[o] for o in before if o not in beyond)
    assert overlapping(window) == []
    doc.undo_stack.undo()                                         # layers and positions back in one step
    assert {n.id: n.pos for n in doc.graph.nodes} == before


def test_inserting_into_a_top_to_bottom_chain_moves_the_column_down(make_window):
    from engine.layout import ROW_SPACING

    from designer.graph_edits import moved

    graph = chain_graph(("Flatten", {}), ("Linear", {"out_features": 10}))
    ids = [n.id for n in graph.nodes]
    graph = moved(graph, {nid: (100.0, 110.0 * i) for i, nid in enumerate(ids)})
    window = make_window(graph)
    doc = window.document
    target = ids[2]
    nid = doc.insert_on_edge(EdgeSpec(ids[1], target, 0), "Dropout")
    after = {n.id: n.pos for n in doc.graph.nodes}
    assert after[nid] == (100.0, 220.0)
    assert [after[i] for i in ids[2:]] == [(100.0, 110.0 * k + ROW_SPACING) for k in range(2, len(ids))]
    assert overlapping(window) == []


def test_inserting_where_there_is_room_moves_nothing(make_window):
    from designer.graph_edits import moved

    graph = chain_graph(("Flatten", {}), ("Linear", {"out_features": 10}))
    ids = [n.id for n in graph.nodes]
    graph = moved(graph, {nid: (500.0 * i, 0.0) for i, nid in enumerate(ids)})
    window = make_window(graph)
    nid = window.document.insert_on_edge(EdgeSpec(ids[1], ids[2], 0), "Dropout")
    after = {n.id: n.pos for n in window.document.graph.nodes}
    assert after[nid] == (750.0, 0.0)
    assert all(after[i] == (500.0 * k, 0.0) for k, i in enumerate(ids))


def test_connecting_by_dragging_ports_updates_shape_labels(qtbot, make_window):
    window = make_window(loose_graph("Input", "Conv2d"))
    item = window.scene.node_items["conv2d_1"]
    assert not item.texts()[3].startswith("→")     # no input yet, so no shape
    start, end = port_pos(window, "input_1", True), port_pos(window, "conv2d_1", False)
    window.canvas.centerOn((start + end) / 2)
    qtbot.mouseMove(window.canvas.viewport(), window.canvas.mapFromScene(start))
    start_port = window.scene.node_items["input_1"].output_port
    assert start_port.hovered
    drag_between(qtbot, window, start, end)
    assert EdgeSpec("input_1", "conv2d_1", 0) in window.document.graph.edges
    assert not start_port.hovered   # not left highlighted once the mouse is elsewhere
    edge_item = window.scene.edge_items[EdgeSpec("input_1", "conv2d_1", 0)]
    assert edge_item.label == "1×28×28"
    assert item.texts()[3] == "→ 16×26×26"   # default Conv2d: 16 filters, 3×3, no padding


def test_invalid_connections_are_refused_with_a_message(qtbot, make_window):
    window = make_window(chain_graph(("ReLU", {})))
    messages = []
    window.scene.status_message.connect(messages.append)
    # A cycle: Output's input is taken and ReLU → Input is refused; try relu output → relu input (self).
    before = window.document.graph
    drag_between(qtbot, window, port_pos(window, "relu_1", True), port_pos(window, "relu_1", False))
    assert window.document.graph == before
    window.document.connect(EdgeSpec("input_1", "output_1", 0))
    problem = window.document.connect(EdgeSpec("input_1", "relu_1", 0))
    assert "already connected" in problem
    g = loose_graph("Input", "ReLU", "Sigmoid")
    window.document.set_graph(g, "")
    assert window.document.connect(EdgeSpec("input_1", "relu_1", 0)) == ""
    assert window.document.connect(EdgeSpec("relu_1", "sigmoid_1", 0)) == ""
    drag_between(qtbot, window, port_pos(window, "sigmoid_1", True), port_pos(window, "relu_1", False))
    assert messages and ("cycle" in messages[-1] or "already connected" in messages[-1])
    assert EdgeSpec("sigmoid_1", "relu_1", 0) not in window.document.graph.edges
    # A second input into a one-input port is refused too.
    assert "already connected" in window.document.connect(EdgeSpec("input_1", "relu_1", 0))


def test_reattaching_an_edge_by_dragging_its_input_end(qtbot, make_window):
    window = make_window(chain_graph(("ReLU", {}), ("Flatten", {})))
    window.document.remove_edges([EdgeSpec("flatten_1", "output_1", 0)])
    extra = window.document.add_node("Linear", (700, 200), {"out_features": 10})
    drag_between(qtbot, window, port_pos(window, "flatten_1", False), port_pos(window, "linear_1", False))
    edges = window.document.graph.edges
    assert EdgeSpec("relu_1", "linear_1", 0) in edges and EdgeSpec("relu_1", "flatten_1", 0) not in edges
    assert extra == "linear_1"
    window.document.undo_stack.undo()
    assert EdgeSpec("relu_1", "flatten_1", 0) in window.document.graph.edges


def test_fix_it_from_inspector_repairs_the_error_in_one_step(qtbot, make_window):
    window = make_window(chain_graph(("Conv2d", {"out_channels": 4}), ("Linear", {"out_features": 10})))
    assert not window.document.analysis.ok
    item = window.scene.node_items["linear_1"]
    assert item.issue is not None and "Flatten" in item.issue.fix.label
    assert "insert Flatten" in item.toolTip()
    window.select_node("linear_1")
    button = window.inspector.fix_button
    assert button.isVisible() and "Flatten" in button.text()
    qtbot.mouseClick(button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    assert window.document.analysis.ok, window.document.analysis.error_text()
    assert window.document.graph.nodes_of_kind("Flatten")
    assert window.scene.node_items["linear_1"].issue is None
    flatten = window.document.graph.nodes_of_kind("Flatten")[0]
    assert flatten.pos == (440.0, 0.0) and overlapping(window) == []   # in line, where linear_1 was
    window.document.undo_stack.undo()
    assert not window.document.graph.nodes_of_kind("Flatten") and not window.document.analysis.ok


def test_copy_paste_keeps_parameters_and_works_between_windows(make_window):
    first = make_window()
    first.select_node("conv2d_2")
    first.actions_["copy"].trigger()
    first.actions_["paste"].trigger()
    graph = first.document.graph
    pasted = [n for n in graph.nodes if n.kind == "Conv2d" and n.id not in ("conv2d_1", "conv2d_2")]
    assert len(pasted) == 1
    assert pasted[0].params == graph.node("conv2d_2").params
    assert first.scene.selected_node_ids() == [pasted[0].id]
    second = make_window(loose_graph("Input"))
    second.actions_["paste"].trigger()
    assert second.document.graph.nodes_of_kind("Conv2d")[0].params == graph.node("conv2d_2").params
    # Duplicate keeps the edges between the copied layers.
    first.scene.select_nodes(["conv2d_1", "relu_1"])
    first.actions_["duplicate"].trigger()
    new_ids = first.scene.selected_node_ids()
    assert len(new_ids) == 2
    assert any(e.source in new_ids and e.target in new_ids for e in first.document.graph.edges)
    # Pasted and duplicated layers land beside the others, never on top of a layer (hiding its ports).
    items = first.scene.node_items
    for new in new_ids + [pasted[0].id]:
        rect = items[new].sceneBoundingRect()
        assert not any(rect.intersects(item.sceneBoundingRect()) for nid, item in items.items() if nid != new), new


def test_garbage_on_the_clipboard_is_refused(window):
    QApplication.clipboard().setText('{"format": "something else"}')
    before = window.document.graph
    window.actions_["paste"].trigger()
    assert window.document.graph == before


def test_delete_removes_edges_and_undo_restores(window):
    window.select_node("conv2d_2")
    edges_before = set(window.document.graph.edges)
    window.actions_["delete"].trigger()
    graph = window.document.graph
    assert not graph.has_node("conv2d_2")
    assert all("conv2d_2" not in (e.source, e.target) for e in graph.edges)
    assert "conv2d_2" not in window.scene.node_items
    window.document.undo_stack.undo()
    assert set(window.document.graph.edges) == edges_before
    assert len(window.scene.edge_items) == len(edges_before)


def test_dragging_nodes_is_one_undo_step(qtbot, window):
    window.scene.select_nodes(["conv2d_1", "relu_1"])
    start = window.scene.node_items["conv2d_1"].sceneBoundingRect().center()
    old = {n: window.document.graph.node(n).pos for n in ("conv2d_1", "relu_1")}
    count = window.document.undo_stack.count()
    drag_between(qtbot, window, start, start + QPointF(0, 120), steps=8)
    assert window.document.undo_stack.count() == count + 1
    for nid in old:
        new = window.document.graph.node(nid).pos
        assert abs(new[1] - old[nid][1] - 120) < 5  # the view maps whole pixels at its zoom
    window.document.undo_stack.undo()
    assert {n: window.document.graph.node(n).pos for n in old} == old
    assert window.scene.node_items["relu_1"].pos().y() == old["relu_1"][1]


def test_auto_layout_and_select_all(window):
    window.actions_["select_all"].trigger()
    assert len(window.scene.selected_node_ids()) == len(window.document.graph.nodes)
    window.document.move_nodes({"relu_1": (900.0, 900.0)})
    window.actions_["auto_layout"].trigger()
    assert window.document.graph.node("relu_1").pos != (900.0, 900.0)
    window.document.undo_stack.undo()
    assert window.document.graph.node("relu_1").pos == (900.0, 900.0)


def test_analysis_matches_the_engine_after_edits(window):
    window.document.set_params("conv2d_1", {"out_channels": 3})
    fresh = analyze(window.document.graph)
    assert window.document.analysis.total_params == fresh.total_params
    label = window.scene.edge_items[EdgeSpec("conv2d_1", "relu_1", 0)].label
    assert label == "3×28×28"


def test_context_menu_offers_the_fix(monkeypatch, make_window):
    from PySide6.QtGui import QContextMenuEvent

    from designer import dialogs

    window = make_window(chain_graph(("Conv2d", {"out_channels": 4}), ("Linear", {"out_features": 10})))
    shown = []

    def fake_exec(menu, screen_pos):
        shown.append([a.text() for a in menu.actions()])
        next(a for a in menu.actions() if a.text().startswith("Fix:")).trigger()

    monkeypatch.setattr(dialogs, "exec_menu", fake_exec)
    centre = window.scene.node_items["linear_1"].sceneBoundingRect().center()
    window.canvas.centerOn(centre)
    pos = window.canvas.mapFromScene(centre)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, window.canvas.viewport().mapToGlobal(pos))
    QApplication.sendEvent(window.canvas.viewport(), event)
    assert shown and shown[0][0] == "Fix: Insert Flatten"
    assert "Delete" in [t.replace("&", "") for t in shown[0]]
    assert window.document.analysis.ok
    assert window.document.undo_stack.count() == 1


def test_messages_list_applies_a_fix_on_double_click(make_window):
    window = make_window(chain_graph(("Conv2d", {"out_channels": 4}), ("Linear", {"out_features": 10})))
    items = [window.messages.list.item(i) for i in range(window.messages.list.count())]
    fixable = [i for i in items if "Insert Flatten" in i.text()]
    assert fixable
    window.messages.list.itemActivated.emit(fixable[0])
    assert window.document.analysis.ok


def test_edges_between_layout_bands_stay_inside_the_design(window):
    """LeNet-5 is laid out in two bands; the edge from the end of one band to the start of the next runs back
    through the gap between them instead of swinging far out on both sides, and its label covers no layer."""
    nodes = [item.sceneBoundingRect() for item in window.scene.node_items.values()]
    design = nodes[0]
    for rect in nodes[1:]:
        design = design.united(rect)
    backward = [e for e in window.scene.edge_items.values()
                if e.target_item.pos().x() < e.source_item.pos().x()]
    assert backward, "the template should wrap into bands"
    for edge in backward:
        bounds = edge.sceneBoundingRect()
        assert bounds.left() > design.left() - 60 and bounds.right() < design.right() + 60, edge.edge
        label = edge.mapRectToScene(edge._label_rect)
        assert not any(label.intersects(rect) for rect in nodes), edge.edge


def test_a_design_too_big_to_fit_readably_opens_at_its_input(make_window):
    from engine.graph_io import load_graph
    from engine.teaching.lessons import LESSONS_DIR

    window = make_window(load_graph(LESSONS_DIR / "designs" / "deep_plain.json"))   # many wrapped bands
    window.resize(1400, 860)
    window.canvas.show_design()
    view = window.canvas
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert view.zoom() > 0.5                                   # readable, so not all of it fits
    items = window.scene.node_items
    assert visible.contains(items["input_1"].sceneBoundingRect())
    assert not visible.contains(items["output_1"].sceneBoundingRect())
