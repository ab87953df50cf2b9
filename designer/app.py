"""The desktop app's entry point: `run_app(argv)` builds the QApplication and the main window."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Set to 1, the app closes its window right after the first paint and exits (smoke tests, bench/startup.py).
EXIT_AFTER_PAINT = "CNN_DESIGNER_EXIT_AFTER_PAINT"


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
    app.setDesktopFileName("cnn-designer")  # ties the window to the desktop entry (its icon on Wayland's task bar)
    from designer.theme import app_icon
    app.setWindowIcon(app_icon())
    window = MainWindow()
    if os.environ.get(EXIT_AFTER_PAINT) == "1":
        _close_after_first_paint(window)
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


def end_process(code: int) -> None:
    """End the desktop app's process once its event loop has returned, without the interpreter's teardown.

    Every window has closed by then: runs are flushed, settings synced, worker threads joined, the recovery
    lock released. What is left is freeing hundreds of thousands of objects one by one and unloading
    PyTorch's and Qt's libraries, which took as long as starting (seconds) and only kept the process in the
    task list. The atexit handlers still run first (training processes, logging, multiprocessing).
    Only for the console entry point: run_app returns normally for callers that go on afterwards."""
    import atexit

    from PySide6.QtWidgets import QApplication

    from designer.main_window import MainWindow

    app = QApplication.instance()
    for widget in app.topLevelWidgets() if app is not None else []:
        if isinstance(widget, MainWindow):   # closing synced them; a value written since would be lost
            widget.settings().sync()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):   # closed or missing (pythonw) streams
            pass
    os._exit(code)


def _close_after_first_paint(window) -> None:
    """Close `window` once it has painted, printing when on stderr (time.monotonic(), comparable across
    processes on one machine), so a script can check that the app starts and quits, and time both."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint and not self.property("seen"):
                self.setProperty("seen", True)
                print(f"{EXIT_AFTER_PAINT}: painted at {time.monotonic():.3f}", file=sys.stderr, flush=True)
                QTimer.singleShot(0, close)
            return False

    def close():
        print(f"{EXIT_AFTER_PAINT}: closing at {time.monotonic():.3f}", file=sys.stderr, flush=True)
        window.close()

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)
