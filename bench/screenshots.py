"""Take the README's screenshots: python bench/screenshots.py WIDTHxHEIGHT THEME LAYOUT OUT.png

LAYOUT is design, train (after a short real run on generated digits, conv2d_1 selected; $SHOT_TAB brings a
tab of the feature-maps dock to the front), learn (lesson 1 open) or teach (the Learn layout with Explain on
conv2d_1 and the convolution playground). Settings go to a fresh folder, so the shots show the app as a new user sees it. Not a benchmark:
it lives here because it is a tool for the repository, not part of the test suite.
"""
from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("CNN_DESIGNER_SETTINGS_DIR", tempfile.mkdtemp(prefix="cnn-shots-"))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDockWidget  # noqa: E402


def main(size: str, theme_name: str, layout: str, out: str) -> None:
    app = QApplication(sys.argv[:1])
    from designer import window_actions
    from designer.main_window import MainWindow
    from engine.data import load_dataset

    window = MainWindow()
    window_actions.set_theme(window, theme_name)
    width, height = (int(v) for v in size.split("x"))
    window.resize(width, height)
    window.show()
    window.workspace.reset()   # the layout's default for this size (it was first arranged at the start-up size)

    def grab():
        window.grab().save(out)
        app.quit()

    def show_tab():
        """$SHOT_TAB (Feature maps, Filters, Results, Runs): that tab of the insight dock in front."""
        name = os.environ.get("SHOT_TAB", "")
        tabs = window.training.insight
        for i in range(tabs.count()):
            if tabs.tabText(i) == name:
                window.findChild(QDockWidget, "dock_training_insight").raise_()
                tabs.setCurrentIndex(i)

    def start():
        if layout == "teach":
            window.workspace.switch_to("learn")
            window.select_node("conv2d_1")
            for name in ("dock_explain", "dock_playground"):
                dock = window.findChild(QDockWidget, name)
                dock.show()
                dock.raise_()
            QTimer.singleShot(8000, grab)   # the data set loads in the background: wait for the probe image
        elif layout == "learn":
            window.lessons_panel.open_lesson(window.lessons_panel.lessons[0].id)
            QTimer.singleShot(1500, grab)
        elif layout == "train":
            dash = window.training
            dash.data.set_dataset(load_dataset("generated_digits", size=1200, seed=1))
            dash.form.epochs.setValue(3)
            dash.run_finished.connect(lambda *_: (window.select_node("conv2d_1"), show_tab(),
                                                  QTimer.singleShot(2500, grab)))
            dash.start()
        else:
            window.workspace.switch_to("design")
            window.select_node("conv2d_1")
            QTimer.singleShot(800, grab)

    QTimer.singleShot(1500, start)
    app.exec()


if __name__ == "__main__":
    main(*sys.argv[1:5])
