"""The inspector form, the summary table, the palette and the status bar, driven as a user would."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.graph import EdgeSpec
from helpers import chain_graph, show_panel


def test_inspector_edit_changes_shapes_downstream_in_one_undo_step(qtbot, window):
    window.select_node("conv2d_1")
    assert window.selected_node_id() == "conv2d_1"
    editor = window.inspector.editors["out_channels"]
    count = window.document.undo_stack.count()
    editor.box.setFocus()
    editor.box.selectAll()
    qtbot.keyClicks(editor.box, "12")
    assert window.document.graph.node("conv2d_1").params["out_channels"] == 12
    assert window.scene.edge_items[EdgeSpec("conv2d_1", "relu_1", 0)].label == "12×28×28"
    assert window.scene.edge_items[EdgeSpec("relu_1", "maxpool2d_1", 0)].label == "12×28×28"
    assert window.scene.node_items["maxpool2d_1"].texts()[3] == "→ 12×14×14"
    assert window.inspector.analysis_labels["shape"].text() == "12×28×28"
    # Params of the next convolution follow: 16 filters × (12·5·5) weights + 16 biases.
    show_panel(window, qtbot, "dock_summary", window.summary)
    row = [r for r in window.summary.model.rows if r[0] == "conv2d_2"][0]
    assert row[3] == 16 * 12 * 25 + 16
    assert window.document.undo_stack.count() == count + 1   # typing "1", "12" merged
    window.document.undo_stack.undo()
    assert window.document.graph.node("conv2d_1").params["out_channels"] == 6
    assert editor.box.value() == 6   # the form follows undo


def test_out_of_range_values_are_refused_in_place(qtbot, make_window):
    window = make_window(chain_graph(("Flatten", {}), ("Dropout", {}), ("Linear", {"out_features": 10})))
    window.select_node("dropout_1")
    editor = window.inspector.editors["p"]
    editor.edit.setFocus()
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "1.5")
    assert window.document.graph.node("dropout_1").params["p"] != 1.5
    error = window.inspector.error_labels["p"]
    assert error.isVisible() and "at most" in error.text()
    assert editor.edit.property("invalid") is True
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "0.25")
    assert window.document.graph.node("dropout_1").params["p"] == 0.25
    assert not error.isVisible()
    # Spin boxes cannot even hold out-of-range numbers.
    window.select_node("linear_1")
    box = window.inspector.editors["out_features"].box
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "0")
    assert window.document.graph.node("linear_1").params["out_features"] >= 1


def test_pair_and_padding_editors(qtbot, window):
    window.select_node("conv2d_2")
    padding = window.inspector.editors["padding"]
    padding.mode.setCurrentIndex(1)   # "same"
    assert window.document.graph.node("conv2d_2").params["padding"] == "same"
    assert window.scene.node_items["conv2d_2"].texts()[3] == "→ 16×14×14"
    kernel = window.inspector.editors["kernel_size"]
    kernel.square.setChecked(False)   # a 5×5 kernel starts linked: unlink to make it oblong
    kernel.w.setValue(3)
    assert window.document.graph.node("conv2d_2").params["kernel_size"] == (5, 3)


def test_a_square_pair_stays_square_in_one_edit_until_unlinked(qtbot, window):
    window.select_node("conv2d_1")
    kernel = window.inspector.editors["kernel_size"]
    assert kernel.square.isChecked()          # 5×5: linked from the start
    count = window.document.undo_stack.count()
    kernel.h.setFocus()
    kernel.h.selectAll()
    qtbot.keyClicks(kernel.h, "3")
    assert window.document.graph.node("conv2d_1").params["kernel_size"] == (3, 3)
    assert kernel.w.value() == 3 and window.document.undo_stack.count() == count + 1
    kernel.square.setChecked(False)
    kernel.w.setValue(5)
    assert window.document.graph.node("conv2d_1").params["kernel_size"] == (3, 5)
    assert not kernel.square.isChecked()
    window.document.undo_stack.undo()         # square again: the user's unlinking stands
    assert kernel.w.value() == kernel.h.value() and not kernel.square.isChecked()
    kernel.square.setChecked(True)            # linking an oblong pair squares it on the height
    window.document.undo_stack.redo()         # 3×5 again: a pair that is not square cannot stay linked
    assert not kernel.square.isChecked()


def test_label_edit_shows_on_canvas(qtbot, window):
    window.select_node("conv2d_1")
    qtbot.keyClicks(window.inspector.label_edit, "edges")
    assert window.document.graph.node("conv2d_1").label == "edges"
    assert window.scene.node_items["conv2d_1"].texts()[1] == "edges"


def test_summary_row_click_selects_node(qtbot, window):
    show_panel(window, qtbot, "dock_summary", window.summary)
    model = window.summary.model
    row = [r[0] for r in model.rows].index("maxpool2d_2")
    assert [r[0] for r in model.rows][0] == "input_1"   # dependency order
    seen = []
    window.selection_changed.connect(seen.append)
    rect = window.summary.table.visualRect(model.index(row, 1))
    window.summary.table.scrollTo(model.index(row, 1))
    rect = window.summary.table.visualRect(model.index(row, 1))
    qtbot.mouseClick(window.summary.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.selected_node_id() == "maxpool2d_2"
    assert seen[-1] == "maxpool2d_2"
    assert "61,706 parameters" in window.summary.totals.text()


def test_palette_lists_every_kind_and_searches(window):
    from engine.registry import all_kinds
    assert set(window.palette.items) == {k.name for k in all_kinds() if not k.placeholder}
    assert "Unsupported" not in window.palette.items   # only an import makes one
    window.palette.search.setText("pool")
    visible = window.palette.visible_kinds()
    assert "MaxPool2d" in visible and "Conv2d" not in visible
    window.palette.search.setText("")
    assert "Conv2d" in window.palette.visible_kinds()


def test_palette_search_matches_names_before_descriptions(window):
    palette = window.palette
    palette.search.setText("linear")       # ELU, Hardsigmoid, BatchNorm1d mention 'linear' in their help
    assert palette.visible_kinds() == ["Linear", "Pointwise linear"]
    palette.search.setText("normalization")   # a category name lists its kinds
    assert {"BatchNorm2d", "BatchNorm1d"} <= set(palette.visible_kinds())
    palette.search.setText("element")      # no name has it: the description of Add does
    assert "Add" in palette.visible_kinds() and "Conv2d" not in palette.visible_kinds()
    palette.search.setText("residual")     # the library's residual blocks, by name
    assert palette.visible_blocks() == ["library:residual_basic", "library:residual_bottleneck", "library:mbconv"]


def test_palette_double_click_adds_at_centre(qtbot, window):
    item = window.palette.items["BatchNorm2d"]
    before = len(window.document.graph.nodes)
    window.palette.tree.itemDoubleClicked.emit(item, 0)
    assert len(window.document.graph.nodes) == before + 1
    assert window.document.graph.nodes_of_kind("BatchNorm2d")


def test_status_bar_totals_follow_errors(window):
    assert window.totals.errors.text() == "No errors"
    window.document.remove_edges([EdgeSpec("flatten_1", "linear_1", 0)])
    assert "error" in window.totals.errors.text()
    assert window.messages.list.count() >= 1


def test_dark_theme_switch(window):
    window.actions_["theme_dark"].trigger()
    from designer import theme
    assert theme.current_theme() == "dark"
    assert window.settings().value("appearance/theme") == "dark"
    window.actions_["theme_light"].trigger()
    assert theme.current_theme() == "light"



def _ink_lightness(icon) -> float:
    """Mean lightness of the visible pixels of an icon at toolbar size."""
    image = icon.pixmap(24).toImage()
    values = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    values = [c.lightness() for c in values if c.alpha() > 128]
    assert values, "the icon draws nothing"
    return sum(values) / len(values)


def test_dark_theme_keeps_toolbar_icons_and_headers_readable(make_window):
    first, second = make_window(), make_window()
    first.actions_["theme_dark"].trigger()
    for window in (first, second):  # the theme is the application's: every window follows
        assert window.actions_["theme_dark"].isChecked()
        for name in ("undo", "redo", "fit"):
            assert _ink_lightness(window.actions_[name].icon()) > 150, name  # light lines on a dark toolbar
    first.actions_["theme_light"].trigger()
    assert _ink_lightness(second.actions_["undo"].icon()) < 110


def test_no_layer_header_can_be_mistaken_for_an_error():
    from designer import theme

    def distance(a, b):
        return sum((x - y) ** 2 for x, y in zip(a.getRgb()[:3], b.getRgb()[:3])) ** 0.5

    for category in theme.CATEGORY_COLORS:
        for colors in (theme.LIGHT, theme.DARK):
            for error in (colors.error_border, colors.error_header):
                assert distance(theme.category_color(category), error) > 60, category


def test_inspector_forms_fit_without_sideways_scrolling(qtbot, make_window):
    from engine.templates import load_template

    window = make_window(load_template("inception"))   # Concat with four input shapes, convolutions
    inspector = window.inspector
    for node in window.document.graph.nodes:
        window.select_node(node.id)
        QApplication.processEvents()
        page = inspector.widget()
        assert page.width() <= inspector.viewport().width() + 1, node.id   # nothing cut off at the right
        assert page.minimumSizeHint().width() <= inspector.viewport().width() + 1, node.id


def test_inspector_shows_an_imported_layers_module_path(make_window):
    from torch import nn

    from engine.interchange.fx_import import import_module

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
            self.head = nn.Linear(4 * 6 * 6, 10)

        def forward(self, x):
            return self.head(self.features(x).flatten(1))

    graph = import_module(Small(), (1, 8, 8)).graph
    window = make_window(graph)
    conv = next(n for n in graph.nodes if n.kind == "Conv2d")
    window.select_node(conv.id)
    from PySide6.QtWidgets import QLabel
    texts = [w.text() for w in window.inspector.findChildren(QLabel)]
    assert "features.0" in texts
