"""Wire the training dashboard into the main window: docks, the Train menu, toolbar buttons, selection,
and a clean stop when the window closes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from designer.training.dashboard import TrainingDashboard


def install(window, state, inspector_dock=None, summary_dock=None, messages_dock=None) -> TrainingDashboard:
    """Build the dashboard for the window's DesignState and add its docks: the settings tabbed with
    `inspector_dock`, curves with `summary_dock`, feature maps and runs with `messages_dock` (each optional)."""
    dash = TrainingDashboard(window.document, parent=window, state=state)
    right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    settings_dock = window.add_dock(dash.settings_panel, "Training", right, "dock_training")
    curves_dock = window.add_dock(dash.curves, "Training curves", bottom, "dock_training_curves")
    insight_dock = window.add_dock(dash.insight, "Feature maps, results and runs", bottom, "dock_training_insight")
    if inspector_dock is not None:
        window.tabifyDockWidget(inspector_dock, settings_dock)
        inspector_dock.raise_()
    window.splitDockWidget(curves_dock, insight_dock, Qt.Orientation.Horizontal)
    # Share the bottom area with the summary and messages as tabs, so curves and feature maps get the
    # full width; a run brings them to the front.
    for other, mine in ((summary_dock, curves_dock), (messages_dock, insight_dock)):
        if other is not None:
            window.tabifyDockWidget(other, mine)
    window.resizeDocks([curves_dock, insight_dock], [330, 330], Qt.Orientation.Vertical)

    def bring_forward(running):
        if running:
            curves_dock.raise_()
            insight_dock.raise_()

    dash.controller.running_changed.connect(bring_forward)

    menu = window.menu("Train")
    start = QAction("Start training", window)
    start.setShortcut(QKeySequence("F5"))
    start.triggered.connect(lambda: (settings_dock.show(), settings_dock.raise_(), dash.start()))
    pause = QAction("Pause / Resume", window)
    pause.setShortcut(QKeySequence("F6"))
    pause.triggered.connect(lambda: dash.controller.running and dash.toggle_pause())
    stop = QAction("Stop", window)
    stop.setShortcut(QKeySequence("Shift+F5"))
    stop.triggered.connect(dash.stop)
    evaluate = QAction("Evaluate current weights", window)
    evaluate.triggered.connect(dash.evaluate_current)
    for action in (start, pause, stop):
        menu.addAction(action)
    menu.addSeparator()
    menu.addAction(evaluate)
    for dock in (settings_dock, curves_dock, insight_dock):
        menu.addAction(dock.toggleViewAction())

    def running_changed(running):
        start.setEnabled(not running)
        pause.setEnabled(running)
        stop.setEnabled(running)

    dash.controller.running_changed.connect(running_changed)
    running_changed(False)
    window.toolbar.addSeparator()
    window.toolbar.addAction(start)
    window.toolbar.addAction(stop)

    dash.status.connect(lambda text: window.show_status(text, 6000))
    window.selection_changed.connect(dash.set_selected_node)
    # first stop a data-set load (closing would otherwise wait until the set is generated), then shut down
    window.about_to_close.connect(dash.data.cancel)
    window.about_to_close.connect(dash.shutdown)
    return dash
