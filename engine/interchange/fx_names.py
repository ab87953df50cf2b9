"""Names for imported layers: the original's module paths, so its structure and state_dict keys survive.

A layer that is a module of the original keeps that module's path (`layer1.0.conv1`). An operation written
in a forward (`out += identity`, `torch.flatten(x, 1)`) gets a name inside the module whose forward it is in
(`layer1.0.add`), the same name in every instance of that module, so the exported code can write the module
as one class. Each module that groups layers records its original class name (`BasicBlock`).
"""
from __future__ import annotations

import re

from torch import fx, nn

from engine.module_paths import module_attribute_names, path_problem

_COUNTER = re.compile(r"_[0-9]+$")


class ModuleNamer:
    def __init__(self, original: nn.Module) -> None:
        self.original = original
        self.taken: dict = {}      # scope -> local names in use there
        self.scopes: set = set()   # module paths that group named layers
        self.leaves: dict = {}     # module path of a layer -> whether it holds weights

    def module(self, target: str) -> str:
        """The name of a layer that is the original's module (or owns its weights) at `target`."""
        if path_problem(target):
            return ""
        self._note_scopes(target)
        return target

    def operation(self, node: fx.Node, scope: str) -> str:
        """A name for an operation without weights, in the module `scope` ("" for the top level)."""
        base = _COUNTER.sub("", node.name) or "op"
        if base in module_attribute_names():   # `x.float()` would be called `float`, which hides Module.float
            base += "_op"
        taken = self.taken.get(scope)
        if taken is None:
            taken = self.taken[scope] = self._names_of(scope)
        local, n = base, 0
        while local in taken:
            n += 1
            local = f"{base}_{n}"
        taken.add(local)
        name = f"{scope}.{local}" if scope else local
        if path_problem(name):
            return ""
        self._note_scopes(name)
        return name

    def fit(self, name: str, stateful: bool) -> str:
        """`name`, or what keeps the tree a tree: a layer cannot sit where another layer's path is a folder
        (a batch norm with its activation inside, `bn1` and `bn1.act`). A layer without weights moves beside
        it (`bn1_act`); one with weights keeps its id ("") rather than store weights under another name."""
        parts = name.split(".")
        clash = next((".".join(parts[:d]) for d in range(1, len(parts)) if ".".join(parts[:d]) in self.leaves), None)
        folder = name not in self.leaves and any(p.startswith(name + ".") for p in self.leaves)
        if clash is not None or folder:
            if stateful:
                return ""
            base = clash + "_" + "_".join(parts[len(clash.split(".")):]) if clash is not None else name + "_op"
            name, n = base, 1
            while name in self.leaves or path_problem(name):
                n += 1
                name = f"{base}_{n}"
                if n > 1000:
                    return ""
        if name in self.leaves and (stateful or self.leaves[name]):
            return ""
        self.leaves[name] = stateful
        self._note_scopes(name)
        return name

    def module_classes(self) -> tuple:
        """(module path, original class name) of every module that groups named layers, outermost first."""
        pairs = []
        for scope in sorted(self.scopes, key=lambda s: (s.count("."), s)):
            try:
                cls = type(self.original.get_submodule(scope)).__name__
            except AttributeError:
                continue
            if cls.isascii() and cls.isidentifier():
                pairs.append((scope, cls))
        return tuple(pairs)

    def _names_of(self, scope: str) -> set:
        """What the original's module at `scope` already holds: children, parameters and buffers."""
        try:
            owner = self.original.get_submodule(scope) if scope else self.original
        except AttributeError:
            return set()
        names = {n for n, _ in owner.named_children()}
        names |= {n for n, _ in owner.named_parameters(recurse=False)}
        names |= {n for n, _ in owner.named_buffers(recurse=False)}
        return names

    def _note_scopes(self, path: str) -> None:
        parts = path.split(".")
        for depth in range(1, len(parts)):
            self.scopes.add(".".join(parts[:depth]))
