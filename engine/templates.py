"""Ready-made designs shipped in resources/templates (LeNet-5, AlexNet, VGG-11, NiN, ResNet, Inception)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.graph import GraphSpec
from engine.graph_io import GraphFileError, load_graph
from engine.resource_files import template_dir

TEMPLATE_DIR = template_dir()
DEFAULT_TEMPLATE = "lenet5"


@dataclass(frozen=True)
class TemplateInfo:
    key: str
    path: Path
    name: str
    description: str


def list_templates() -> list:
    out = []
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        g = load_graph(path)
        out.append(TemplateInfo(path.stem, path, g.name or path.stem, g.description))
    return out


def load_template(key: str = DEFAULT_TEMPLATE) -> GraphSpec:
    path = TEMPLATE_DIR / f"{key}.json"
    if not path.is_file():
        known = ", ".join(t.key for t in list_templates())
        raise KeyError(f"no template {key!r}; available: {known}")
    return load_graph(path)


def template_names() -> list:
    """The built-in templates' names, e.g. ['alexnet', 'inception', 'lenet5', ...]."""
    return sorted(path.stem for path in TEMPLATE_DIR.glob("*.json"))


def load_design_or_template(name_or_path: str | os.PathLike[str]) -> GraphSpec:
    """A design file, or a built-in template by name ("lenet5") when no file of that name exists.

    Raises GraphFileError; for a path that does not exist the message lists the template names too.
    """
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path) in template_names():
        return load_template(str(name_or_path))
    try:
        return load_graph(path)
    except GraphFileError as exc:
        if path.exists():
            raise
        raise GraphFileError(f"{exc}; give a design file or a built-in template: "
                             f"{', '.join(template_names())}") from None


TEMPLATE_HELP = ", ".join(template_names())  # for the commands' --help
