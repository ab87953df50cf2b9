"""The training curves' step axes: all three span the run, follow a zoom together, and the narrow
learning-rate plot gets few enough labels to read."""
from __future__ import annotations

from designer.training.curves import CurvesView, _nice_step
from engine.training.events import StepMetrics


def steps(view, n, total):
    for i in range(1, n + 1):
        view.add_event(StepMetrics(0, i, total, total, 2.0 / i, i / n, 0.01, 1000.0, 1.0, 1.0))


def test_the_step_axes_span_the_run_and_the_narrow_plot_has_few_labels(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1250, 300)
    view.show()
    steps(view, 300, 938)
    view.redraw()
    for plot in (view.loss_plot, view.acc_plot, view.lr_plot):
        low, high = plot.vb.viewRange()[0]
        assert low < 0 < 938 < high < 938 * 1.05
    labels = view.lr_plot.getAxis("bottom")._tickLevels[0]
    assert [text for _, text in labels] == ["0", "500"]
    # a zoom of one plot's steps moves the others with it
    view.acc_plot.vb.setXRange(100, 200, padding=0)
    view._follow_user_zoom(view.acc_plot)
    assert all(abs(p.vb.viewRange()[0][0] - 100) < 1e-6 for p in (view.loss_plot, view.lr_plot))


def test_nice_steps():
    assert [_nice_step(v) for v in (0.3, 1, 1.5, 3, 7, 375, 4000)] == [0.5, 1, 2, 5, 10, 500, 5000]


def test_redrawing_in_parts_ends_with_every_plot_drawn(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.show()
    steps(view, 50, 100)
    with qtbot.waitSignal(view.redrawn, timeout=5000):
        view.redraw_in_parts()
    assert len(view.train_loss.getData()[0]) == len(view.train_acc.getData()[0]) == len(view.lr_curve.getData()[0]) == 50
