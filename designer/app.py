"""The desktop app's entry point: `run_app(argv)` builds the QApplication and the main window."""
from __future__ import annotations

import sys
from pathlib import Path


def run_app(argv) -> int:
    """Open the main window (with `argv[0]` as a design file if given) and run the event loop."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from designer.main_window import MainWindow
    from designer.settings import APPLICATION, ORGANIZATION

    argv = list(argv)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "cnn-designer"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("CNN Designer")
    from designer.theme import app_icon
    app.setWindowIcon(app_icon())
    window = MainWindow()
    window.show()
    if argv:
        path = argv[0]
        # Deferred so the window is visible behind any error message about the file.
        QTimer.singleShot(0, lambda: window.files.open_path(str(Path(path).expanduser()), ask_to_save=False))
    else:
        QTimer.singleShot(0, window.files.offer_recovery)
    for extra in argv[1:]:
        window.show_status(f"Ignored extra argument {extra!r}; open one design at a time.")
    return app.exec()
