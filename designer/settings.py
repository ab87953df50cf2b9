"""Where the app keeps its settings and recovery files.

Setting CNN_DESIGNER_SETTINGS_DIR puts both in that folder (tests use it so they never touch the real
user's settings); otherwise Qt's per-user locations are used.
"""
from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORGANIZATION = "CNN Designer"
APPLICATION = "cnn-designer"
SETTINGS_DIR_ENV = "CNN_DESIGNER_SETTINGS_DIR"
MAX_SETTINGS_BYTES = 4 << 20   # recent files, window layout and lesson progress take a few KB

log = logging.getLogger(__name__)


def override_dir() -> Path | None:
    value = os.environ.get(SETTINGS_DIR_ENV, "").strip()
    return Path(value) if value else None


def make_settings() -> QSettings:
    folder = override_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = _usable_settings_file(folder / "settings.ini")
        return QSettings(str(path), QSettings.Format.IniFormat)
    if os.name != "nt":  # where Qt keeps an IniFormat user file on Linux and macOS
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
        default = Path(base or Path.home() / ".config") / ORGANIZATION / f"{APPLICATION}.ini"
        path = _usable_settings_file(default)
        if path != default:
            return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _usable_settings_file(path: Path) -> Path:
    """`path`, after moving aside a settings file Qt would hang on or read without end (a FIFO, a link to
    /dev/zero, a file of many megabytes) as NAME.unusable; if it cannot be moved, a fresh file elsewhere."""
    try:
        info = os.stat(path)
    except OSError:
        return path  # none yet (or a dangling link, which Qt replaces)
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SETTINGS_BYTES:
        return path
    log.warning("settings file %s is not an ordinary file of at most %d bytes; set aside", path, MAX_SETTINGS_BYTES)
    try:
        os.replace(path, path.with_name(path.name + ".unusable"))  # moves a link itself, never what it points to
        return path
    except OSError:
        return Path(tempfile.gettempdir()) / f"{APPLICATION}-{os.getuid() if hasattr(os, 'getuid') else 0}.ini"


def recovery_dir() -> Path:
    folder = override_dir()
    if folder is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(base or Path.home()) / APPLICATION
    path = folder / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path
