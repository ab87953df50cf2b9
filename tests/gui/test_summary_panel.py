"""The layer table follows every edit, also those made while it was hidden behind another panel."""
from __future__ import annotations

from helpers import chain_graph, show_panel


def test_edits_made_while_the_summary_is_hidden_show_when_it_is_shown(make_window, qtbot):
    window = make_window(chain_graph(("Conv2d", {"out_channels": 6, "kernel_size": 5}), ("Flatten", {}),
                                     ("Linear", {"out_features": 10})))
    summary = window.summary
    show_panel(window, qtbot, "dock_summary", summary)
    dock = window.workspace.dock("dock_summary")
    conv_row = lambda: next(r for r in summary.model.rows if r[0] == "conv2d_1")  # noqa: E731
    assert conv_row()[2] == "6×24×24"

    dock.hide()
    window.document.set_params("conv2d_1", {"out_channels": 12})
    window.document.set_params("input_1", {"height": 32})
    assert not summary.isVisible()
    dock.show()
    qtbot.waitUntil(summary.isVisible)
    assert conv_row()[2] == "12×28×24"
    assert conv_row()[3] == 12 * 1 * 5 * 5 + 12
    assert f"{window.document.analysis.total_params:,} parameters" in summary.totals.text()
