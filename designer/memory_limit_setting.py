"""Edit → Memory limit…: the largest network the app builds (weights plus layer outputs for one image).

The engine refuses bigger networks before allocating anything (engine.memory_limit), so a typo such as
1,000,000 outputs shows as an error on the layer instead of freezing the machine. The choice is kept in
the settings; $CNN_DESIGNER_MAX_MEMORY, when set, decides for the session instead.
"""
from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QInputDialog

from engine import memory_limit

SETTINGS_KEY = "engine/max_memory"
MAX_GB = 4096.0


def install(window) -> None:
    """Apply the saved limit and add the menu entry."""
    before = memory_limit.current_limit()
    apply_saved_limit(window.settings())
    if memory_limit.current_limit() != before:  # the first window of a session: check its design again
        window.document.reanalyze()
    action = QAction("Memory &limit…", window)
    action.setObjectName("action_memory_limit")
    action.setStatusTip("The largest network to build; bigger ones are refused before they can fill the memory")
    action.triggered.connect(lambda: change_limit(window))
    menu = window.menu("Edit")
    menu.addSeparator()
    menu.addAction(action)
    window.memory_limit_action = action


def apply_saved_limit(settings) -> None:
    if memory_limit.limit_source() in ("environment", "command line"):
        return  # chosen for this session on purpose
    value = settings.value(SETTINGS_KEY)
    if value is None:
        return
    try:
        memory_limit.set_limit(str(value), "preferences")
    except ValueError:
        settings.remove(SETTINGS_KEY)  # unreadable (edited by hand): back to the default


def ask_limit_gb(window, current_gb: float, text: str):
    """The new limit in GB (0 = none), or None when cancelled."""
    value, ok = QInputDialog.getDouble(window, "Memory limit", text, current_gb, 0.0, MAX_GB, 1)
    return value if ok else None


def change_limit(window) -> bool:
    """Ask for a new limit, keep it, and re-check the designs of every open window. True when changed."""
    default = memory_limit.limit_text(memory_limit.default_limit())
    text = (f"Largest network to build, in GB: its weights plus every layer's output for one image.\n"
            f"Bigger networks are refused before anything is allocated. 0 = no limit. Default on this "
            f"computer: {default}.")
    if memory_limit.limit_source() == "environment":
        text += f"\n(Now set by ${memory_limit.ENV} for this session.)"
    gb = ask_limit_gb(window, memory_limit.current_limit() / memory_limit.GB, text)
    if gb is None:
        return False
    limit = int(round(gb * memory_limit.GB))
    memory_limit.set_limit(limit, "preferences")
    window.settings().setValue(SETTINGS_KEY, f"{gb:g}GB" if limit else "none")
    for widget in QApplication.topLevelWidgets():
        document = getattr(widget, "document", None)
        if document is not None and hasattr(document, "reanalyze"):
            document.reanalyze()
    window.show_status(f"Memory limit: {memory_limit.limit_text()}.", 6000)
    return True
