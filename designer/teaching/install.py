"""Add the teaching panels to the main window, in the order they appear in the Learn menu."""
from __future__ import annotations

import importlib

PARTS = ("designer.teaching.explain_panel", "designer.teaching.playground_panel",
         "designer.teaching.lessons_panel")


def install(window) -> None:
    """Each part is a module with `install(window)`; it adds its dock and its entries to the Learn menu."""
    for name in PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the part exists but something it imports is missing: a real bug
                raise
            continue
        module.install(window)
