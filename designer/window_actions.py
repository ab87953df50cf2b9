"""Menus, toolbar and keyboard shortcuts of the main window."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QStyle

from designer import theme

Key = QKeySequence.StandardKey


def build_actions(window) -> dict:
    """Create every action, put them in the menus and the toolbar; return them by name."""
    doc, files, clip, view = window.document, window.files, window.clipboard, window.canvas
    style = window.style()
    acts: dict = {}

    def act(name, text, slot, shortcut=None, tip="", icon=None):
        a = QAction(text, window)
        a.setObjectName(f"action_{name}")
        if shortcut is not None:
            a.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey)
                           else [QKeySequence(shortcut)])
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        if icon is not None:
            a.setIcon(style.standardIcon(icon))
        a.triggered.connect(lambda checked=False: slot())
        acts[name] = a
        return a

    sp = QStyle.StandardPixmap
    act("new", "&New…", files.new_design, Key.New, "Start a new design: blank or from a template", sp.SP_FileIcon)
    act("new_window", "New &Window", lambda: _new_window(window), "Ctrl+Shift+N", "Open another designer window")
    act("open", "&Open…", files.open, Key.Open, "Open a design file", sp.SP_DialogOpenButton)
    act("save", "&Save", files.save, Key.Save, "Save the design", sp.SP_DialogSaveButton)
    act("save_as", "Save &As…", files.save_as, Key.SaveAs, "Save the design under a new name")
    act("close", "&Close Window", window.close, Key.Close)
    act("quit", "&Quit", _quit, Key.Quit)
    undo = doc.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcuts(QKeySequence.keyBindings(Key.Undo))
    redo = doc.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcuts(QKeySequence.keyBindings(Key.Redo) or [QKeySequence("Ctrl+Shift+Z")])
    acts["undo"], acts["redo"] = undo, redo
    act("cut", "Cu&t", clip.cut, Key.Cut, "Cut the selected layers")
    act("copy", "&Copy", clip.copy, Key.Copy, "Copy the selected layers")
    act("paste", "&Paste", clip.paste, Key.Paste, "Paste layers")
    act("duplicate", "D&uplicate", clip.duplicate, "Ctrl+D", "Duplicate the selected layers")
    act("delete", "&Delete", lambda: doc.remove(window.scene.selected_node_ids(), window.scene.selected_edges()),
        Key.Delete, "Delete the selected layers and connections", sp.SP_TrashIcon)
    acts["delete"].setShortcuts([QKeySequence(Key.Delete), QKeySequence("Backspace")])
    act("select_all", "Select &All", lambda: _select_all(window), Key.SelectAll)
    act("zoom_in", "Zoom &In", view.zoom_in, Key.ZoomIn)
    acts["zoom_in"].setShortcuts([QKeySequence(Key.ZoomIn), QKeySequence("Ctrl+=")])
    act("zoom_out", "Zoom &Out", view.zoom_out, Key.ZoomOut)
    act("zoom_reset", "&Actual Size", view.reset_zoom, "Ctrl+0")
    act("fit", "&Fit to Window", view.fit_all, "Ctrl+1", "Show the whole design")
    act("auto_layout", "Auto-&layout", lambda: (doc.auto_layout(), view.show_design()), "Ctrl+L",
        "Arrange the layers in columns from Input to Output", sp.SP_BrowserReload)

    file_menu = window.menu("File")
    for name in ("new", "new_window", "open"):
        file_menu.addAction(acts[name])
    file_menu.addMenu(files.recent_menu)
    file_menu.addSeparator()
    file_menu.addAction(acts["save"])
    file_menu.addAction(acts["save_as"])
    file_menu.addSeparator()
    file_menu.addMenu(files.import_menu)
    file_menu.addMenu(files.export_menu)
    file_menu.addSeparator()
    file_menu.addAction(acts["close"])
    file_menu.addAction(acts["quit"])

    edit_menu = window.menu("Edit")
    for name in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "select_all"):
        edit_menu.addSeparator() if name is None else edit_menu.addAction(acts[name])

    view_menu = window.menu("View")
    for name in ("zoom_in", "zoom_out", "zoom_reset", "fit", None, "auto_layout"):
        view_menu.addSeparator() if name is None else view_menu.addAction(acts[name])
    view_menu.addSeparator()
    theme_menu = view_menu.addMenu("&Theme")
    group = QActionGroup(window)
    for name in theme.THEMES:
        a = theme_menu.addAction(name.capitalize())
        a.setObjectName(f"action_theme_{name}")
        a.setCheckable(True)
        a.setChecked(theme.current_theme() == name)
        a.triggered.connect(lambda checked=False, n=name: set_theme(window, n))
        group.addAction(a)
        acts[f"theme_{name}"] = a
    window.panels_menu = view_menu.addMenu("&Panels")
    for dock in (window.palette_dock, window.inspector_dock, window.summary_dock, window.messages_dock):
        window.panels_menu.addAction(dock.toggleViewAction())

    help_menu = window.menu("Help")
    help_menu.addAction("&Keyboard and mouse", lambda: _show_help(window))

    tb = window.toolbar
    for name in ("new", "open", "save", None, "undo", "redo", None, "delete", None, "fit", "auto_layout"):
        tb.addSeparator() if name is None else tb.addAction(acts[name])

    window.scene.node_menu_actions = [acts["cut"], acts["copy"], acts["duplicate"], None, acts["delete"]]
    window.scene.background_menu_actions = [acts["paste"], acts["select_all"], None, acts["auto_layout"],
                                            acts["fit"]]
    for a in acts.values():
        window.addAction(a)  # shortcuts work even when the menu bar is hidden
    _set_line_icons(window, acts)
    return acts


# Icons the style draws as dark lines: redrawn in the theme's text colour whenever the theme changes.
LINE_ICONS = {"undo": QStyle.StandardPixmap.SP_ArrowBack, "redo": QStyle.StandardPixmap.SP_ArrowForward,
              "fit": QStyle.StandardPixmap.SP_TitleBarMaxButton}


def _set_line_icons(window, acts) -> None:
    for name, pixmap in LINE_ICONS.items():
        acts[name].setIcon(theme.line_icon(window.style(), pixmap))


def set_theme(window, name: str) -> None:
    """The theme is the whole application's: every open designer window is redrawn in it."""
    from PySide6.QtWidgets import QApplication

    applied = theme.apply_theme(name)
    window.settings().setValue("appearance/theme", applied)
    windows = [w for w in QApplication.topLevelWidgets() if hasattr(w, "actions_") and hasattr(w, "scene")]
    for each in windows or [window]:
        _set_line_icons(each, each.actions_)
        for key, action in each.actions_.items():
            if key.startswith("theme_"):
                action.setChecked(key == f"theme_{applied}")
        for item in each.scene.items():
            item.update()
        each.scene.invalidate()
        each.canvas.viewport().update()


def _select_all(window):
    for item in window.scene.node_items.values():
        item.setSelected(True)


_OPEN_WINDOWS: set = set()  # keeps extra windows alive (Python would otherwise collect them)


def _new_window(window):
    from PySide6.QtCore import Qt

    from designer.main_window import MainWindow

    other = MainWindow()
    other.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _OPEN_WINDOWS.add(other)
    other.destroyed.connect(lambda *_: _OPEN_WINDOWS.discard(other))
    other.show()


def _quit():
    from PySide6.QtWidgets import QApplication
    QApplication.closeAllWindows()


HELP_TEXT = """<h3>Building a network</h3>
<ul>
<li>Drag a layer from the <b>Layers</b> palette onto the canvas (double-click adds it in the middle).
Drop it on a connection to insert it there.</li>
<li>Drag from a layer's <b>output port</b> (right, green) to another layer's <b>input port</b> (left, blue)
to connect them. Drag a connected input port to move that connection.</li>
<li>Select a layer to edit its parameters in the <b>Inspector</b>. Shapes update everywhere at once.</li>
<li>A red layer has a problem: hover for the message, right-click for a one-click fix.</li>
</ul>
<h3>Canvas</h3>
<ul>
<li>Wheel: zoom around the cursor. Middle button or Space+drag: pan. Drag on empty space: select.</li>
<li>Ctrl+1: fit the design in the window. Ctrl+L: auto-layout (and show the design readably).</li>
<li>Ctrl+C / Ctrl+V / Ctrl+D / Delete: copy, paste, duplicate, delete. Ctrl+Z / Ctrl+Shift+Z: undo, redo.</li>
</ul>
<h3>Layouts</h3>
<ul>
<li>Alt+1 <b>Design</b>, Alt+2 <b>Train</b>, Alt+3 <b>Learn</b> (or the buttons in the toolbar): each layout
arranges the panels for that work and remembers how you change it. View → Layout → Reset Layout puts it
back.</li>
<li>F11 or Ctrl+Shift+F: the canvas alone, without panels and toolbars; the same key brings them back.</li>
</ul>"""


def _show_help(window):
    from designer import dialogs
    dialogs.show_info(window, "Keyboard and mouse", HELP_TEXT)
