"""Constructor calls in exported code: a canonical form to compare, a tidy form to print.

The layer emitters leave out arguments at their defaults (`nn.Conv2d(64, 64, kernel_size=3, padding=1)`), so
two convolutions that differ only in stride read differently. `canonical` writes every defaulted keyword out,
so instances of one block compare equal number for number (engine.codegen_slots); `tidy` drops the keywords
that are at their defaults again and lays containers out one member per line.
"""
from __future__ import annotations

import ast
import functools
import inspect

INDENT = "    "
_CONTAINERS = {"nn.Sequential", "nn.ModuleDict", "ModuleHolder", "OrderedDict"}


def canonical(text: str) -> str:
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            given = {k.arg for k in node.keywords}
            names = list(_signature(_callee(node)))
            for name in names[len(node.args):]:
                default = _signature(_callee(node))[name]
                if name not in given and default is not inspect.Parameter.empty:
                    node.keywords.append(ast.keyword(name, ast.Constant(default)))
            rank = {name: i for i, name in enumerate(names)}
            node.keywords.sort(key=lambda k: rank.get(k.arg, len(rank)))
    return ast.unparse(tree)


def tidy(text: str) -> str:
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            defaults = _signature(_callee(node))
            node.keywords = [k for k in node.keywords if not _is_default(k, defaults)]
    return _format(tree.body, 0)


def _is_default(keyword: ast.keyword, defaults: dict) -> bool:
    if keyword.arg not in defaults or defaults[keyword.arg] is inspect.Parameter.empty:
        return False
    try:
        value = ast.literal_eval(keyword.value)
    except ValueError:
        return False
    default = defaults[keyword.arg]
    return type(value) is type(default) and value == default


def _format(node: ast.AST, depth: int) -> str:
    """One member per line inside containers; everything else as Python writes it."""
    inner = INDENT * (depth + 1)
    if isinstance(node, ast.Call):
        callee = _callee(node)
        if callee in _CONTAINERS and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Dict)):
            return f"{callee}({_format(node.args[0], depth)})"
        if callee in _CONTAINERS and node.args:
            return f"{callee}(\n" + "".join(f"{inner}{_format(a, depth + 1)},\n" for a in node.args) + \
                INDENT * depth + ")"
        parts = [_format(a, depth) for a in node.args] + [f"{k.arg}={_format(k.value, depth)}" if k.arg else
                                                          ast.unparse(k) for k in node.keywords]
        return f"{callee}({', '.join(parts)})"
    if isinstance(node, ast.List) and node.elts:
        return "[\n" + "".join(f"{inner}{_format(e, depth + 1)},\n" for e in node.elts) + INDENT * depth + "]"
    if isinstance(node, ast.Dict) and node.keys and all(k is not None for k in node.keys):
        return "{\n" + "".join(f"{inner}{ast.unparse(k)}: {_format(v, depth + 1)},\n"
                               for k, v in zip(node.keys, node.values)) + INDENT * depth + "}"
    if isinstance(node, ast.Tuple) and any(isinstance(e, ast.Call) for e in node.elts):
        return "(" + ", ".join(_format(e, depth) for e in node.elts) + ")"
    return ast.unparse(node)


def _callee(node: ast.Call) -> str:
    try:
        return ast.unparse(node.func)
    except Exception:   # noqa: BLE001 (an odd expression: no known signature)
        return ""


@functools.lru_cache(maxsize=256)
def _signature(callee: str) -> dict:
    """{parameter: default} of a torch.nn or engine.modules constructor (simple literal defaults only)."""
    import torch.nn

    from engine import modules

    owner, _, attr = callee.rpartition(".")
    target = getattr(torch.nn, attr, None) if owner == "nn" else getattr(modules, callee, None) if not owner else None
    if not inspect.isclass(target):
        return {}
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    out = {}
    for name, p in params.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        simple = p.default is inspect.Parameter.empty or type(p.default) in (int, float, bool, str)
        out[name] = p.default if simple else inspect.Parameter.empty
    return out
