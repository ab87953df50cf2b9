"""The Explain dock in the real main window: selection, live edits, probe activations, escaping, the Learn menu."""
import numpy as np
import pytest
from PySide6.QtCore import QUrl

from designer.teaching import explain_context
from engine.data import load_dataset
from engine.insight.activations import layer_outputs
from tests.gui.helpers import chain_graph, show_panel


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=200, seed=1)


@pytest.fixture
def lenet_like(make_window, qtbot):
    graph = chain_graph(("Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}), ("ReLU", {}),
                        ("MaxPool2d", {}), ("Flatten", {}), ("Linear", {"out_features": 10}))
    window = make_window(graph)
    window.explain_dock.show()
    window.explain_dock.raise_()
    qtbot.waitUntil(window.explain_panel.on_screen)
    return window


def shown_text(window) -> str:
    return window.explain_panel.view.toPlainText()


def select(qtbot, window, node_id):
    window.select_node(node_id)
    qtbot.waitUntil(lambda: window.explain_panel.explanation is not None
                    and window.explain_panel.explanation.node_id == node_id)


def test_selecting_a_node_shows_its_explanation_and_nothing_selected_shows_the_overview(qtbot, lenet_like):
    window = lenet_like
    select(qtbot, window, "conv2d_1")
    text = shown_text(window)
    assert "conv2d_1 · Conv2d" in text
    assert "⌊(28 − 5 + 2·2) / 1⌋ + 1 = 28" in text
    assert "(5·5·1 + 1)·6 = 156" in text
    assert "A convolution slides a small window" in text          # the registry's teaching text
    window.scene.clearSelection()
    qtbot.waitUntil(lambda: window.explain_panel.explanation.node_id == "")
    text = shown_text(window)
    assert "Select a layer" in text
    assert f"{window.document.analysis.total_params:,}" in text


def test_editing_a_parameter_updates_the_numbers_and_undo_restores_them(qtbot, lenet_like):
    window = lenet_like
    select(qtbot, window, "conv2d_1")
    assert window.document.set_params("conv2d_1", {"kernel_size": 3, "out_channels": 4}) == ""
    qtbot.waitUntil(lambda: "(3·3·1 + 1)·4 = 40" in shown_text(window))
    assert "⌊(28 − 3 + 2·2) / 1⌋ + 1 = 30" in shown_text(window)
    assert window.explain_panel.explanation.value("params") == window.document.analysis.nodes["conv2d_1"].params
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: "(5·5·1 + 1)·6 = 156" in shown_text(window))


def test_a_label_with_markup_is_shown_as_text(qtbot, lenet_like):
    window = lenet_like
    label = '<b>bold</b><img src="/tmp/x.png"><a href="explain:fix">fix</a>'
    window.document.set_label("conv2d_1", label)
    select(qtbot, window, "conv2d_1")
    qtbot.waitUntil(lambda: label in shown_text(window))
    doc = window.explain_panel.view.document()
    assert "<img" not in doc.toHtml() and "<b>bold" not in doc.toHtml()
    assert not any(f.isImageFormat() for f in doc.allFormats())
    assert "explain:fix" not in [f.toCharFormat().anchorHref() for f in doc.allFormats() if f.isCharFormat()]


def test_pooling_window_shows_the_real_feature_map_and_waits_for_edits_to_settle(qtbot, lenet_like, digits,
                                                                                  monkeypatch):
    window = lenet_like
    calls = []
    real = explain_context.layer_outputs
    monkeypatch.setattr(explain_context, "layer_outputs", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    window.training.data.set_dataset(digits)
    select(qtbot, window, "maxpool2d_1")
    qtbot.waitUntil(lambda: "Window values" in shown_text(window))
    dash = window.training
    feature_map = layer_outputs(dash.current_module(), dash.current_probe(), ["relu_1"])["relu_1"]
    grid = window.explain_panel.explanation.line("window")
    c, top, left, _, _ = grid.where
    assert np.array_equal(np.array(grid.values, dtype=np.float32), feature_map[c, top:top + 2, left:left + 2])
    assert window.explain_panel.explanation.value("window_max") == feature_map[c, top:top + 2, left:left + 2].max()
    # Three quick edits: one forward pass, after they settle
    calls.clear()
    for k in (3, 4, 3):
        window.document.set_params("maxpool2d_1", {"kernel_size": k, "stride": k})
    assert calls == []
    qtbot.waitUntil(lambda: bool(calls) and "⌊(28 − 3 + 2·0) / 3⌋ + 1 = 9" in shown_text(window))
    assert len(calls) == 1
    grid = window.explain_panel.explanation.line("window")
    assert len(grid.values) == 3 and len(grid.values[0]) == 3


@pytest.mark.parametrize("away", ["closed", "behind the inspector tab"])
def test_a_panel_out_of_sight_computes_nothing_until_shown(qtbot, lenet_like, digits, monkeypatch, away):
    window = lenet_like
    calls = []
    real = explain_context.layer_outputs
    monkeypatch.setattr(explain_context, "layer_outputs", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    if away == "closed":
        window.explain_dock.hide()
    else:
        window.inspector_dock.raise_()
        qtbot.waitUntil(lambda: not window.explain_panel.on_screen())
    window.training.data.set_dataset(digits)
    window.select_node("relu_1")
    window.document.set_params("conv2d_1", {"out_channels": 3})
    assert calls == [] and not window.explain_panel._settle.isActive()   # nothing computed, nothing pending
    window.explain_dock.show()
    window.explain_dock.raise_()
    qtbot.waitUntil(lambda: window.explain_panel.explanation is not None
                    and window.explain_panel.explanation.node_id == "relu_1" and "Zero fraction" in shown_text(window))
    assert len(calls) == 1
    relu = layer_outputs(window.training.current_module(), window.training.current_probe(), ["relu_1"])["relu_1"]
    assert window.explain_panel.explanation.value("zero_fraction") == np.count_nonzero(relu == 0) / relu.size


def test_an_error_is_explained_and_its_fix_applies_from_the_panel(qtbot, lenet_like):
    window = lenet_like
    select(qtbot, window, "conv2d_1")
    window.document.set_params("conv2d_1", {"kernel_size": 40})
    qtbot.waitUntil(lambda: "What is wrong" in shown_text(window))
    assert window.explain_panel.explanation.fix is not None
    window.explain_panel.view.anchorClicked.emit(QUrl("explain:fix"))
    qtbot.waitUntil(lambda: window.document.analysis.nodes["conv2d_1"].error is None)
    qtbot.waitUntil(lambda: "What is wrong" not in shown_text(window))


def test_the_learn_menu_opens_and_closes_the_explain_dock(qtbot, lenet_like):
    window = lenet_like
    action = next(a for a in window.menu("Learn").actions() if a.objectName() == "action_explain")
    assert action.isChecked()
    action.trigger()
    assert window.explain_dock.isHidden() and not action.isChecked()
    action.trigger()
    qtbot.waitUntil(window.explain_panel.on_screen)
    assert action.isChecked()
    window.inspector_dock.raise_()             # open but behind the inspector's tab: the menu brings it forward
    qtbot.waitUntil(lambda: not window.explain_panel.on_screen())
    action.trigger()
    qtbot.waitUntil(window.explain_panel.on_screen)
    assert action.isChecked() and not window.explain_dock.isHidden()



def test_explain_and_summary_count_the_same_layers_and_say_which(qtbot, lenet_like):
    window = lenet_like
    window.scene.clearSelection()
    qtbot.waitUntil(lambda: window.explain_panel.explanation is not None
                    and window.explain_panel.explanation.node_id == "")
    # chain_graph: Input, 5 layers, Output; both panels count the 5 and say so
    assert window.explain_panel.explanation.value("n_layers") == 5
    assert "Layers between Input and Output" in shown_text(window)
    show_panel(window, qtbot, "dock_summary", window.summary)
    assert "5 layers between Input and Output" in window.summary.totals.text()
