"""Where the app keeps its settings and recovery files.

Setting CNN_DESIGNER_SETTINGS_DIR puts both in that folder (tests use it so they never touch the real
user's settings); otherwise Qt's per-user locations are used.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORGANIZATION = "CNN Designer"
APPLICATION = "cnn-designer"
SETTINGS_DIR_ENV = "CNN_DESIGNER_SETTINGS_DIR"


def override_dir() -> Path | None:
    value = os.environ.get(SETTINGS_DIR_ENV, "").strip()
    return Path(value) if value else None


def make_settings() -> QSettings:
    folder = override_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def recovery_dir() -> Path:
    folder = override_dir()
    if folder is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(base or Path.home()) / APPLICATION
    path = folder / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path
