"""The Convolution playground driven like a student would: stepping, editing cells, Back/Reset, playing,
pooling, ReLU and a learned filter on a real image, each checked against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PySide6.QtCore import Qt

from engine.teaching.kernels import apply_kernel, preset_kernel
from engine.teaching.playground import format_number


def _t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)[None, None]


@pytest.fixture
def playground(window, qtbot):
    window.playground_dock.show()
    window.playground_dock.raise_()
    panel = window.playground
    qtbot.waitUntil(panel.conv.isVisible)
    return panel


def _click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _shown_count(grid) -> int:
    return int(np.asarray(grid.shown).sum())


def test_learn_menu_toggles_the_dock(window):
    action = next(a for a in window.menu("Learn").actions() if a.text() == "Convolution playground")
    dock = window.playground_dock
    visible = dock.isVisible()
    action.trigger()
    assert dock.isVisible() != visible
    action.trigger()
    assert dock.isVisible() == visible


def test_stepping_fills_the_output_like_conv2d(playground, qtbot):
    tab = playground.conv
    tab.padding.setValue(1)
    tab.stride.setValue(2)
    tab.bias.setValue(1.5)
    expected = F.conv2d(_t(tab.input), _t(tab.kernel), torch.tensor([1.5], dtype=torch.float64),
                        stride=2, padding=1)[0, 0].numpy()
    assert tab.output_grid.values.shape == expected.shape == (4, 4)
    assert tab.animator.count == expected.size
    assert _shown_count(tab.output_grid) == 0
    for n in range(1, expected.size + 1):
        _click(qtbot, tab.bar.step)
        assert _shown_count(tab.output_grid) == n
        step = tab.result.steps[n - 1]
        assert tab.output_grid.current == (step.row, step.col)
        assert tab.arithmetic.text().endswith(f"= {format_number(expected[step.row, step.col])}")
        # numbered from 0 like tensor indices: step n fills row (n-1) // 4, column (n-1) % 4
        assert tab.arithmetic.text().startswith(f"<b>Output row {(n - 1) // 4}, column {(n - 1) % 4}</b> =")
        assert len(tab.input_grid.window) == 9  # the 3×3 window is highlighted on the padded input
    assert not tab.bar.step.isEnabled()
    np.testing.assert_allclose(tab.output_grid.values, expected)
    assert tab.bar.progress.text() == "step 16 of 16"


def test_editing_a_kernel_cell_and_the_stride(playground, qtbot):
    tab = playground.conv
    tab.preset.setCurrentText("Sharpen")
    np.testing.assert_array_equal(tab.kernel, preset_kernel("Sharpen"))
    grid = tab.kernel_grid
    qtbot.mouseDClick(grid, Qt.MouseButton.LeftButton, pos=grid.cell_rect(0, 0).center().toPoint())
    editor = grid._editor
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, "-2.5")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert tab.kernel[0, 0] == -2.5 and tab.preset.currentText() == "Custom"
    assert grid._editor is None and grid.selected == (0, 1)  # Return commits and moves right, like a sheet
    expected = F.conv2d(_t(tab.input), _t(tab.kernel))[0, 0].numpy()
    np.testing.assert_allclose(tab.output_grid.values, expected)
    # select an input cell and just type: the value is replaced, the output follows
    qtbot.mouseClick(tab.input_grid, Qt.MouseButton.LeftButton, pos=tab.input_grid.cell_rect(2, 3).center().toPoint())
    qtbot.keyClicks(tab.input_grid, "9")
    qtbot.keyClick(tab.input_grid._editor, Qt.Key.Key_Return)
    assert tab.input[2, 3] == 9
    np.testing.assert_allclose(tab.output_grid.values, F.conv2d(_t(tab.input), _t(tab.kernel))[0, 0].numpy())
    assert "= 5, so the output is 5×5" in tab.size_formula.text()
    tab.stride.setValue(2)
    assert "⌊(7 − 3 + 2·0) / 2⌋ + 1 = 3, so the output is 3×3" in tab.size_formula.text()
    assert tab.output_title.text() == "Output 3×3"
    tab.kernel_size.setValue(5)
    assert tab.kernel.shape == (5, 5) and "= 2, so the output is 2×2" in tab.size_formula.text()


def test_typing_garbage_keeps_the_editor_open(playground, qtbot):
    tab = playground.conv
    before = tab.kernel.copy()
    editor = tab.kernel_grid.start_editing((1, 1))
    editor.setText("abc")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert tab.kernel_grid._editor is editor  # still open for a correction
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert tab.kernel_grid._editor is None
    np.testing.assert_array_equal(tab.kernel, before)


def test_back_and_reset(playground, qtbot):
    tab = playground.conv
    for _ in range(3):
        _click(qtbot, tab.bar.step)
    _click(qtbot, tab.bar.back)
    assert tab.animator.position == 2 and _shown_count(tab.output_grid) == 2
    assert tab.output_grid.current == (tab.result.steps[1].row, tab.result.steps[1].col)
    _click(qtbot, tab.bar.reset)
    assert tab.animator.position == 0 and _shown_count(tab.output_grid) == 0
    assert tab.input_grid.window == () and not tab.bar.back.isEnabled()
    assert tab.arithmetic.text().startswith("Press Play or Step")


def test_play_runs_to_the_end(playground, qtbot):
    tab = playground.conv
    tab.bar.speed.setValue(tab.bar.speed.maximum())
    _click(qtbot, tab.bar.play)
    assert tab.animator.playing and tab.bar.play.text() == "Pause"
    qtbot.waitUntil(lambda: tab.animator.at_end and not tab.animator.playing, timeout=10000)
    assert _shown_count(tab.output_grid) == tab.animator.count == 25
    np.testing.assert_allclose(tab.output_grid.values, F.conv2d(_t(tab.input), _t(tab.kernel))[0, 0].numpy())
    assert tab.bar.play.text() == "Play"


def test_impossible_settings_explain_the_fix(playground):
    tab = playground.conv
    tab.rows.setValue(4)
    tab.cols.setValue(4)
    tab.kernel_size.setValue(6)
    assert tab.size_formula.is_error and "padding of at least 1" in tab.size_formula.text()
    assert not tab.bar.play.isEnabled() and tab.animator.count == 0
    assert "no output" in playground.pooling.size_formula.text()  # the pooling tab reads this output
    tab.padding.setValue(1)
    assert not tab.size_formula.is_error and tab.output_title.text() == "Output 1×1"


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_steps_over_a_map_like_torch(playground, qtbot, mode):
    tab = playground.pooling
    playground.tabs.setCurrentWidget(tab)
    tab.source.setCurrentIndex(2)                 # the example map
    tab.mode.setCurrentIndex(tab.mode.findData(mode))
    tab.window_size.setValue(3)
    tab.padding.setValue(1)
    bar = tab.findChild(type(playground.conv.bar))
    _click(qtbot, bar.step)
    _click(qtbot, bar.step)
    assert _shown_count(tab.output_grid) == 2 and len(tab.input_grid.window) == 9
    if mode == "max":
        assert tab.input_grid.chosen == (tab.result.steps[1].chosen,)
        winner = tab.input_grid.values[tab.result.steps[1].chosen]
        assert tab.arithmetic.text().endswith(f"= {format_number(winner)}") and winner == tab.output_grid.values[0, 1]
    _click(qtbot, bar.all)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    np.testing.assert_allclose(tab.output_grid.values, pool(_t(tab.map), 3, 2, 1)[0, 0].numpy())
    assert _shown_count(tab.output_grid) == tab.output_grid.values.size


def test_pooling_and_relu_follow_the_step_by_step_output(playground):
    playground.conv.padding.setValue(1)
    out = playground.conv.output_map()
    pooling, relu = playground.pooling, playground.relu
    pooling.source.setCurrentIndex(0)
    relu.source.setCurrentIndex(0)
    np.testing.assert_array_equal(pooling.map, out)
    np.testing.assert_allclose(pooling.result.output, F.max_pool2d(_t(out), 2)[0, 0].numpy())
    np.testing.assert_array_equal(relu.after.values, F.relu(_t(out))[0, 0].numpy())
    negative = int((out < 0).sum())
    assert relu.summary.text().startswith(f"<b>{negative} of {out.size} cells")
    assert len(relu.after.chosen) == negative
    playground.conv.bias.setValue(-3)          # the tabs using that output follow it
    np.testing.assert_array_equal(relu.map, out - 3)
    assert relu.summary.text().startswith(f"<b>{int((out - 3 < 0).sum())} of")


def test_real_image_with_a_learned_filter(window, playground, qtbot):
    from engine.insight.activations import layer_outputs

    tab = playground.image
    playground.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(tab.isVisible)
    assert tab.source.currentData() == "digits"   # no data set loaded: generated digits stand in
    tab.kernel_choice.setCurrentText("Laplacian")
    np.testing.assert_allclose(tab.feature_map, apply_kernel(tab.image, preset_kernel("Laplacian"), 1, 1), atol=1e-6)
    assert tab.map_view.legend is not None
    tab.kernel_choice.setCurrentIndex(tab.kernel_choice.findData("learned"))
    tab.filter_index.setValue(2)
    module = window.training.current_module()
    conv = next(n for n in module.node_order if window.document.graph.node(n).kind == "Conv2d")
    real = layer_outputs(module, tab.image, [conv])[conv][2]
    np.testing.assert_allclose(tab.feature_map, real, atol=1e-5)  # the network's own feature map
    np.testing.assert_allclose(tab.kernel_grid.values, module.get_submodule(conv).weight[2].detach().numpy().mean(0),
                               rtol=1e-6)
    assert "untrained" in tab.info.text()


def test_learned_filters_follow_the_design(window, playground, qtbot):
    tab = playground.image
    playground.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(tab.isVisible)
    conv = next(n.id for n in window.document.graph.nodes if n.kind == "Conv2d")
    tab.kernel_choice.setCurrentIndex(tab.kernel_choice.findData("learned"))
    assert tab.filter_index.maximum() == window.document.graph.node(conv).params["out_channels"] - 1
    window.document.set_params(conv, {"out_channels": 9})
    qtbot.waitUntil(lambda: tab.filter_index.maximum() == 8)
    tab.filter_index.setValue(8)
    assert tab.feature_map is not None and tab.info.text().startswith(f"Filter #8 of {conv}")


def test_large_maps_are_cut_to_their_centre(playground):
    from designer.teaching.playground_sources import MAX_SIDE

    big = np.arange(100 * 60, dtype=np.float64).reshape(100, 60)
    playground.image.feature_map = big
    playground.image.map_changed.emit()
    pooling = playground.pooling
    pooling.source.setCurrentIndex(1)
    assert pooling.map.shape == (MAX_SIDE, MAX_SIDE)
    top, left = (100 - MAX_SIDE) // 2, (60 - MAX_SIDE) // 2
    np.testing.assert_array_equal(pooling.map, big[top:top + MAX_SIDE, left:left + MAX_SIDE])
    assert "centre of the 100×60 map" in pooling.input_title.text()


def test_transposed_convolution_stamps_add_up_to_conv_transpose2d(playground, qtbot):
    """Each step stamps one input value times the kernel onto the output; the stamps add up, the padding cuts
    the border away, and the end is exactly PyTorch's conv_transpose2d."""
    playground.tabs.setCurrentWidget(playground.transposed)
    tab = playground.transposed
    qtbot.waitUntil(tab.isVisible)
    tab.padding.setValue(1)
    tab.output_padding.setValue(1)
    tab.bias.setValue(0.5)
    expected = F.conv_transpose2d(_t(tab.input), _t(tab.kernel), torch.tensor([0.5], dtype=torch.float64),
                                  stride=2, padding=1, output_padding=1)[0, 0].numpy()
    assert tab.result.output.shape == expected.shape == (6, 6) and tab.animator.count == 9
    assert "(3 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 6" in tab.size_formula.text()
    assert tab.output_grid.padding == (1, 1)            # the cut border is drawn as such
    for n in range(1, 10):
        _click(qtbot, tab.bar.step)
        step = tab.result.steps[n - 1]
        assert tab.input_grid.current == (step.row, step.col)
        assert np.array_equal(tab.output_grid.values, step.partial)
        assert f"Input row {step.row}, column {step.col}" in tab.arithmetic.text()
    inner = tab.output_grid.values[1:-1, 1:-1]
    np.testing.assert_allclose(inner, expected)
    assert "last stamp" in tab.arithmetic.text()
    tab.output_padding.setValue(2)
    assert tab.result is None and "smaller than the stride" in tab.size_formula.text()
    # the default ones stamped 3×3 at stride 2 overlap unevenly: the chequerboard, cells hit by 1, 2 or 4 stamps
    tab.output_padding.setValue(0)
    tab.padding.setValue(0)
    tab.bias.setValue(0)
    assert tab.result is not None and tab.result.output.shape == (7, 7)
    assert set(tab.result.output.flatten().tolist()) == {1.0, 2.0, 4.0}
