"""What differs between two runs: hyper-parameters side by side and the layers added, removed or changed.

Nodes are matched by their stable ids, so renaming a label or moving a node on the canvas shows as a
label change or nothing, and replacing a layer by another kind under the same id shows as a change.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.graph import GraphSpec

if TYPE_CHECKING:
    from engine.training.config import TrainConfig


@dataclass(frozen=True)
class LayerChange:
    node_id: str
    kind: str
    changes: tuple  # ((what, old, new), ...) where `what` is "kind", "label" or a parameter name

    def text(self) -> str:
        parts = [f"{what} {_fmt(old)} → {_fmt(new)}" for what, old, new in self.changes]
        return f"{self.node_id} ({self.kind}): " + ", ".join(parts)


@dataclass(frozen=True)
class GraphDiff:
    added: tuple = ()      # LayerSpec in b only
    removed: tuple = ()    # LayerSpec in a only
    changed: tuple = ()    # LayerChange
    edges_added: tuple = ()
    edges_removed: tuple = ()

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.edges_added or self.edges_removed)

    def summary(self, most: int = 2) -> str:
        """A few words for a run's name: "+Dropout, conv2d_1 changed" ("" when nothing differs)."""
        parts = [f"+{n.kind}" for n in self.added] + [f"−{n.kind}" for n in self.removed]
        parts += [f"{c.node_id} changed" for c in self.changed if any(w != "label" for w, _o, _n in c.changes)]
        if not parts and (self.edges_added or self.edges_removed):
            parts = ["rewired"]
        return ", ".join(parts[:most]) + (", …" if len(parts) > most else "")

    def lines(self) -> list:
        """Readable one-line descriptions, for a list view or a report."""
        out = [f"+ {n.id} ({n.kind}{_params_text(n.params)})" for n in self.added]
        out += [f"− {n.id} ({n.kind})" for n in self.removed]
        out += [f"~ {c.text()}" for c in self.changed]
        out += [f"+ connection {e.source} → {e.target}" for e in self.edges_added]
        out += [f"− connection {e.source} → {e.target}" for e in self.edges_removed]
        return out


def diff_graphs(a: GraphSpec, b: GraphSpec) -> GraphDiff:
    """Layers and connections that differ from `a` to `b`."""
    na, nb = a.node_map(), b.node_map()
    added = tuple(n for n in b.nodes if n.id not in na)
    removed = tuple(n for n in a.nodes if n.id not in nb)
    changed = []
    for n in b.nodes:
        old = na.get(n.id)
        if old is None:
            continue
        changes = []
        if old.kind != n.kind:
            changes.append(("kind", old.kind, n.kind))
        if old.label != n.label:
            changes.append(("label", old.label, n.label))
        for name in sorted(set(old.params) | set(n.params)):
            if old.params.get(name) != n.params.get(name):
                changes.append((name, old.params.get(name), n.params.get(name)))
        if changes:
            changed.append(LayerChange(n.id, n.kind, tuple(changes)))
    ea, eb = set(a.edges), set(b.edges)
    return GraphDiff(added, removed, tuple(changed),
                     tuple(e for e in b.edges if e not in ea), tuple(e for e in a.edges if e not in eb))


def flatten_config(config: TrainConfig | Mapping[str, Any]) -> dict:
    """A TrainConfig (or its to_dict()) as flat {"lr": ..., "augmentation.hflip": ...} pairs."""
    if dataclasses.is_dataclass(config):
        config = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            for sub, v in flatten_config(value).items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


@dataclass(frozen=True)
class ConfigRow:
    name: str
    values: tuple          # one per run
    differs: bool = field(default=False)


def compare_configs(configs: Iterable[TrainConfig | Mapping[str, Any]]) -> list:
    """Hyper-parameters of several runs side by side: one ConfigRow per setting, differing ones first."""
    flats = [flatten_config(c) for c in configs]
    names = []
    for f in flats:
        names += [k for k in f if k not in names]
    rows = [ConfigRow(name, tuple(f.get(name) for f in flats), len({repr(f.get(name)) for f in flats}) > 1)
            for name in names]
    return sorted(rows, key=lambda r: not r.differs)  # stable: keeps the config's own order otherwise


def _fmt(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple):
        return "×".join(map(str, value))
    return "—" if value in (None, "") else str(value)


def _params_text(params: dict) -> str:
    return (": " + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())) if params else ""
