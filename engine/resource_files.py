"""Where CNN Designer's bundled files are: templates, lessons and their designs, style sheets, the icon.

They live in the source folder resources/, which is installed as the package `cnn_designer_resources`
(setup.py, pyproject.toml's package-data), and are found through importlib.resources, so a wheel, a
`pip install .` and an editable install of a checkout all read the same files the same way. Both engine
and designer use this module; it imports nothing but the standard library.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

PACKAGE = "cnn_designer_resources"


class ResourceError(RuntimeError):
    """A bundled file is missing: the installation is incomplete. The message says which and what to do."""


@lru_cache(maxsize=None)
def resource_root() -> Path:
    """The installed folder of bundled files, as a real file-system path."""
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise ResourceError(f"CNN Designer's bundled files (the package {PACKAGE}) are not installed; reinstall "
                            f"it (pip install cnn-designer, or pip install -e . in a checkout)") from None
    if not isinstance(root, Path):
        # A zip import: templates and lessons are opened as files by name, so they must be on disk.
        raise ResourceError(f"CNN Designer's bundled files are inside an archive ({root}); install it with pip, "
                            f"which unpacks them")
    return root


def resource_path(*parts: str) -> Path:
    """The path of a bundled file or folder, e.g. resource_path("styles", "dark.qss"); it may not exist."""
    return resource_root().joinpath(*parts)


def required_resource(*parts: str) -> Path:
    """Like resource_path, but a missing file raises ResourceError naming it."""
    path = resource_path(*parts)
    if not path.exists():
        raise ResourceError(f"CNN Designer's bundled file {'/'.join(parts)} is missing from {resource_root()}; "
                            f"the installation is incomplete, reinstall it")
    return path


def template_dir() -> Path:
    """Ready-made designs, one NAME.json per template (File → New, `cnn-designer analyze NAME`)."""
    return resource_path("templates")


def lessons_dir() -> Path:
    """Lesson files NN-slug.json, with the designs they open in its designs/ folder."""
    return resource_path("lessons")


def style_sheet(theme: str) -> Path:
    """The Qt style sheet of a theme ('light' or 'dark')."""
    return resource_path("styles", f"{theme}.qss")


def app_icon_path() -> Path:
    """The application's icon (SVG): window, task bar and the desktop entry."""
    return resource_path("icons", "cnn-designer.svg")
