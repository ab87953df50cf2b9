"""MainWindow: the canvas in the centre, dockable panels around it, menus, toolbar and status bar.

The window composes itself: it builds the GraphDocument and the DesignState (what belongs to the open
design beyond its graph), then every panel, handing each the document, the state and the other panels it
uses. No panel looks another up through the window's attributes; the attributes set here (`training`,
`lessons_panel`, ...) are the window's own handles on its parts. Panels use the public methods here
(`menu`, `add_dock`, `show_status`, `selected_node_id`, ...) to place themselves.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from designer import theme
from designer.canvas.node_item import NODE_HEIGHT, NODE_WIDTH
from designer.canvas.scene import GraphScene
from designer.canvas.view import GraphView
from designer.clipboard import ClipboardController
from designer.design_state import DesignState
from designer.document import GraphDocument
from designer.file_controller import FileController
from designer.graph_edits import free_position
from designer.inspector import Inspector
from designer.memory_limit_setting import install as install_memory_limit
from designer.messages_panel import MessagesPanel
from designer.palette import Palette
from designer.settings import make_settings
from designer.status_totals import StatusTotals
from designer.summary_panel import SummaryPanel
from designer import block_actions
from designer.window_actions import build_actions
from designer.workspace import install as install_workspace
from engine.templates import DEFAULT_TEMPLATE, load_template

MENU_ORDER = ("File", "Edit", "View", "Train", "Learn", "Help")


class MainWindow(QMainWindow):
    selection_changed = Signal(str)
    block_selected = Signal(str)   # one collapsed block selected on the canvas: its path
    about_to_close = Signal()

    def __init__(self, graph=None, parent=None, with_panels: bool = True):
        """`with_panels=False` leaves out training, import/export and teaching (the canvas benchmark)."""
        super().__init__(parent)
        self._settings = make_settings()
        theme.apply_theme(str(self._settings.value("appearance/theme", "light")))
        self.setObjectName("MainWindow")
        self._size_to_screen()
        self.setAcceptDrops(True)
        self.document = GraphDocument(graph if graph is not None else load_template(DEFAULT_TEMPLATE), self)
        self.scene = GraphScene(self.document, self)
        self.canvas = GraphView(self.scene, self)
        self.setCentralWidget(self.canvas)
        self._menus: dict = {}
        self._last_selection = ""
        self.toolbar = self.addToolBar("Main")
        self.toolbar.setObjectName("toolbar_main")
        self.state = DesignState(self.document, parent=self)
        self.files = FileController(self, self.state)
        self.clipboard = ClipboardController(self)
        self._build_docks()
        self.actions_ = build_actions(self)
        block_actions.install(self, self.actions_)
        install_memory_limit(self)
        self.totals = StatusTotals(self.statusBar(), self.document, self)
        self.scene.status_message.connect(self.show_status)
        self.scene.files_dropped.connect(self.files.open_dropped)
        self.scene.selectionChanged.connect(self._on_scene_selection)
        self.document.selection_requested.connect(self._select_later)
        self.document.file_path_changed.connect(self._update_title)
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self._update_title()
        if with_panels:
            self._build_panels()
        self._restore_layout()
        self.workspace = install_workspace(self)  # Design / Train / Learn layouts; after every dock exists
        QTimer.singleShot(0, self.canvas.show_design)

    # ---- public API for panels and installers --------------------------------------------------
    def settings(self):
        return self._settings

    def menu(self, name: str) -> QMenu:
        """The top-level menu called `name`, created (in the usual order) when missing."""
        if name in self._menus:
            return self._menus[name]
        menu = QMenu(f"&{name}", self)
        menu.setObjectName(f"menu_{name.lower()}")
        later = [self._menus[n] for n in MENU_ORDER[MENU_ORDER.index(name) + 1:] if n in self._menus] \
            if name in MENU_ORDER else [self._menus[n] for n in ("Help",) if n in self._menus]
        if later:
            self.menuBar().insertMenu(later[0].menuAction(), menu)
        else:
            self.menuBar().addMenu(menu)
        self._menus[name] = menu
        return menu

    def file_export_menu(self) -> QMenu:
        return self.files.export_menu

    def file_import_menu(self) -> QMenu:
        return self.files.import_menu

    def add_dock(self, widget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea, object_name: str = ""):
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if "View" in self._menus and hasattr(self, "panels_menu"):
            self.panels_menu.addAction(dock.toggleViewAction())
        if getattr(self, "_layout_restored", False):
            self.restoreDockWidget(dock)  # a dock added later still gets its saved place
        return dock

    def show_status(self, text: str, ms: int = 4000) -> None:
        self.statusBar().showMessage(text, ms)

    def selected_node_id(self) -> str:
        ids = self.scene.selected_node_ids()
        return ids[0] if len(ids) == 1 else ""

    def select_node(self, node_id: str) -> None:
        item = self.scene.node_items.get(node_id)
        if item is not None:
            self.scene.select_nodes([node_id])
            self.canvas.center_on_node(item)

    def add_kind_at_center(self, kind: str) -> str:
        """Palette double-click: add the layer in the middle of the visible canvas."""
        c = self.canvas.visible_center()
        pos = free_position(self.document.graph, (c.x() - NODE_WIDTH / 2, c.y() - NODE_HEIGHT / 2),
                            (NODE_WIDTH, NODE_HEIGHT))
        return self.document.add_node(kind, pos)

    def _list_design_blocks(self) -> None:
        """The palette lists the open design's block classes (with how often each is used)."""
        from collections import Counter

        self.palette.set_design_blocks(Counter(cls for _, cls in self.document.graph.module_classes))

    # ---- internals -------------------------------------------------------------------------------
    def _build_docks(self):
        self.palette = Palette(self)
        self.inspector = Inspector(self.document, self)
        self.summary = SummaryPanel(self.document, self)
        self.messages = MessagesPanel(self.document, self)
        self.palette_dock = self.add_dock(self.palette, "Layers", Qt.DockWidgetArea.LeftDockWidgetArea, "dock_palette")
        self.inspector_dock = self.add_dock(self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea,
                                            "dock_inspector")
        self.summary_dock = self.add_dock(self.summary, "Summary", Qt.DockWidgetArea.BottomDockWidgetArea,
                                          "dock_summary")
        self.messages_dock = self.add_dock(self.messages, "Messages", Qt.DockWidgetArea.BottomDockWidgetArea,
                                           "dock_messages")
        self.messages.setMinimumWidth(220)  # other bottom panels must not squeeze the messages unreadable
        self.summary.setMinimumWidth(360)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [220, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.summary_dock], [210], Qt.Orientation.Vertical)
        self.selection_changed.connect(self.inspector.show_node)
        self.selection_changed.connect(self.summary.select_node)
        self.summary.node_clicked.connect(self.select_node)
        self.messages.node_clicked.connect(self.select_node)
        self.palette.add_requested.connect(self.add_kind_at_center)
        self.palette.block_requested.connect(lambda ref: self.scene.drop_block(ref, self.canvas.visible_center()))
        self.document.graph_changed.connect(self._list_design_blocks)
        self._list_design_blocks()

    def _build_panels(self):
        """Training, import/export and teaching, in the order they depend on each other (each gets what it
        uses as arguments, so the order is visible here and nothing depends on which module loaded first)."""
        from designer.interchange import actions as interchange
        from designer.teaching import explain_panel, lessons_panel, playground_panel
        from designer.training import install as training

        state = self.state
        self.training = training.install(self, state, self.inspector_dock, self.summary_dock, self.messages_dock)
        self.interchange = interchange.install(self, state, self.training)
        self.files.register_format(".cnnd", interchange.read_bundle_design, self.interchange.save_project)
        self.explain_panel, self.explain_dock = explain_panel.install(self, state, self.training,
                                                                      self.inspector_dock)
        self.playground, self.playground_dock = playground_panel.install(self, state, self.training,
                                                                         self.summary_dock)
        self.lessons_panel, self.lessons_dock = lessons_panel.install(
            self, state, self.training, {"explain": self.explain_panel, "playground": self.playground},
            self.inspector_dock)

    def _size_to_screen(self):
        """First start: 1400×860, or 90% of a larger screen (the canvas needs the room)."""
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        width = max(1400, int(area.width() * 0.9)) if area is not None else 1400
        height = max(860, int(area.height() * 0.9)) if area is not None else 860
        self.resize(width, height)

    def _restore_layout(self):
        geometry = self._settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self._settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        self._layout_restored = True

    def _save_layout(self):
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("window/state", self.saveState())
        self._settings.sync()

    def _on_scene_selection(self):
        if self.scene.signalsBlocked():
            return
        current = self.selected_node_id()
        block = self.scene.selected_blocks()
        if len(block) == 1 and len(self.scene.selectedItems()) == 1:
            current = f"block:{block[0]}"
        if current != self._last_selection:
            self._last_selection = current
            if current.startswith("block:"):
                self.selection_changed.emit("")
                self.block_selected.emit(block[0])
            else:
                self.selection_changed.emit(current)

    def _select_later(self, node_ids):
        self.scene.select_nodes(node_ids)

    def _update_title(self, *_):
        self.setWindowTitle(f"{self.document.display_name()}[*] — CNN Designer")
        self.setWindowModified(self.document.modified)

    # ---- window events ---------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files.open_dropped(paths)

    def closeEvent(self, event):
        if not self.files.maybe_save():
            event.ignore()
            return
        self.about_to_close.emit()
        self._save_layout()
        self.files.discard_recovery()
        event.accept()
