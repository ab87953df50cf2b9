"""Workspace layouts: Design, Train and Learn, each a dock arrangement that leaves the canvas the room.

A newcomer sees three labelled buttons in the toolbar (and Alt+1..3, View → Layout). Each layout starts
from a default arrangement; whatever the user then moves or resizes is remembered per layout (QSettings,
`QMainWindow.saveState`) and "Reset Layout" brings the default back. F11 (or Ctrl+Shift+F) shows the canvas
alone and brings everything back on the second press.

The docks are found by their object names, so this module works with whatever panels the window built.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QToolBar

Area = Qt.DockWidgetArea


@dataclass(frozen=True)
class Arrangement:
    """Where the docks go. Each tuple of names is one group of tabbed docks, its first one in front;
    docks of the window that no group names are hidden (View → Panels shows them in their home area)."""
    label: str
    key: str
    tip: str
    left: tuple = ()
    right: tuple = ()
    right_below: tuple = ()          # a second group under `right`, in the same column
    bottom: tuple = ()               # groups under the canvas: side by side if the window is wide, else tabs
    tall_bottom: tuple = ()          # the bottom groups in a window at least TALL pixels high
    left_width: int = 190            # pixels
    right_width: float = 0.24        # of the window's width, between MIN_SIDE and MAX_SIDE pixels
    right_below_height: float = 0.2  # of the window's height: Messages needs a few lines, the inspector more
    bottom_height: float = 0.0       # of the window's height


MIN_SIDE, MAX_SIDE = 290, 440
WIDE = 1800   # from this window width, bottom groups sit side by side (narrower, three curve plots get cramped)
TALL = 900    # from this window height, Design has room for the Summary table under the canvas
RIGHT_TABS = ("dock_inspector", "dock_training", "dock_explain", "dock_lessons")
LEFT_DOCKS = ("dock_palette",)

# The canvas keeps at least half the window in Design and a third in the others at 1280×720
# (tests/gui/test_workspace.py measures it). So Design leaves the bottom free; the Summary, a wide table,
# is a bottom tab in Train; Learn trades the palette's column (a tab beside the lesson) for the curves,
# feature maps and runs that the lessons' steps ask the student to look at.
LAYOUTS = {
    "design": Arrangement(
        "Design", "Alt+1", "Build the network: layers palette, inspector and messages around a large canvas",
        left=("dock_palette",), right=RIGHT_TABS, right_below=("dock_messages",),
        tall_bottom=(("dock_summary",),), bottom_height=0.2),
    "train": Arrangement(
        "Train", "Alt+2", "Train and compare: training settings, curves, feature maps, results and runs",
        right=("dock_training", "dock_inspector", "dock_explain", "dock_lessons"),
        bottom=(("dock_training_curves", "dock_summary"), ("dock_training_insight", "dock_messages")),
        right_width=0.24, bottom_height=0.38),
    "learn": Arrangement(
        "Learn", "Alt+3", "Follow a lesson: its checklist beside the canvas, curves, feature maps and runs below",
        right=("dock_lessons", "dock_palette", "dock_explain", "dock_inspector", "dock_training"),
        bottom=(("dock_training_curves", "dock_messages"), ("dock_training_insight",)),
        right_width=0.3, bottom_height=0.33),
}
DEFAULT_MODE = "design"
FULL_CANVAS_KEYS = ("F11", "Ctrl+Shift+F")
SETTINGS_MODE = "workspace/mode"


def settings_key(mode: str) -> str:
    return f"workspace/state_{mode}"


class Workspace(QObject):
    """Owns the layout switching of one main window."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.mode = ""
        self._full_canvas_state = None   # the window's state before Full Canvas, to go back to
        # side columns take the full height: the canvas and bottom panels share what is between them
        for corner, area in ((Qt.Corner.TopLeftCorner, Area.LeftDockWidgetArea),
                             (Qt.Corner.BottomLeftCorner, Area.LeftDockWidgetArea),
                             (Qt.Corner.TopRightCorner, Area.RightDockWidgetArea),
                             (Qt.Corner.BottomRightCorner, Area.RightDockWidgetArea)):
            window.setCorner(corner, area)
        self._build_actions()
        window.about_to_close.connect(self.remember)
        self._connect_panels()
        saved = str(window.settings().value(SETTINGS_MODE, DEFAULT_MODE))
        self.switch_to(saved if saved in LAYOUTS else DEFAULT_MODE, remember_current=False)

    # ---- actions ---------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.window
        self.toolbar = QToolBar("Layout", w)
        self.toolbar.setObjectName("toolbar_layout")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        w.addToolBar(self.toolbar)
        self.group = QActionGroup(self)
        self.mode_actions: dict = {}
        menu = w.menu("View").addMenu("&Layout")
        menu.setObjectName("menu_layout")
        for mode, layout in LAYOUTS.items():
            action = QAction(layout.label, w)
            action.setObjectName(f"action_layout_{mode}")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(layout.key))
            action.setToolTip(f"{layout.tip} ({layout.key})")
            action.setStatusTip(layout.tip)
            action.triggered.connect(lambda _=False, m=mode: self.switch_to(m))
            self.group.addAction(action)
            self.toolbar.addAction(action)
            menu.addAction(action)
            w.addAction(action)   # the key works with the toolbar hidden too
            self.mode_actions[mode] = action
        menu.addSeparator()
        self.reset_action = QAction("&Reset Layout", w)
        self.reset_action.setObjectName("action_layout_reset")
        self.reset_action.setStatusTip("Put this layout's panels back where they started")
        self.reset_action.triggered.connect(self.reset)
        menu.addAction(self.reset_action)
        self.full_canvas_action = QAction("&Canvas Only", w)
        self.full_canvas_action.setObjectName("action_full_canvas")
        self.full_canvas_action.setCheckable(True)
        self.full_canvas_action.setShortcuts([QKeySequence(k) for k in FULL_CANVAS_KEYS])
        self.full_canvas_action.setToolTip("Hide every panel and toolbar to give the canvas the whole window; "
                                           f"{FULL_CANVAS_KEYS[0]} again brings them back")
        self.full_canvas_action.toggled.connect(self.set_full_canvas)
        menu.addAction(self.full_canvas_action)
        w.addAction(self.full_canvas_action)

    def _connect_panels(self) -> None:
        """Opening a lesson shows the Learn layout; starting a run from Design shows Train (its curves are
        hidden in Design, so a run would otherwise seem to do nothing). Someone who went back to Design
        during a run is left there: the switch happens only when a run starts."""
        lessons = self.dock("dock_lessons")
        panel = lessons.widget() if lessons is not None else None
        if panel is not None and hasattr(panel, "lesson_opened"):
            panel.lesson_opened.connect(lambda *_: self.switch_to("learn"))
        training = getattr(self.window, "training", None)
        controller = getattr(training, "controller", None)
        if controller is not None and hasattr(controller, "running_changed"):
            controller.running_changed.connect(self._running_changed)

    def _running_changed(self, running: bool) -> None:
        if running and self.mode == "design" and not self.full_canvas:
            self.switch_to("train")
        curves, insight = self.dock("dock_training_curves"), self.dock("dock_training_insight")
        if running and curves is not None and insight in self.window.tabifiedDockWidgets(curves):
            curves.raise_()   # sharing one group of tabs on a small screen: a starting run shows its curves

    # ---- switching -------------------------------------------------------------------------------
    def dock(self, name: str):
        return self.window.findChild(QDockWidget, name)

    def docks(self) -> list:
        return [d for d in self.window.findChildren(QDockWidget) if d.parent() is self.window]

    @property
    def full_canvas(self) -> bool:
        return self._full_canvas_state is not None

    def switch_to(self, mode: str, remember_current: bool = True) -> None:
        """Show `mode`'s layout: as the user left it last time, else its default."""
        if mode not in LAYOUTS:
            raise ValueError(f"unknown layout {mode!r}; choose one of {', '.join(LAYOUTS)}")
        self.full_canvas_action.setChecked(False)
        if mode == self.mode:
            return
        if remember_current and self.mode:
            self.remember()
        self.mode = mode
        self.mode_actions[mode].setChecked(True)
        self.window.settings().setValue(SETTINGS_MODE, mode)
        state = self.window.settings().value(settings_key(mode))
        if state is None or not self.window.restoreState(state):
            self.apply_default(mode)

    def remember(self) -> None:
        """Store the current layout's arrangement (the one under Canvas Only, if that is on)."""
        if not self.mode:
            return
        state = self._full_canvas_state if self.full_canvas else self.window.saveState()
        self.window.settings().setValue(settings_key(self.mode), state)

    def reset(self) -> None:
        """Forget what the user changed in this layout and show its default."""
        self.full_canvas_action.setChecked(False)
        self.window.settings().remove(settings_key(self.mode))
        self.apply_default(self.mode)

    def apply_default(self, mode: str) -> None:
        """Arrange the docks as `mode` starts out: every dock taken out, then put back group by group."""
        layout = LAYOUTS[mode]
        w = self.window
        for toolbar in w.findChildren(QToolBar):
            toolbar.setVisible(True)
        docks_all = self.docks()
        for dock in docks_all:
            dock.setFloating(False)
            w.removeDockWidget(dock)
        bottom_groups = layout.bottom or (layout.tall_bottom if w.height() >= TALL else ())
        if bottom_groups and w.width() < WIDE:   # too narrow to share: one group of tabs
            bottom_groups = (sum(bottom_groups, ()),)
        # Every group's first dock goes in place (split beside its neighbour) before any tabs join:
        # Qt adds a dock split beside one that already has tabs as one more tab instead.
        groups = [(layout.left, Area.LeftDockWidgetArea, None), (layout.right, Area.RightDockWidgetArea, None),
                  (layout.right_below, Area.RightDockWidgetArea, ("right", Qt.Orientation.Vertical))]
        groups += [(group, Area.BottomDockWidgetArea, ("bottom", Qt.Orientation.Horizontal) if i else None)
                   for i, group in enumerate(bottom_groups)]
        heads, members, last = [], [], {}
        for names, area, beside in groups:
            docks = [d for d in (self.dock(n) for n in names) if d is not None]
            head = docks[0] if docks else None
            if head is not None:
                w.addDockWidget(area, head)
                neighbour = last.get(beside[0]) if beside else None
                if neighbour is not None:
                    w.splitDockWidget(neighbour, head, beside[1])
                members.append(docks)
            heads.append(head)
            key = "right" if area == Area.RightDockWidgetArea else "bottom" if area == Area.BottomDockWidgetArea \
                else "left"
            if head is not None:
                last[key] = head
        fronts: dict = {}   # area -> the first group's front dock there, where hidden docks wait
        for docks in members:
            for other in docks[1:]:
                w.tabifyDockWidget(docks[0], other)
            for dock in docks:
                dock.show()
            fronts.setdefault(w.dockWidgetArea(docks[0]), docks[0])
        placed = set(layout.left + layout.right + layout.right_below + sum(bottom_groups, ()))
        for dock in docks_all:
            if dock.objectName() not in placed:
                self._park(dock, fronts)
        for head in heads:
            if head is not None:
                head.raise_()
        left, right, below = heads[:3]
        bottoms = [h for h in heads[3:] if h is not None]
        sizes = (left, right, below, bottoms, layout)
        self._resize_docks(sizes)
        # the first layout is applied before the window has its final size: size the docks again then
        QTimer.singleShot(0, lambda: self.mode == mode and not self.full_canvas and self._resize_docks(sizes))

    def _park(self, dock, fronts: dict) -> None:
        """A dock this layout does not show: hidden, as a tab of its home area's group when it has one, so
        that View → Panels brings it back beside its kind rather than in a random new column."""
        name = dock.objectName()
        area = Area.LeftDockWidgetArea if name in LEFT_DOCKS else \
            Area.RightDockWidgetArea if name in RIGHT_TABS else Area.BottomDockWidgetArea
        if area in fronts:
            self.window.tabifyDockWidget(fronts[area], dock)
        else:
            self.window.addDockWidget(area, dock)
            fronts[area] = dock
        dock.hide()

    def _resize_docks(self, sizes) -> None:
        left, right, below, bottoms, layout = sizes
        w = self.window
        if left is not None:
            w.resizeDocks([left], [layout.left_width], Qt.Orientation.Horizontal)
        if right is not None:
            width = min(MAX_SIDE, max(MIN_SIDE, int(w.width() * layout.right_width)))
            w.resizeDocks([right], [width], Qt.Orientation.Horizontal)
        if below is not None:
            w.resizeDocks([below], [int(w.height() * layout.right_below_height)], Qt.Orientation.Vertical)
        if bottoms:
            w.resizeDocks(bottoms[:1], [int(w.height() * layout.bottom_height)], Qt.Orientation.Vertical)
            if len(bottoms) > 1:
                share = w.centralWidget().width() // len(bottoms) if w.centralWidget() else 400
                w.resizeDocks(bottoms, [share] * len(bottoms), Qt.Orientation.Horizontal)

    # ---- canvas only -----------------------------------------------------------------------------
    def set_full_canvas(self, on: bool) -> None:
        """Hide every dock and toolbar (on) or bring back exactly what was there (off)."""
        w = self.window
        if on == self.full_canvas:
            return
        if on:
            self._full_canvas_state = w.saveState()
            for dock in self.docks():
                dock.hide()
            for toolbar in w.findChildren(QToolBar):
                toolbar.hide()
            w.show_status(f"Canvas only: press {FULL_CANVAS_KEYS[0]} to bring the panels back.", 6000)
        else:
            state, self._full_canvas_state = self._full_canvas_state, None
            w.restoreState(state)
        if self.full_canvas_action.isChecked() != on:
            self.full_canvas_action.setChecked(on)


def install(window) -> Workspace:
    """Give `window` its layouts; call once every dock exists."""
    return Workspace(window)
