"""Where an fx node came from, in the person's words: the line of their code that made it, and the module of
their model it belongs to. Frames inside torch, this program and the standard library are skipped."""
from __future__ import annotations

import os
import re
import types
from pathlib import Path

import torch
from torch import fx

import engine


def user_line(tb: types.TracebackType | None) -> str:
    """'file.py:42: code' of the innermost frame of a traceback outside torch and this program."""
    import traceback

    frames = [f for f in traceback.extract_tb(tb) if not _is_library_file(f.filename)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename}:{f.lineno}: {(f.line or '').strip()[:120]}"


def _is_library_file(path: str) -> bool:
    path = os.path.realpath(path)   # the roots are resolved too: a virtual environment may be a link
    return any(path.startswith(root + os.sep) for root in _LIBRARY_ROOTS)


_LIBRARY_ROOTS = tuple(str(Path(m.__file__).resolve().parent) for m in (torch, engine, os))   # os: the stdlib


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*\n(?P<code>[^\n]*)')


def node_where(node: fx.Node) -> str:
    """'file.py:42: code' of the user's line that made an fx node (from the trace's recorded stack)."""
    found = ""
    for m in _FRAME.finditer(node.meta.get("stack_trace") or ""):
        if not _is_library_file(m["file"]):
            found = f"{Path(m['file']).name}:{m['line']}: {m['code'].strip()[:120]}"
    return found


def node_source(node: fx.Node) -> str:
    """The module path the node belongs to in the original ("layer1.0.bn1"; "" at the top level)."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    last = list(stack.values())[-1]
    return str(last[0] if isinstance(last, tuple) else last)
