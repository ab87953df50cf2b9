"""The window's block commands: group the selection into a block, ungroup, make a use unique, collapse and
expand (engine.blocks; the canvas side is designer.canvas.collapse)."""
from __future__ import annotations

import re

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLineEdit

from engine.blocks import block_of, blocks

DEFAULT_CLASS = "Block"


def install(window, acts: dict) -> None:
    doc, scene = window.document, window.scene

    def act(name, text, slot, shortcut="", tip=""):
        a = QAction(text, window)
        a.setObjectName(f"action_{name}")
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.setStatusTip(tip)
        a.setToolTip(tip)
        a.triggered.connect(lambda checked=False: slot())
        acts[name] = a
        window.addAction(a)
        return a

    act("group", "&Group into Block…", lambda: group_selection(window), "Ctrl+G",
        "Make the selected layers one block: a node that collapses, and one class in exported code")
    act("ungroup", "U&ngroup Block", lambda: _each_selected_block(window, doc.ungroup), "Ctrl+Shift+G",
        "Dissolve the selected blocks (or the block of the selected layer) into their layers")
    act("make_unique", "Make Block &Unique", lambda: _each_selected_block(window, doc.make_unique), "",
        "Give this use of a shared block a class of its own, so edits stay in it")
    act("collapse_all", "&Collapse All Blocks", lambda: collapse_all(window), "Ctrl+Shift+[",
        "Show every block as one node and lay the design out that way")
    act("expand_all", "E&xpand All Blocks", lambda: expand_all(window), "Ctrl+Shift+]",
        "Show every layer again and lay the design out that way")
    edit_menu, view_menu = window.menu("Edit"), window.menu("View")
    edit_menu.addSeparator()
    for name in ("group", "ungroup", "make_unique"):
        edit_menu.addAction(acts[name])
    view_menu.addSeparator()
    for name in ("collapse_all", "expand_all"):
        view_menu.addAction(acts[name])
    scene.node_menu_actions = [acts["group"], acts["ungroup"], None] + scene.node_menu_actions
    scene.block_menu_actions = [acts["ungroup"], acts["make_unique"]]


def group_selection(window, class_name: str | None = None) -> str:
    """Group the selected layers, asking for the block's class name unless given; '' or why not."""
    ids = window.scene.selected_node_ids()
    if not ids:
        return _say(window, "Select the layers to group first (drag a rectangle around them).")
    if class_name is None:
        class_name, ok = QInputDialog.getText(window, "Group into block", "Name of the block (its class in exported "
                                              "code; uses of one name share their layers' settings):",
                                              QLineEdit.EchoMode.Normal, _suggested_class(window.document.graph))
        if not ok:
            return ""
    problem = window.document.group(ids, class_name.strip())
    return _say(window, problem) if problem else ""


def collapse_all(window) -> None:
    scene = window.scene
    scene.collapser.collapse_all()
    window.document.auto_layout(scene.collapser.collapsed)
    window.canvas.show_design()


def expand_all(window) -> None:
    window.scene.collapser.expand_all()
    window.document.auto_layout()
    window.canvas.show_design()


def _each_selected_block(window, edit) -> None:
    scene, graph = window.scene, window.document.graph
    scopes = scene.selected_blocks()
    if not scopes:
        found = {block_of(graph, nid) for nid in scene.selected_node_ids()} - {None}
        scopes = [b.scope for b in found]
    if not scopes:
        _say(window, "Select a block (or a layer inside one) first.")
    for scope in sorted(scopes, key=lambda s: -s.count(".")):
        problem = edit(scope)
        if problem:
            _say(window, problem)


def _suggested_class(graph) -> str:
    taken = {b.class_name for b in blocks(graph).values()}
    name, number = DEFAULT_CLASS, 2
    while name in taken:
        name, number = f"{DEFAULT_CLASS}{number}", number + 1
    return name


def _say(window, text: str) -> str:
    window.statusBar().showMessage(re.sub(r"\s+", " ", text), 8000)
    return text
