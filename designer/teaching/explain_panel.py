"""The Explain dock: the selected layer explained in plain words and computed with its own numbers.

The explanation itself comes from engine.teaching.explain (plain data); this panel decides when to build it,
adds the probe image's activations and the last run's metrics from the training dashboard, and renders it.
Activations are computed only while the panel is visible, only for layers that show them, and after edits
have settled (the dashboard's EDIT_SETTLE_MS), never on every keystroke.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from designer.teaching.explain_context import ProbeActivations, build_context, needs_activations
from designer.teaching.explain_html import FIX_LINK, Colours, render
from designer.training.dashboard import EDIT_SETTLE_MS
from engine.teaching.explain import explain_network, explain_node
from engine.teaching.explain_block import explain_block


class ExplainPanel(QWidget):
    def __init__(self, document, training=None, state=None, parent=None):
        """`training` is the training dashboard (or None: the panel explains without probe images or runs);
        `state` the window's DesignState, whose `replaced` empties what was computed for the old design."""
        super().__init__(parent)
        self.document = document
        self.training = training
        self.node_id = ""
        self.block = ""   # a block explained as a unit (show_block)
        self.explanation = None
        self._dirty = True
        self._catching_up = False
        self._shown_node = None
        self._activations = ProbeActivations()
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.view.anchorClicked.connect(self._link_clicked)
        self.view.setObjectName("explain_view")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setMinimumWidth(280)
        self._settle = QTimer(self, singleShot=True, interval=EDIT_SETTLE_MS)
        self._settle.timeout.connect(self.refresh)
        document.analysis_changed.connect(self._document_changed)
        if state is not None:
            state.replaced.connect(self._design_replaced)
        if training is not None:
            self._follow(training)

    # ---- inputs ---------------------------------------------------------------------------------------
    def _follow(self, training) -> None:
        """Follow the dashboard's runs, data set and probe choice."""
        training.run_finished.connect(lambda *_: self.refresh())
        data = getattr(training, "data", None)
        if data is not None and hasattr(data, "dataset_loaded"):
            data.dataset_loaded.connect(lambda *_: self.refresh())
        maps = getattr(training, "feature_maps", None)
        for name in ("probe_index_changed", "probe_file_requested"):
            signal = getattr(maps, name, None)
            if signal is not None:
                signal.connect(lambda *_: self._settle.start())

    def _design_replaced(self, _identity: str) -> None:
        """Another design: nothing computed for the old one (probe activations, its node) is reused."""
        self._activations.clear()
        self.node_id = ""
        self._settle.stop()
        self.refresh()

    def show_block(self, scope: str) -> None:
        """Explain one use of a block as a unit (a collapsed block selected on the canvas)."""
        self.node_id, self.block = "", scope
        self._settle.stop()
        self.refresh()

    def show_node(self, node_id: str) -> None:
        """Explain `node_id` ('' shows the network overview)."""
        self.block = ""
        self.node_id = node_id if node_id and self.document.graph.has_node(node_id) else ""
        self._settle.stop()
        self.refresh()

    def _document_changed(self, _analysis) -> None:
        if self.node_id and not self.document.graph.has_node(self.node_id):
            self.node_id = ""
        if not self.on_screen():
            self._dirty = True
            return
        if self._wants_activations():
            self._settle.start()     # restarts on every edit: one forward pass once typing pauses
        else:
            self.refresh()

    def _wants_activations(self) -> bool:
        return bool(self.node_id) and needs_activations(self.document.graph.node(self.node_id).kind)

    # ---- output ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild and show the explanation now (deferred until the panel is on screen again)."""
        if not self.on_screen():
            self._dirty = True
            return
        self._dirty = False
        graph, analysis = self.document.graph, self.document.analysis
        if self.block and self.block in dict(graph.module_classes):
            self.explanation = explain_block(graph, analysis, self.block)
        elif self.node_id:
            context = build_context(self.training, graph, analysis, self.node_id, self._activations,
                                    self._wants_activations())
            self.explanation = explain_node(graph, analysis, self.node_id, context)
        else:
            self.explanation = explain_network(graph, analysis)
        self._show()

    def _show(self) -> None:
        bar = self.view.verticalScrollBar()
        keep = bar.value() if self._shown_node == self.node_id else 0   # an edit must not jump to the top
        self.view.setHtml(render(self.explanation, Colours.from_palette(self.palette())))
        bar.setValue(keep)
        self._shown_node = self.node_id

    def _link_clicked(self, url: QUrl) -> None:
        if url.toString() == FIX_LINK and self.explanation is not None and self.explanation.fix is not None:
            self.document.apply_fix(self.explanation.fix)

    def on_screen(self) -> bool:
        """Shown and not behind another dock's tab (Qt moves a tabbed-away dock off screen without hiding it)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def shown_again(self) -> None:
        """The dock or its tab came to the front: catch up with what changed meanwhile."""
        if self._dirty and not self._catching_up:
            self._catching_up = True   # show and visibilityChanged both arrive: one refresh
            QTimer.singleShot(0, self._catch_up)   # after the dock has its size: the HTML lays out once

    def _catch_up(self) -> None:
        self._catching_up = False
        if self._dirty:
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.shown_again()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange) \
                and self.explanation is not None:
            self._show()   # theme switch: same explanation, new colours


def install(window, state, training=None, inspector_dock=None) -> tuple:
    """Add the Explain dock (tabbed with `inspector_dock`) and its entry in the Learn menu; (panel, dock)."""
    panel = ExplainPanel(window.document, training, state, window)
    dock = window.add_dock(panel, "Explain", Qt.DockWidgetArea.RightDockWidgetArea, "dock_explain")
    if inspector_dock is not None:
        window.tabifyDockWidget(inspector_dock, dock)
        inspector_dock.raise_()

    action = QAction("Explain the selected layer", window)
    action.setObjectName("action_explain")
    action.setCheckable(True)
    action.setShortcut(QKeySequence("Ctrl+Shift+E"))
    action.setToolTip("Show the layer you selected explained with its own numbers")

    def toggled(checked: bool) -> None:
        # Open behind another tab counts as open: bring it to the front instead of closing it.
        if checked or not panel.on_screen() and not dock.isHidden():
            dock.show()
            dock.raise_()
            action.setChecked(True)
        else:
            dock.hide()

    action.triggered.connect(toggled)
    dock.visibilityChanged.connect(lambda _visible: action.setChecked(not dock.isHidden()))
    dock.visibilityChanged.connect(lambda visible: visible and panel.shown_again())
    action.setChecked(not dock.isHidden())
    window.menu("Learn").addAction(action)
    window.selection_changed.connect(panel.show_node)
    window.block_selected.connect(panel.show_block)
    panel.show_node(window.selected_node_id())
    return panel, dock
