"""The Convolution playground dock: step-by-step convolution, a real image's feature map, pooling, ReLU and
the transposed convolution, one tab each; `install(window)` adds it to the bottom dock area and to the Learn menu."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from designer.teaching.playground_conv_tab import ConvolutionTab
from designer.teaching.playground_image_tab import ImageTab
from designer.teaching.playground_pool_tab import PoolingTab
from designer.teaching.playground_relu_tab import ReluTab
from designer.teaching.playground_sources import example_source
from designer.teaching.playground_transposed_tab import TransposedTab

CONV_SOURCE, IMAGE_SOURCE = 0, 1


class PlaygroundPanel(QWidget):
    def __init__(self, training=None, parent=None):
        super().__init__(parent)
        self.conv = ConvolutionTab()
        self.image = ImageTab(training)
        providers = [
            ("Output of the Step-by-step tab", self.conv.output_map,
             "The Step-by-step tab has no output: its settings are impossible (see the message there)."),
            ("Feature map of the Real image tab", lambda: self.image.feature_map,
             "The Real image tab has no feature map yet: open it and choose an image and a kernel."),
            example_source(),
        ]
        self.pooling = PoolingTab(providers)
        self.relu = ReluTab(providers)
        self.transposed = TransposedTab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for tab, title in ((self.conv, "Step-by-step convolution"), (self.image, "Real image"),
                           (self.pooling, "Pooling"), (self.relu, "ReLU"), (self.transposed, "Transposed convolution")):
            self.tabs.addTab(tab, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.addWidget(self.tabs)
        for tab in (self.pooling, self.relu):
            self.conv.output_changed.connect(lambda tab=tab: tab.source_updated(CONV_SOURCE))
            self.image.map_changed.connect(lambda tab=tab: tab.source_updated(IMAGE_SOURCE))
        # Animations only run while someone can see them.
        self.tabs.currentChanged.connect(self._pause_hidden)

    def _pause_hidden(self, *_):
        for tab in (self.conv, self.pooling, self.transposed):
            if self.tabs.currentWidget() is not tab:
                tab.animator.pause()

    def hideEvent(self, event):
        super().hideEvent(event)
        for tab in (self.conv, self.pooling, self.transposed):
            tab.animator.pause()


def install(window, state, training=None, summary_dock=None) -> tuple:
    """Add the playground as a bottom dock, tabbed with `summary_dock` so the canvas keeps its height;
    (panel, dock)."""
    panel = PlaygroundPanel(training, window)
    dock = window.add_dock(panel, "Convolution playground", Qt.DockWidgetArea.BottomDockWidgetArea,
                           "dock_playground")
    if summary_dock is not None:  # a saved layout, restored after the panels are built, may move it elsewhere
        window.tabifyDockWidget(summary_dock, dock)
        summary_dock.raise_()
    # A new data set, a finished run, an edited or another design changes the images and filters on offer.
    refresh = lambda *_: panel.image.isVisible() and panel.image.update_sources()  # noqa: E731
    if training is not None:
        training.data.dataset_loaded.connect(refresh)
        training.run_finished.connect(refresh)
    window.document.analysis_changed.connect(refresh)
    state.replaced.connect(refresh)
    action = dock.toggleViewAction()
    action.setText("Convolution playground")
    action.setToolTip("Watch a convolution, pooling, ReLU and a transposed convolution compute step by step")
    window.menu("Learn").addAction(action)
    return panel, dock
