"""Blocks on the canvas: group the selection (Ctrl+G), a collapsed block is one node with its class, name,
totals and boundary ports, double-click opens it, edits inside reach every use, and ResNet-50 collapsed fits a
laptop's window."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF

from designer import block_actions
from designer.canvas.block_item import BlockItem
from engine.graph import chain


def _stages(n=3):
    layers = [("Input", {"channels": 3, "height": 16, "width": 16})]
    for _ in range(n):
        layers += [("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("BatchNorm2d", {}), ("ReLU", {})]
    return chain(layers + [("Global average pool", {}), ("Linear", {"out_features": 4}), ("Output", {"classes": 4})])


def test_group_collapse_open_and_undo(make_window, qtbot):
    window = make_window(_stages(3))
    scene, doc = window.scene, window.document
    before = doc.graph
    for i in (1, 2, 3):
        scene.select_nodes([f"conv2d_{i}", f"batchnorm2d_{i}", f"relu_{i}"])
        assert block_actions.group_selection(window, "Stage") == ""
    assert dict(doc.graph.module_classes) == {"block1": "Stage", "block2": "Stage", "block3": "Stage"}
    block_actions.collapse_all(window)
    items = [i for i in scene.items() if isinstance(i, BlockItem)]
    assert len(items) == 3 and all(i.isVisible() for i in items)
    assert not scene.node_items["conv2d_2"].isVisible()
    visible_edges = [e for e in scene.edge_items.values() if e.isVisible()]
    assert len(visible_edges) == 6   # input→1→2→3→pool→linear→output: the inner connections are hidden
    first = scene.collapser.items["block1"]
    assert first.totals["layers"] == 3 and first.totals["params"] == 3 * 8 * 9 + 8 + 16
    assert tuple(first.totals["shape"]) == (8, 16, 16)
    # an edge crossing the boundary ends on the block's port
    into = scene.edge_items[next(e for e in doc.graph.edges if e.target == "conv2d_2")]
    assert into.source_item is first and into.target_item is scene.collapser.items["block2"]
    # an edit inside one use reaches the others
    assert doc.set_params("conv2d_1", {"kernel_size": 5, "padding": 2}) == ""
    assert doc.graph.node("conv2d_3").params["kernel_size"] == (5, 5)
    doc.undo_stack.undo()
    assert doc.graph.node("conv2d_3").params["kernel_size"] == (3, 3)
    # double-click opens a block in place
    scene.collapser.set_collapsed("block2", False)
    assert scene.node_items["conv2d_2"].isVisible() and "block2" not in scene.collapser.items
    # selecting a collapsed block selects its layers for Delete, Copy, Ungroup
    scene.clearSelection()
    first = scene.collapser.items["block1"]   # the canvas made its items again when block2 opened
    first.setSelected(True)
    assert scene.selected_node_ids() == ["conv2d_1", "batchnorm2d_1", "relu_1"]
    window.actions_["ungroup"].trigger()
    assert "block1" not in dict(doc.graph.module_classes) and scene.node_items["conv2d_1"].isVisible()
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert doc.graph == before


def test_refusals_are_reported_in_the_status_bar(make_window):
    window = make_window(_stages(2))
    window.scene.select_nodes(["input_1", "conv2d_1"])
    problem = block_actions.group_selection(window, "Stem")
    assert "Input cannot go into a block" in problem and "Input" in window.statusBar().currentMessage()


def test_resnet50_collapsed_fits_a_laptop_window(make_window, qtbot):
    from engine.interchange.importing import import_torchvision

    window = make_window(import_torchvision("resnet50", (3, 224, 224)).graph)
    window.resize(1280, 720)
    qtbot.wait(50)
    block_actions.collapse_all(window)
    scene, view = window.scene, window.canvas
    shown = [i for i in scene.node_items.values() if i.isVisible()] + list(scene.collapser.items.values())
    assert sorted(scene.collapser.items) == ["layer1", "layer2", "layer3", "layer4"]
    assert len(shown) <= 14
    bounds = QRectF()
    for item in shown:
        bounds = bounds.united(item.sceneBoundingRect())
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(bounds) and view.transform().m11() >= 0.6   # all of it, at a readable zoom
    stage = scene.collapser.items["layer2"]
    assert stage.block.class_name == "Sequential" and stage.totals["layers"] > 30
    # opening a stage shows its bottleneck blocks, still collapsed
    scene.collapser.set_collapsed("layer2", False)
    window.document.auto_layout(scene.collapser.collapsed)
    assert {"layer2.0", "layer2.1", "layer2.2", "layer2.3"} <= set(scene.collapser.items)


def test_the_palette_lists_library_and_design_blocks_and_adds_them(make_window, qtbot):
    from designer.palette import BLOCK_ROLE, DESIGN_BLOCKS
    from engine.analysis import analyze
    from engine.blocks import blocks

    window = make_window(_stages(1))
    palette, scene, doc = window.palette, window.scene, window.document
    library = [palette.tree.topLevelItem(i) for i in range(palette.tree.topLevelItemCount())
               if palette.tree.topLevelItem(i).text(0) == "Block library"][0]
    refs = {library.child(i).data(0, BLOCK_ROLE) for i in range(library.childCount())}
    assert {"library:residual_basic", "library:residual_bottleneck", "library:inception", "library:nin",
            "library:mbconv", "library:dense_layer", "library:vgg_stage"} <= refs
    assert palette.design_group.isHidden()   # no blocks in the design yet
    # a VGG stage dropped onto the connection after the first ReLU goes into it and is one block
    edge = next(e for e in doc.graph.edges if e.source == "relu_1")
    item = scene.edge_items[edge]
    ids = scene.drop_block("library:vgg_stage", item.label_item.sceneBoundingRect().center())
    assert len(ids) == 5 and analyze(doc.graph).ok
    assert {b.class_name for b in blocks(doc.graph).values()} == {"VGGStage"}
    assert not palette.design_group.isHidden() and palette.design_group.child(0).text(0) == "VGGStage (1×)"
    assert palette.design_group.text(0) == DESIGN_BLOCKS
    # another use of the design's block shares its settings
    edge = next(e for e in doc.graph.edges if e.source == ids[-1])
    more = scene.drop_block("design:VGGStage", scene.edge_items[edge].label_item.sceneBoundingRect().center())
    assert len(more) == 5 and analyze(doc.graph).ok and palette.design_group.child(0).text(0) == "VGGStage (2×)"
    assert doc.set_params(ids[0], {"kernel_size": 5, "padding": 2}) == ""
    assert doc.graph.node(more[0]).params["kernel_size"] == (5, 5)
    # every library block builds, and fits where its channels match
    for ref in sorted(refs):
        before = len(doc.graph.nodes)
        assert scene.drop_block(ref, QPointF(2000, 2000 + 200 * len(doc.graph.nodes))) and len(doc.graph.nodes) > before


def test_the_summary_shows_blocks_with_totals_and_folds_them(make_window):
    from engine.analysis import analyze
    from engine.templates import load_template

    window = make_window(load_template("small_resnet"))
    model = window.summary.model
    headers = [r for r in model.shown if r[7]]
    assert [r[0] for r in headers] == ["block1", "block2", "block3"]
    analysis = analyze(window.document.graph)
    block2 = next(r for r in headers if r[0] == "block2")
    members = [n.id for n in window.document.graph.nodes if n.name.startswith("block2.")]
    assert block2[3] == sum(analysis.nodes[m].params for m in members) and block2[1] == "▣ DownsampleBlock"
    assert [r[0] for r in model.rows] == analysis.order   # every layer still has its row
    row = model.shown.index(block2)
    before = len(model.shown)
    assert model.toggle(row) and len(model.shown) == before - len(members)
    assert model.data(model.index(row, 0)).strip().startswith("▸")
    assert model.toggle(row) and len(model.shown) == before
    assert model.node_id(row) == "" and model.node_id(row + 1) in members


def test_selecting_a_collapsed_block_explains_it_as_a_unit(make_window, qtbot):
    from engine.templates import load_template

    from designer.teaching.explain_panel import ExplainPanel

    window = make_window(load_template("small_resnet"))
    panel = window.findChildren(ExplainPanel)[0]
    window.scene.collapser.collapse_all()
    item = window.scene.collapser.items["block2"]
    window.scene.clearSelection()
    item.setSelected(True)
    from engine.teaching.explain_block import explain_block
    explanation = explain_block(window.document.graph, window.document.analysis, "block2")
    assert panel.block == "block2"
    facts = {f.key: f for s in explanation.sections for f in s.lines if hasattr(f, "key")}
    members = [n.id for n in window.document.graph.nodes if n.name.startswith("block2.")]
    assert facts["block_params"].number == sum(window.document.analysis.nodes[m].params for m in members)
    assert facts["block_out"].value == "32×16×16"
    text = " ".join(getattr(line, "text", "") for s in explanation.sections for line in s.lines)
    assert "block3" in text and "Make Unique" in text   # its other use, and how to part them
    assert "widens every value's view" in text
