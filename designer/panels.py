"""Extension points for other parts of the designer.

PANEL_INSTALLERS: callables `install(window)` that MainWindow calls at the end of its __init__, in order.
An installer may add docks (`window.add_dock`), menus (`window.menu("Train")`, `window.file_export_menu()`,
`window.file_import_menu()`), toolbar actions (`window.toolbar`), and listen to `window.document`,
`window.selection_changed` and `window.about_to_close`.

FILE_LOADERS: file suffix (lower case, with dot) -> callable(path) -> GraphSpec, for design formats other
than the native .json (Open, drag-and-drop and the command line use it). Raise an exception whose message
tells the user what is wrong; it is shown as an error, never as a traceback.

FILE_SAVERS: file suffix -> callable(window, path) that writes the window's design in that format (e.g. a
.cnnd project with its runs and weights). Save keeps a file opened in such a format in it, instead of
overwriting it with plain JSON. Raise OSError or ValueError with a readable message on failure.
"""
from __future__ import annotations

PANEL_INSTALLERS: list = []
FILE_LOADERS: dict = {}
FILE_SAVERS: dict = {}


# Built-in packages in the order their panels install: later ones use earlier ones (the teaching panels
# listen to the training dashboard), so the order must not depend on which package was imported first.
BUILTIN_PANEL_PACKAGES = ("designer.training", "designer.interchange", "designer.teaching")


def _install_builtin_panels():
    """Import the modules that register installers (other engineers' packages, if present), and put the
    built-in installers first, in BUILTIN_PANEL_PACKAGES order, before any others."""
    import importlib

    for name in BUILTIN_PANEL_PACKAGES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the package exists but something it imports is missing: a real bug
                raise

    def rank(install):
        module = getattr(install, "__module__", "") or ""
        for i, package in enumerate(BUILTIN_PANEL_PACKAGES):
            if module == package or module.startswith(package + "."):
                return i
        return len(BUILTIN_PANEL_PACKAGES)

    PANEL_INSTALLERS.sort(key=rank)   # stable: other installers keep their own order, after these
