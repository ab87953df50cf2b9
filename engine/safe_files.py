"""Bounded, checked access to files the app did not write itself: every reader goes through here.

A path may name anything: a FIFO (reading blocks for ever), /dev/zero (reading never ends), a symbolic link
to either, a 40 GB file, JSON nested 100,000 levels deep, or text with lone surrogates ("\\ud800") that
cannot be written back as UTF-8. Each of these is refused (or, for surrogates, repaired) here with one
sentence naming the file and what to do, so no caller has to remember the cases.

    read_regular_file(path, max_bytes, what)  bytes of a regular file, at most max_bytes
    read_text_file(path, max_bytes, what)     the same, decoded as UTF-8 (a byte-order mark is fine)
    load_json_file(path, max_bytes, what)     parsed JSON, depth-limited, lone surrogates repaired
    loads_json(text, what)                    the same for text already in memory
    check_write_target(path, what)            refuse to write over a FIFO, a device, a socket or a folder

The errors are ValueError subclasses (FileLimitError), so readers that already turn ValueError into their
own error keep working; check_write_target raises NotRegularFileError, an OSError, so writers' existing
"cannot write ...: reason" handling shows its reason.
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from engine.units import KB, MB

MAX_JSON_DEPTH = 64          # designs, runs, configs and lessons are at most 6 levels deep
MAX_CONFIG_BYTES = 1 * MB    # a TrainConfig, run.json, settings
MAX_RECORD_BYTES = 64 * MB   # metrics.json, results.json and other run tables
MAX_WEIGHTS_BYTES = 4096 * MB  # a weights file or checkpoint (as a bundle's safetensors member)
CHUNK = 64 * KB

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")   # how a lone surrogate gets into JSON text
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class FileLimitError(ValueError):
    """A file that is not read: not a regular file, too large, not text, nested too deeply. The message is one
    sentence naming the file."""


class NotRegularFileError(OSError):
    """A write target that is a device, FIFO, socket or folder. `strerror` says why, `filename` names it."""

    def __str__(self):
        return f"cannot write {self.filename}: {self.strerror}" if self.filename else str(self.strerror)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not an ordinary file"


def _name(path) -> str:
    return str(path)


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """The bytes of `path` if it is a regular file (a symbolic link to one is fine) of at most `max_bytes`.
    Never blocks on a FIFO and never reads more than max_bytes + 1 bytes, even from a file that grows."""
    path = check_regular_file(path, max_bytes, what)
    too_big = _too_big(path, max_bytes, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileLimitError(f"cannot read the {what} {_name(path)}: {exc.strerror or exc}") from None
    try:
        # Swapped for a FIFO or device between stat() and open()? Look again at what was opened.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileLimitError(f"the {what} {_name(path)} is not a regular file; give the path of an ordinary file")
        parts, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileLimitError(f"cannot read the {what} {_name(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise FileLimitError(too_big)
    return b"".join(parts)


def check_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> Path:
    """`path` if it is a regular file (or a link to one) of at most max_bytes, for readers that open the file
    themselves (safetensors, torch.load); FileLimitError saying what it is otherwise."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise FileLimitError(f"cannot read the {what} {_name(path)}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileLimitError(f"the {what} {_name(path)} is {_kind(info.st_mode)}, not a regular file; "
                             f"give the path of an ordinary file")
    if info.st_size > max_bytes:
        raise FileLimitError(_too_big(path, max_bytes, what))
    return path


def _too_big(path, max_bytes: int, what: str) -> str:
    return (f"the {what} {_name(path)} is larger than {_size(max_bytes)}, the most this file may hold; "
            f"it is not a file CNN Designer wrote, or it is damaged")


def read_text_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> str:
    """read_regular_file, decoded as UTF-8 (with or without a byte-order mark)."""
    data = read_regular_file(path, max_bytes, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileLimitError(f"the {what} {_name(path)} is not UTF-8 text (a bad byte at position {exc.start}); "
                             f"it is damaged or not a file CNN Designer wrote") from None


def load_json_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file",
                   max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parsed JSON of a regular file of at most max_bytes, nested at most max_depth levels, with any lone
    surrogate in its text replaced by U+FFFD (see loads_json)."""
    return loads_json(read_text_file(path, max_bytes, what), f"the {what} {_name(path)}", max_depth)


def loads_json(text: str, where: str = "the file", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with the failures a hostile file can cause turned into FileLimitError: bad syntax, nesting
    past max_depth (RecursionError in the parser, or a stack overflow later), integers longer than Python
    converts. Lone surrogates in strings, which can never be written as UTF-8 again, become U+FFFD."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileLimitError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") \
            from None
    except RecursionError:
        raise FileLimitError(f"{where} is nested more than {max_depth} levels deep; it is not a file CNN Designer "
                             f"wrote") from None
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        raise FileLimitError(f"{where} is not valid JSON: {str(exc)[:100]}") from None
    return _checked(data, where, max_depth, repair=bool(_SURROGATE_ESCAPE.search(text)))


def repair_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it can be written as UTF-8."""
    return _SURROGATE.sub(REPLACEMENT, text) if isinstance(text, str) else text


def _checked(data, where: str, max_depth: int, repair: bool):
    """Walk the parsed value without recursion: enforce the depth, repair surrogates in keys and strings."""
    if repair and isinstance(data, str):
        return repair_text(data)
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise FileLimitError(f"{where} is nested more than {max_depth} levels deep; it is not a file "
                                 f"CNN Designer wrote")
        if isinstance(value, dict):
            if repair and any(isinstance(k, str) and _SURROGATE.search(k) for k in value):
                items = [(repair_text(k), v) for k, v in value.items()]
                value.clear()
                value.update(items)
            for k, v in value.items():
                if isinstance(v, (dict, list)):
                    stack.append((v, depth + 1))
                elif repair and isinstance(v, str):
                    value[k] = repair_text(v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, (dict, list)):
                    stack.append((v, depth + 1))
                elif repair and isinstance(v, str):
                    value[i] = repair_text(v)
    return data


def check_write_target(path: str | os.PathLike[str], what: str = "output") -> None:
    """Refuse to write `path` when it exists (or a symbolic link there points to something) that is not a
    regular file: replacing /dev/null or a FIFO with a regular file would break whatever uses it."""
    path = Path(path)
    try:
        info = os.stat(path)           # follows symbolic links: a link to /dev/null is /dev/null
    except FileNotFoundError:
        return                         # a new file (or a dangling link, which the write creates)
    except OSError as exc:
        raise NotRegularFileError(exc.errno or errno.EINVAL,
                                  f"cannot check it: {exc.strerror or exc}", str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(errno.EINVAL, f"it is {_kind(info.st_mode)}, not an ordinary file; CNN Designer "
                                                f"only writes ordinary files and left it alone. Choose a file name",
                                  str(path))


def _size(n: int) -> str:
    return f"{n // MB} MB" if n >= MB else f"{n // KB} KB" if n >= KB else f"{n} bytes"
