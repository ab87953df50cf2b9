"""Atomic file replacement: a crash, a kill or a full disk never leaves a half-written file behind.

Every write goes to a temporary file in the target's folder (same file system, so the final rename is
atomic), is flushed and fsynced, and only then renamed over the target; the folder is fsynced too where the
platform allows, so the rename itself survives a power cut. At every instant the target is either the
complete old version or the complete new one.

User documents (designs, project bundles) also keep ONE backup of the version a save replaced, next to it
as `NAME.bak` (`design.json.bak`, `project.cnnd.bak`); each save replaces the backup. The backup is a hard
link to the old file where the file system supports it (no copying, even for large bundles), else a copy.

Temporary files are named `.NAME.PID-RANDOM.tmp`: hidden on Linux and macOS, and never ending in a design
suffix, so the Open dialog does not list them. One left by a killed process is deleted by the next save of
the same file.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engine.safe_files import check_write_target

BACKUP_SUFFIX = ".bak"
STALE_SECONDS = 24 * 3600  # where a temporary file's owner cannot be asked (Windows), age decides


def backup_path(path: str | os.PathLike[str]) -> Path:
    """Where the previous version of a user document is kept: `design.json` -> `design.json.bak`."""
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], backup: bool = False, keep_suffix: bool = False) -> Iterator[Path]:
    """Context manager yielding a temporary path to write the new contents to (any writer: open(), a
    ZipFile, torch.save...). When the block ends normally the temporary file is fsynced and renamed over
    `path` (after keeping the old file as `path.bak` when `backup`); when it raises, `path` is untouched
    and the temporary file is removed. `keep_suffix` ends the temporary name in the target's suffix, for
    writers that choose the format by it."""
    path = _real_target(Path(path))
    check_write_target(path)  # never replace a device or FIFO (as root, /dev/null) with a regular file
    folder = path.parent
    _remove_stale_temporaries(path)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        os.chmod(tmp, _mode_for(path))  # mkstemp makes the file private (0600); a save should not
        if backup:
            _keep_backup(path)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_folder(folder)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, backup: bool = False) -> None:
    """Replace `path` with `data` atomically (see the module docstring)."""
    with replacing(path, backup) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, backup: bool = False) -> None:
    """Replace `path` with `text` (UTF-8) atomically (see the module docstring)."""
    with replacing(path, backup) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


def write_texts_atomic(texts: dict) -> None:
    """Replace several files (path -> text) as nearly together as a file system allows: every new version is
    written and fsynced first, and only then are they renamed, one right after another, in the given order.
    A failure while writing leaves every file as it was; a kill can split the set only in the microseconds
    of the renames (one file at a time would leave that window open for all the writing and fsyncing)."""
    with contextlib.ExitStack() as stack:
        for path, text in reversed(list(texts.items())):   # the stack renames in reverse order of entry
            tmp = stack.enter_context(replacing(path))
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)


def _real_target(path: Path) -> Path:
    """Saving through a symbolic link updates the file it points to, and keeps the link."""
    try:
        return Path(os.path.realpath(path)) if path.is_symlink() else path
    except OSError:
        return path


def _keep_backup(path: Path) -> None:
    """Make `path.bak` the current `path`, atomically (a temporary name, then a rename)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return
    except OSError:
        return  # a new file: nothing to keep
    bak = backup_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{bak.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(path, tmp)  # the old inode lives on under the backup name once `path` is replaced
        except OSError:        # no hard links here (FAT, some network shares): copy instead
            shutil.copy2(path, tmp)
            _fsync_file(tmp)
        os.replace(tmp, bak)
    finally:
        # Also after success: when `bak` already was a link to this very file (a save killed between
        # keeping the backup and renaming), rename() does nothing and leaves `tmp` behind.
        _unlink(tmp)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files of earlier saves of `path` (and of its backup) whose process is gone."""
    for prefix in (f".{path.name}.", f".{path.name}{BACKUP_SUFFIX}."):
        try:
            candidates = list(path.parent.glob(_glob_escape(prefix) + "*-*.tmp*"))
        except OSError:
            return
        for tmp in candidates:
            owner = tmp.name[len(prefix):].split("-", 1)[0]
            if owner.isdigit() and tmp.is_file() and not _is_running(int(owner), tmp):
                _unlink(tmp)


def _is_running(pid: int, tmp: Path) -> bool:
    if pid == os.getpid():
        return True  # another save of this very process may be in progress (another window)
    if os.name == "nt":  # os.kill would terminate the process there; judge by age instead
        try:
            return time.time() - tmp.stat().st_mtime < STALE_SECONDS
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _fsync_file(name) -> None:
    fd = os.open(name, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable. Windows cannot open folders this way; some file systems refuse: both fine."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or for a new file the usual ones (0666 less the umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _unlink(name) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
