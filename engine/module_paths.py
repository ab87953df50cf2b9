"""Module paths: the name under which each layer's weights are stored, e.g. `layer1.0.conv1`.

A layer drawn on the canvas is stored under its node id (`conv2d_3.weight`). A layer that came from an
imported model keeps the original's module path as its `name`, so the compiled network, every weights file
the app writes and the exported class all use the original's state_dict keys: weights trained in the app
load into the original model, and the original's weights load into the export with strict=True.

A layer kind whose whole state is one tensor (a layer scale) may stand for a bare parameter of the original
(`features.1.0.layer_scale`); it is then stored under the path itself, not `path.scale`.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from engine.graph import GraphSpec, LayerSpec

if TYPE_CHECKING:
    from torch import nn

# Letters, digits, "_" and "-" (torchvision's RegNet names blocks "block1-0"): safe inside a quoted string of
# exported code; parts that are not Python names are written as getattr(self, "block1-0").
_PART = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
MAX_PATH_CHARS = 250
MAX_DEPTH = 32


def path_problem(name: str) -> str:
    """Why `name` cannot be a module path ("" when it can): dot-separated Python names or numbers."""
    if not isinstance(name, str) or not name:
        return "a module path is text such as layer1.0.conv1"
    if len(name) > MAX_PATH_CHARS:
        return f"a module path has at most {MAX_PATH_CHARS} characters"
    parts = name.split(".")
    if len(parts) > MAX_DEPTH:
        return f"a module path has at most {MAX_DEPTH} parts"
    for part in parts:
        if not _PART.match(part) or part.startswith("__"):
            return (f"{part!r} in {name!r} is not a valid part of a module path: use up to 63 letters, digits, "
                    f"underscores and hyphens, not starting with two underscores")
        if part in module_attribute_names():
            return (f"{part!r} in {name!r} is the name of a method or attribute every PyTorch module has (such as "
                    f"forward or training); PyTorch does not allow it as a layer's name")
    return ""


@functools.lru_cache(maxsize=1)
def module_attribute_names() -> frozenset:
    """What nn.Module itself defines: a layer called `forward` would hide the method in exported code, which is
    why nn.Module.add_module refuses these names too."""
    from torch import nn

    return frozenset(dir(nn.Module())) | frozenset(dir(nn.Module))


def module_path(node: LayerSpec) -> str:
    """Where the node's weights live: its name, or its id for a layer drawn on the canvas."""
    return node.name or node.id


def path_problems(graph: GraphSpec) -> list[str]:
    """What is wrong with the graph's module paths: invalid names, two different layers under one path, or a
    path that is also the folder of other paths (so the exported class could not hold both). Layers of one
    kind with equal settings may share a path: the original called one module twice (a ReLU). Whether they
    hold weights, which they then may not share, is checked when the network is built."""
    problems, owners = [], {}
    for node in graph.nodes:
        if node.name:
            why = path_problem(node.name)
            if why:
                problems.append(f"layer {node.id}: {why}")
                continue
        if node.kind in ("Input", "Output"):
            continue
        path = module_path(node)
        other = owners.get(path)
        if other is not None and (other.kind != node.kind or other.params != node.params):
            problems.append(f"layers {other.id} and {node.id} both use the module path {path!r}; only layers "
                            f"of one kind with the same settings may share a path")
        owners.setdefault(path, node)
    for path, node in owners.items():
        parts = path.split(".")
        for depth in range(1, len(parts)):
            folder = ".".join(parts[:depth])
            if folder in owners:
                problems.append(f"layer {owners[folder].id} uses the module path {folder!r}, which also holds "
                                f"{node.id} ({path}); give one of them another name")
                break
    return problems


def layers_named(graph: GraphSpec, entry: str) -> list[str]:
    """The node ids a freeze entry means: a node id, a module path, or a group of them (`layer1` stands for
    every layer whose path starts with `layer1.`)."""
    if graph.has_node(entry):
        return [entry]
    return [n.id for n in graph.nodes if n.name and (n.name == entry or n.name.startswith(entry + "."))]


def frozen_layers(graph: GraphSpec, entries: Iterable[str], model: nn.Module) -> tuple[list[str], list[str]]:
    """(node ids to freeze that are modules of the compiled `model`, entries that name none)."""
    frozen, unknown = [], []
    for entry in entries:
        found = [nid for nid in layers_named(graph, entry) if hasattr(model, nid)]
        frozen += found
        if not found:
            unknown.append(entry)
    return list(dict.fromkeys(frozen)), unknown


def state_key_map(graph: GraphSpec, node_ids: Iterable[str]) -> dict[str, str]:
    """{compiled submodule name: module path} for the named nodes among `node_ids` (others keep their id)."""
    nodes = graph.node_map()
    return {nid: nodes[nid].name for nid in node_ids if nodes[nid].name and nodes[nid].name != nid}


class StateKeyNames:
    """State_dict hooks that rename a compiled module's keys between its submodule names (node ids) and the
    design's module paths: `conv2d_2.weight` <-> `layer1.0.conv1.weight`, and `layer_scale_1.scale` <->
    `features.1.0.layer_scale` for a bare parameter. A plain object with data only, so a compiled module
    still deep-copies and pickles."""

    def __init__(self, paths: dict[str, str], bare: dict[str, str]) -> None:
        self.paths = dict(paths)    # submodule name -> module path
        self.bare = dict(bare)      # submodule name -> its one tensor's name, for a bare parameter

    def outward(self, key: str) -> str:
        head, _, rest = key.partition(".")
        path = self.paths.get(head)
        if path is None:
            return key
        return path if self.bare.get(head) == rest else f"{path}.{rest}"

    def inward_map(self, keys: Iterable[str]) -> dict[str, str]:
        """{outside key: submodule key} for every key the module holds."""
        return {self.outward(k): k for k in keys}

    def after_state_dict(self, module: nn.Module, state: dict, prefix: str, _metadata: object) -> None:
        own = [k for k in state if k.startswith(prefix)]
        values = [(k, state.pop(k)) for k in own]   # keep the original order, renamed
        for key, value in values:
            state[prefix + self.outward(key[len(prefix):])] = value

    def before_load(self, module: nn.Module, state: dict, prefix: str, *_args: object) -> None:
        inward = {prefix + outside: prefix + inside for outside, inside in
                  self.inward_map(k for k in _local_keys(module)).items()}
        for key in [k for k in state if k in inward and inward[k] != k]:
            state[inward[key]] = state.pop(key)

    def after_load(self, module: nn.Module, incompatible: object) -> None:
        """Missing keys named as the caller knows them (module paths), so torch's own message is right."""
        missing = incompatible.missing_keys
        missing[:] = [self.outward(k) for k in missing]


def _local_keys(module: nn.Module) -> list[str]:
    """The module's own state keys (submodule names), without running its state_dict hooks."""
    keys = [name for name, _ in module.named_parameters(remove_duplicate=False)]
    keys += [name for name, _ in module.named_buffers(remove_duplicate=False)
             if _persistent(module, name)]
    return keys


def _persistent(module: nn.Module, name: str) -> bool:
    owner_path, _, buffer = name.rpartition(".")
    owner = module.get_submodule(owner_path) if owner_path else module
    return buffer not in getattr(owner, "_non_persistent_buffers_set", set())


def install_state_names(module: nn.Module, names: StateKeyNames) -> None:
    """Make `module.state_dict()` and `module.load_state_dict()` speak module paths."""
    if not names.paths:
        return
    post = getattr(module, "register_state_dict_post_hook", None) or module._register_state_dict_hook
    post(functools.partial(names.after_state_dict))   # a partial: torch marks the hook with an attribute
    module.register_load_state_dict_pre_hook(functools.partial(names.before_load))
    module.register_load_state_dict_post_hook(functools.partial(names.after_load))
    module.state_key_names = names


def outside_key(module: nn.Module, key: str) -> str:
    """The state_dict key of a compiled module's parameter `key` (`conv2d_2.weight` -> `layer1.0.conv1.weight`)."""
    names = getattr(module, "state_key_names", None)
    return names.outward(key) if names is not None else key
