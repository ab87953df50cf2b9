"""Ready-made designs shipped in resources/templates (LeNet-5, AlexNet, VGG-11, NiN, ResNet, Inception)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.graph import GraphSpec
from engine.graph_io import load_graph
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
