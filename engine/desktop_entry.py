"""`cnn-designer --install-desktop-entry` / `--uninstall-desktop-entry`: the app in a Linux desktop's menus.

Writes, for the current user, under $XDG_DATA_HOME (default ~/.local/share), following the freedesktop.org
Desktop Entry, Icon Theme and Shared MIME-info specifications:

    applications/cnn-designer.desktop                    the menu entry; opens the file it is given (%f)
    icons/hicolor/scalable/apps/cnn-designer.svg         its icon (also the window's, see designer/app.py)
    icons/hicolor/scalable/mimetypes/application-x-cnn-designer-project.svg
    mime/packages/cnn-designer.xml                       the MIME type of .cnnd project bundles

and then refreshes the desktop's caches with update-mime-database, update-desktop-database and
gtk-update-icon-cache where they are installed. The entry owns .cnnd files (a type nobody else claims, so
the file manager opens them with the app on a double-click) and offers itself under "Open With" for JSON
files, without becoming their default: a design is a .json file, but most .json files are not designs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from engine.resource_files import app_icon_path

APP_ID = "cnn-designer"                               # desktop file id, icon name, Qt's desktopFileName
PROJECT_MIME = "application/x-cnn-designer-project"   # .cnnd bundles (a zip: design, weights, runs)
OPENS = (PROJECT_MIME, "application/json")


class DesktopEntryError(RuntimeError):
    """The entry cannot be installed (no console script, not a freedesktop system); the message says why."""


@dataclass(frozen=True)
class DesktopFiles:
    """Where the entry's files go under one data folder ($XDG_DATA_HOME)."""

    data_home: Path

    @property
    def desktop_file(self) -> Path:
        return self.data_home / "applications" / f"{APP_ID}.desktop"

    @property
    def icon(self) -> Path:
        return self.data_home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"

    @property
    def mime_icon(self) -> Path:
        return self.data_home / "icons" / "hicolor" / "scalable" / "mimetypes" / f"{PROJECT_MIME.replace('/', '-')}.svg"

    @property
    def mime_package(self) -> Path:
        return self.data_home / "mime" / "packages" / f"{APP_ID}.xml"

    def all(self) -> tuple:
        return (self.desktop_file, self.icon, self.mime_icon, self.mime_package)


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME if it is set to an absolute path (as the spec requires), else ~/.local/share."""
    value = (environ if environ is not None else os.environ).get("XDG_DATA_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share"


def launcher_command() -> list:
    """The command that starts this installation of the app: its `cnn-designer` console script."""
    beside = Path(sys.executable).with_name(APP_ID)   # the venv's or prefix's bin/, whichever Python runs us
    found = beside if beside.is_file() else (Path(shutil.which(APP_ID)) if shutil.which(APP_ID) else None)
    if found is None:
        raise DesktopEntryError(f"cannot find the {APP_ID} command (looked beside {sys.executable} and on PATH); "
                                f"install CNN Designer with pip so that it has one")
    return [str(found.absolute())]


def exec_quote(argument: str) -> str:
    """One argument of a desktop entry's Exec key, quoted as the Desktop Entry spec says."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    quoted = argument
    if any(c in reserved for c in argument):
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in argument) + '"'
    # Then as a string value: a backslash is written twice, and % (a field code) is written %%.
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry_text(command: list) -> str:
    exec_line = " ".join(exec_quote(part) for part in command) + " %f"
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=CNN Designer",
        "GenericName=Neural Network Designer",
        "Comment=Design, train and understand convolutional neural networks visually",
        f"Exec={exec_line}",
        f"TryExec={exec_quote(command[0])}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Education;ArtificialIntelligence;",
        "Keywords=CNN;neural network;deep learning;PyTorch;convolution;",
        f"MimeType={';'.join(OPENS)};",
        f"StartupWMClass={APP_ID}",
        "StartupNotify=true",
        "",
    ])


def mime_package_text() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{PROJECT_MIME}">
    <comment>CNN Designer project</comment>
    <sub-class-of type="application/zip"/>
    <generic-icon name="{APP_ID}"/>
    <glob pattern="*.cnnd"/>
  </mime-type>
</mime-info>
"""


def install(home: Optional[Path] = None, refresh: bool = True) -> list:
    """Write the entry, icon and MIME type; returns the files written. `refresh` runs the cache tools."""
    _check_platform()
    files = DesktopFiles(home or data_home())
    command = launcher_command()
    icon = app_icon_path()
    if not icon.is_file():
        raise DesktopEntryError(f"the app's icon {icon} is missing; reinstall CNN Designer")
    for path in files.all():
        path.parent.mkdir(parents=True, exist_ok=True)
    files.desktop_file.write_text(desktop_entry_text(command), encoding="utf-8")
    files.mime_package.write_text(mime_package_text(), encoding="utf-8")
    shutil.copyfile(icon, files.icon)
    shutil.copyfile(icon, files.mime_icon)
    if refresh:
        _refresh_caches(files)
    return list(files.all())


def uninstall(home: Optional[Path] = None, refresh: bool = True) -> list:
    """Remove what `install` wrote; returns the files removed (none if it was not installed)."""
    _check_platform()
    files = DesktopFiles(home or data_home())
    removed = [path for path in files.all() if path.is_file()]
    for path in removed:
        path.unlink()
    if refresh and removed:
        _refresh_caches(files)
    return removed


def _check_platform() -> None:
    if sys.platform.startswith(("win", "darwin")):
        raise DesktopEntryError("desktop entries are a Linux (freedesktop.org) feature; on this system, start "
                                "CNN Designer with the cnn-designer command")


def _refresh_caches(files: DesktopFiles) -> None:
    """Tell the desktop about the change; each tool is optional (a desktop without them rescans by itself)."""
    home = files.data_home
    for tool, *args in (("update-mime-database", str(home / "mime")),
                        ("update-desktop-database", "-q", str(home / "applications")),
                        ("gtk-update-icon-cache", "-q", "-t", "-f", str(home / "icons" / "hicolor"))):
        if shutil.which(tool):
            subprocess.run([tool, *args], capture_output=True, timeout=60, check=False)


def run(install_entry: bool) -> int:
    """The command-line flags: print what was done, 0 on success, 2 with the reason otherwise."""
    try:
        paths = install() if install_entry else uninstall()
    except (DesktopEntryError, OSError) as exc:
        print(f"cnn-designer: {exc}", file=sys.stderr)
        return 2
    if install_entry:
        print("Installed the CNN Designer desktop entry (menu item, icon, .cnnd file type):")
    else:
        print("Removed the CNN Designer desktop entry:" if paths else "No CNN Designer desktop entry was installed.")
    for path in paths:
        print(f"  {path}")
    return 0
