"""Everything Qt: the desktop designer (canvas, palette, inspector, summary, files) and its panels."""
from __future__ import annotations

import sys


def _keep_none_alive() -> None:
    """Work around PySide6 6.12.0 on Python < 3.12 returning None without taking a reference.

    Every call of a void Qt method (setPen, save, setObjectName, ...) then lowers None's reference count
    by one, and after some tens of thousands of calls (a few seconds of painting) Python aborts with
    "none_dealloc: deallocating None". Python 3.12 made None immortal (PEP 683), which hides the bug there;
    here we give None a reference count it cannot run out of. Reading and writing the count happens while
    holding the GIL, so no other thread can interleave.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import PySide6

    if not PySide6.__version__.startswith("6.12."):  # pyproject excludes 6.12.0; guard a manual install
        return
    import ctypes

    count = ctypes.c_ssize_t.from_address(id(None))
    if count.value < (1 << 40):
        count.value += 1 << 40


_keep_none_alive()
