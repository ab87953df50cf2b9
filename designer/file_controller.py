"""Files: New (blank or template), Open, Save (atomic, with a NAME.json.bak backup), Save As, recent files,
autosave and crash recovery."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from PySide6.QtCore import QLockFile, QTimer
from PySide6.QtWidgets import QMenu

from designer import dialogs
from designer.graph_edits import blank_graph
from designer.plain_text import plain_tooltip
from designer.settings import recovery_dir
from engine.atomic_write import BACKUP_SUFFIX
from engine.graph_io import GraphFileError, graph_from_dict, graph_to_dict, load_graph, save_graph, write_text_atomic
from engine.graph_io import MAX_FILE_BYTES
from engine.summary import layer_count
from engine.safe_files import load_json_file
from engine.units import MB

AUTOSAVE_MS = 30_000
AUTOSAVE_ENV = "CNN_DESIGNER_AUTOSAVE_MS"  # e.g. 500 in the crash-recovery test; at least MIN_AUTOSAVE_MS
MIN_AUTOSAVE_MS = 100
MAX_RECENT = 10
RECOVERY_FORMAT = "cnn-designer-recovery"


class FileController:
    def __init__(self, window, state):
        """`state` is the window's DesignState: every design this opens, creates or restores replaces the
        open one through it."""
        self.window = window
        self.document = window.document
        self.state = state
        # Design formats besides the native .json, added by the window (e.g. .cnnd projects):
        # suffix (lower case, with dot) -> callable(path) -> GraphSpec, raising with a readable message;
        # suffix -> callable(path) writing the open design in that format (Save keeps a .cnnd a .cnnd).
        self.loaders: dict = {}
        self.savers: dict = {}
        self.export_menu = QMenu("&Export", window)
        self.export_menu.setObjectName("menu_file_export")
        self.import_menu = QMenu("&Import", window)
        self.import_menu.setObjectName("menu_file_import")
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recovery_path = recovery_dir() / f"autosave-{uuid.uuid4().hex[:12]}.json"
        self._lock = QLockFile(str(self.recovery_path) + ".lock")
        self._lock.setStaleLockTime(0)  # only a dead owner makes a lock stale, never its age
        self._lock.tryLock(0)
        self._autosaved_revision = self.document.revision
        self.autosave_timer = QTimer(window)
        self.autosave_timer.setInterval(autosave_interval())
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # ---- New / Open ------------------------------------------------------------------------------
    def new_design(self) -> bool:
        if not self.maybe_save():
            return False
        graph = dialogs.choose_template(self.window)
        if graph is None:
            return False
        self.state.replace_design(graph, "")
        self.window.canvas.show_design()
        if graph == blank_graph():
            self.window.show_status("New blank design: drag layers from the palette in between Input and Output.",
                                    8000)
        else:
            self.window.show_status(f"New design from the “{graph.name}” template.")
        return True

    def open(self) -> bool:
        if not self.maybe_save():
            return False
        path = dialogs.get_open_path(self.window, self._start_folder())
        return bool(path) and self.open_path(path, ask_to_save=False)

    def open_dropped(self, paths) -> None:
        paths = [p for p in paths if p]
        if not paths:
            return
        if len(paths) > 1:
            self.window.show_status("Drop one design file at a time; opened the first.")
        self.open_path(paths[0])

    def open_path(self, path: str, ask_to_save: bool = True) -> bool:
        """Open a design; on any problem show a clear message and keep the current design."""
        if ask_to_save and not self.maybe_save():
            return False
        try:
            graph = self.read_design(path)
        except Exception as exc:  # every reader's failure becomes a message, never a traceback
            message = str(exc) or exc.__class__.__name__
            self.window.messages.add_note(f"Could not open {path}: {message}")
            dialogs.show_error(self.window, "Cannot open design", message)
            return False
        self.state.replace_design(graph, str(Path(path).resolve()))
        self.add_recent(str(Path(path).resolve()))
        self.window.canvas.show_design()
        self.window.show_status(f"Opened {path}.")
        return True

    def register_format(self, suffix: str, loader, saver=None) -> None:
        """Open (and, with a saver, Save) designs in another format, e.g. ".cnnd"."""
        self.loaders[suffix.lower()] = loader
        if saver is not None:
            self.savers[suffix.lower()] = saver

    def read_design(self, path: str):
        suffix = Path(path).suffix.lower()
        if suffix == BACKUP_SUFFIX:  # design.json.bak, the version before the last save: read like design.json
            suffix = Path(Path(path).stem).suffix.lower() or ".json"
        loader = self.loaders.get(suffix)
        if loader is not None:
            return loader(path)
        if suffix not in (".json", "") and Path(path).is_file():
            known = ", ".join(sorted({".json", *self.loaders}))
            raise GraphFileError(f"{Path(path).name} is not a design file this app can open (it opens {known}).")
        return load_graph(path)

    # ---- Save ---------------------------------------------------------------------------------------
    def save(self) -> bool:
        path = self.document.file_path
        if not path or Path(path).suffix.lower() not in (".json", *self.savers):
            return self.save_as()
        return self.write(path)

    def save_as(self) -> bool:
        suggested = self.document.file_path or str(Path(self._start_folder()) /
                                                    f"{_file_stem(self.document.graph.name)}.json")
        if suggested.lower().endswith(BACKUP_SUFFIX):  # restoring from a backup: offer the design's own name
            suggested = suggested[:-len(BACKUP_SUFFIX)]
        path = dialogs.get_save_path(self.window, suggested)
        return bool(path) and self.write(path)

    def write(self, path: str) -> bool:
        saver = self.savers.get(Path(path).suffix.lower())
        try:
            if saver is not None:  # e.g. a .cnnd project stays a bundle with its runs and weights
                saver(path)
            else:
                save_graph(self.document.graph, path)  # atomic, keeps the replaced file as NAME.json.bak
        except (OSError, ValueError) as exc:
            dialogs.show_error(self.window, "Cannot save design",
                               f"Could not save to {path}: {getattr(exc, 'strerror', None) or exc}. "
                               "The previous file is unchanged; choose another folder with Save As.")
            return False
        resolved = str(Path(path).resolve())
        self.document.set_file_path(resolved)
        self.document.undo_stack.setClean()
        self.add_recent(resolved)
        self.window.show_status(f"Saved {resolved}.")
        return True

    def maybe_save(self) -> bool:
        """True when it is fine to replace or close the design (saved, discarded, or unchanged)."""
        if not self.document.modified:
            return True
        answer = dialogs.ask_unsaved_changes(self.window, self.document.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ---- recent files --------------------------------------------------------------------------------
    def recent_files(self) -> list:
        value = self.window.settings().value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.window.settings().setValue("files/recent", recent[:MAX_RECENT])

    def _fill_recent_menu(self):
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name, lambda p=path: self.open_path(p))
            action.setToolTip(plain_tooltip(path))
            action.setEnabled(Path(path).is_file())
        if not recent:
            self.recent_menu.addAction("No recent designs").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: self.window.settings().setValue("files/recent", []))

    def _start_folder(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    # ---- autosave and recovery ---------------------------------------------------------------------------
    def autosave(self) -> bool:
        """Write the design to this window's recovery file if it changed since the last autosave."""
        if self.document.revision == self._autosaved_revision:
            return False
        self._autosaved_revision = self.document.revision
        if not self.document.modified:
            self._remove_recovery_file()
            return False
        record = {"format": RECOVERY_FORMAT, "file_path": self.document.file_path, "saved": time.time(),
                  "graph": graph_to_dict(self.document.graph)}
        try:
            write_text_atomic(self.recovery_path, json.dumps(record))
        except OSError as exc:
            self.window.show_status(f"Autosave failed: {exc.strerror or exc}", 8000)
            return False
        return True

    def discard_recovery(self) -> None:
        """A normal close: the backup is no longer needed."""
        self.autosave_timer.stop()
        self._remove_recovery_file()
        self._lock.unlock()

    def _remove_recovery_file(self):
        try:
            self.recovery_path.unlink()
        except OSError:
            pass

    def offer_recovery(self) -> bool:
        """Offer backups left by windows that did not close normally; True when one was restored."""
        for path in sorted(recovery_dir().glob("autosave-*.json"), key=_mtime, reverse=True):
            if path == self.recovery_path:
                continue
            lock = QLockFile(str(path) + ".lock")
            lock.setStaleLockTime(0)
            if not lock.tryLock(0):
                continue  # its window is still open
            try:
                record = load_json_file(path, MAX_FILE_BYTES + MB, "backup")  # bounded: never a FIFO or huge
                graph = graph_from_dict(record.get("graph"), "the backup")
                origin = str(record.get("file_path") or "")
                saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(record.get("saved", _mtime(path)))))
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                self.window.show_status(f"Removed an unreadable backup ({exc}).", 8000)
                _remove(path)
                lock.unlock()
                continue
            # layers between Input and Output, as the Summary counts them
            what = f"“{graph.name or Path(origin).name or 'Untitled'}”, {layer_count(graph)} layers, saved {saved}"
            if origin:
                what += f"\n(from {origin})"
            restore = dialogs.ask_restore_recovery(self.window, what)
            if restore:
                self.state.replace_design(graph, origin)
                self.document.undo_stack.resetClean()  # restored work is unsaved work
                self.autosave()  # into this window's own backup first, so a second crash loses nothing
            _remove(path)
            lock.unlock()
            if restore:
                self.window.canvas.show_design()
                self.window.show_status("Restored the automatic backup; save it to keep it.", 8000)
                return True
        return False


def autosave_interval() -> int:
    """Milliseconds between autosaves: $CNN_DESIGNER_AUTOSAVE_MS when it is a whole number (at least 100),
    else 30 s."""
    value = os.environ.get(AUTOSAVE_ENV, "").strip()
    return max(MIN_AUTOSAVE_MS, int(value)) if value.isdigit() else AUTOSAVE_MS


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _file_stem(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in (name or "design")).strip()
    return cleaned.replace(" ", "_") or "design"
