"""Panels squeezed into a laptop's dock keep their controls usable."""
from __future__ import annotations

from designer.training.feature_maps import FeatureMapsView


def test_the_epoch_slider_keeps_a_draggable_width_in_a_narrow_dock(qtbot):
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.resize(420, 300)    # the feature-map tab of a bottom dock shared with the curves at ~1500 px
    view.show()
    qtbot.waitExposed(view)
    assert view.timelapse.width() >= 120 > 3 * view.timelapse.style().pixelMetric(
        view.timelapse.style().PixelMetric.PM_SliderLength)


def test_runs_list_wraps_long_titles_and_the_table_heads_columns_short(qtbot):
    from designer.training.runs import RunsView
    from engine.templates import load_template
    from engine.training.config import TrainConfig
    from engine.training.run_record import RunRecord

    graph = load_template("lenet5")
    runs = [RunRecord(graph, TrainConfig(lr=lr), "generated_digits", name=f"Run {i} · LeNet-5 (+Dropout, lr {lr})",
                      test={"accuracy": 0.9})
            for i, lr in ((1, 0.001), (2, 0.01))]
    view = RunsView()
    qtbot.addWidget(view)
    view.resize(560, 300)    # the Runs tab of a bottom dock on a laptop
    view.show()
    qtbot.waitExposed(view)
    view.set_records(runs)
    view.set_checked([r.id for r in runs])
    line = view.list.fontMetrics().lineSpacing()
    item = view.list.item(0)
    assert view.list.width() > 0.3 * view.width()
    assert view.list.visualItemRect(item).height() >= 2 * line     # wrapped, not cut
    assert view.list.horizontalScrollBar().maximum() == 0
    header = [view.config_table.horizontalHeaderItem(j).text() for j in range(3)]
    assert header == ["setting", "Run 1", "Run 2"]
    assert view.config_table.horizontalHeaderItem(2).toolTip() == runs[1].name


def test_the_gallery_shows_each_top_3_probability_whole(qtbot):
    from types import SimpleNamespace

    import numpy as np

    from designer.training.gallery import ICON_SIZE, ErrorGallery

    names = ("rectangle", "triangle", "circle", "ellipse")
    probs = np.array([[0.1, 0.62, 0.2, 0.08], [0.05, 0.7, 0.15, 0.1]], np.float32)
    result = SimpleNamespace(targets=[0, 0], predictions=[1, 1], probabilities=probs, class_names=names)
    gallery = ErrorGallery()
    qtbot.addWidget(gallery)
    gallery.show_cell(0, 1, result, np.zeros((2, 1, 8, 8), np.float32), None, [])
    metrics = gallery.list.fontMetrics()
    grid = gallery.list.gridSize()
    for i in range(gallery.list.count()):
        lines = gallery.list.item(i).text().split("\n")
        assert len(lines) == 4 and lines[1:] == sorted(lines[1:], key=lambda t: -int(t.split()[-1][:-1]))
        assert all(metrics.horizontalAdvance(line) < grid.width() for line in lines)
    assert grid.height() >= ICON_SIZE + 4 * metrics.lineSpacing()


def test_a_small_confusion_matrix_labels_its_rows_without_overlap(qtbot):
    import numpy as np
    from PySide6.QtGui import QFontMetrics

    from designer.training.confusion import ConfusionMatrixView

    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.set_matrix(np.arange(100).reshape(10, 10), tuple(str(i) for i in range(10)))
    for height in (150, 420):     # a 720-pixel window's bottom dock, and a roomy one
        view.resize(460, height)
        _left, _top, cell, _acc = view._layout()
        font, every = view.label_font(cell)
        assert QFontMetrics(font).height() <= cell * every + 1e-6
        assert view.grab().width() == 460             # paints without error
    assert every == 1 and font.pointSizeF() == view.font().pointSizeF()   # roomy: all labels, normal size
