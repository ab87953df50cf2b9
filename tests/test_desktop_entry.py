"""`cnn-designer --install-desktop-entry` writes a valid freedesktop entry, icon and MIME type under
$XDG_DATA_HOME, and `--uninstall-desktop-entry` removes them. Never touches the real ~/.local/share."""
import configparser
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine import desktop_entry
from engine.cli import run_command_line
from engine.desktop_entry import DesktopEntryError, DesktopFiles, data_home, exec_quote
from engine.resource_files import app_icon_path

pytestmark = pytest.mark.skipif(sys.platform.startswith(("win", "darwin")), reason="freedesktop entries: Linux")
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # were XDG_DATA_HOME ignored, nothing real is touched
    return home


def read_entry(path: Path) -> dict:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_install_writes_a_valid_entry_icon_and_mime_type(xdg, capsys):
    assert run_command_line(["--install-desktop-entry"]) == 0
    files = DesktopFiles(xdg)
    printed = capsys.readouterr().out
    for path in files.all():
        assert path.is_file() and str(path) in printed

    entry = read_entry(files.desktop_file)
    assert entry["Type"] == "Application" and entry["Name"] == "CNN Designer"
    assert entry["Icon"] == "cnn-designer" and entry["Terminal"] == "false"
    command = shlex.split(entry["Exec"])
    assert command[-1] == "%f"  # the file manager passes the file to open
    launcher = Path(command[0])
    assert launcher.is_absolute() and launcher.is_file() and launcher.name == "cnn-designer"
    assert launcher.parent == Path(sys.executable).parent
    assert entry["TryExec"] == command[0]
    assert set(entry["MimeType"].rstrip(";").split(";")) == {"application/x-cnn-designer-project",
                                                            "application/json"}
    assert entry["StartupWMClass"] == "cnn-designer"

    assert files.icon.read_bytes() == app_icon_path().read_bytes() == files.mime_icon.read_bytes()
    mime = ET.parse(files.mime_package).getroot()
    assert mime.tag == f"{MIME_NS}mime-info"
    (kind,) = mime.findall(f"{MIME_NS}mime-type")
    assert kind.get("type") == "application/x-cnn-designer-project"
    assert [g.get("pattern") for g in kind.findall(f"{MIME_NS}glob")] == ["*.cnnd"]
    assert kind.find(f"{MIME_NS}sub-class-of").get("type") == "application/zip"  # a .cnnd is a zip


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_the_entry_passes_desktop_file_validate(xdg):
    desktop_entry.install(refresh=False)
    done = subprocess.run(["desktop-file-validate", str(DesktopFiles(xdg).desktop_file)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(not shutil.which("update-mime-database"), reason="shared-mime-info is not installed")
def test_the_mime_database_maps_cnnd_files_to_the_type(xdg):
    desktop_entry.install()
    globs = (xdg / "mime" / "globs2").read_text()
    assert "application/x-cnn-designer-project:*.cnnd" in globs
    desktop_entry.uninstall()
    assert "cnnd" not in (xdg / "mime" / "globs2").read_text()


def test_uninstall_removes_exactly_what_install_wrote(xdg, capsys):
    mine = xdg / "applications" / "someone-else.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\n")
    written = desktop_entry.install(refresh=False)
    assert run_command_line(["--uninstall-desktop-entry"]) == 0
    assert "Removed" in capsys.readouterr().out
    assert not any(path.exists() for path in written)
    assert mine.is_file()
    assert run_command_line(["--uninstall-desktop-entry"]) == 0
    assert "No CNN Designer desktop entry was installed" in capsys.readouterr().out


def test_both_flags_at_once_are_refused(xdg, capsys):
    with pytest.raises(SystemExit) as info:
        run_command_line(["--install-desktop-entry", "--uninstall-desktop-entry"])
    assert info.value.code == 2 and "alone" in capsys.readouterr().err
    assert not DesktopFiles(xdg).desktop_file.exists()


def test_without_a_console_script_the_error_says_so(xdg, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DesktopEntryError, match="cannot find the cnn-designer command"):
        desktop_entry.install()
    assert run_command_line(["--install-desktop-entry"]) == 2
    assert "cannot find the cnn-designer command" in capsys.readouterr().err


@pytest.mark.parametrize("argument, written", [
    ("/opt/cnn/bin/cnn-designer", "/opt/cnn/bin/cnn-designer"),
    ("/home/a b/bin/cnn-designer", '"/home/a b/bin/cnn-designer"'),
    ("/home/$x/bin/c", '"/home/\\\\$x/bin/c"'),           # quoted, $ escaped, then the backslash doubled
    ("/home/a\\b/c", '"/home/a\\\\\\\\b/c"'),              # a backslash: escaped for quoting, then as a string
    ("/home/100%/c", "/home/100%%/c"),                     # % is a field code: written %%
])
def test_exec_arguments_are_quoted_as_the_spec_says(argument, written):
    assert exec_quote(argument) == written


def test_the_data_folder_follows_xdg_data_home(tmp_path):
    assert data_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path
    assert data_home({"XDG_DATA_HOME": "relative/path"}) == Path.home() / ".local" / "share"
    assert data_home({}) == Path.home() / ".local" / "share"
