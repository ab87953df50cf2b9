"""Every public function and method in engine/ has complete type hints: an annotation on every parameter
(except a method's self/cls) and on the return. Checked statically on the source, so no engine module is
imported here.

Public: a function defined at module level (also under a module-level if/try/with), or a method of a class
that is itself public, whose name does not start with "_". Dunder methods (__init__, ...) are not required.
Functions nested inside other functions, and classes defined inside functions, are not public.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"

# Files someone else is annotating right now; they leave this set as they are done. Patterns as fnmatch sees
# them, relative to the repository root, "/"-separated.
NOT_YET: set = set()

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of `body` and of the if/try/with/loop blocks in it, but not of functions or classes."""
    for node in body:
        yield node
        if isinstance(node, _BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                yield from _statements(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from _statements(handler.body)
        elif isinstance(node, getattr(ast, "TryStar", ())):
            yield from _statements(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                yield from _statements(handler.body)


def _public_functions(body: list[ast.stmt], prefix: str = "",
                      in_class: bool = False) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """(qualified name, node, is a method) of every public function or method defined in `body`."""
    for node in _statements(body):
        if isinstance(node, _FUNCTIONS) and not node.name.startswith("_"):
            yield prefix + node.name, node, in_class
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield from _public_functions(node.body, f"{prefix}{node.name}.", in_class=True)


def _is_staticmethod(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" or
               isinstance(d, ast.Attribute) and d.attr == "staticmethod" for d in node.decorator_list)


def missing_annotations(source: str, filename: str = "<source>") -> list[str]:
    """'file:line name' (with what is missing) for every public function or method lacking a type hint."""
    problems = []
    for name, node, is_method in _public_functions(ast.parse(source, filename).body):
        args = node.args
        positional = args.posonlyargs + args.args
        if is_method and not _is_staticmethod(node) and positional:
            positional = positional[1:]  # self or cls
        params = positional + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a is not None]
        missing = [a.arg for a in params if a.annotation is None]
        if node.returns is None:
            missing.append("return")
        if missing:
            problems.append(f"{filename}:{node.lineno} {name} (no annotation on: {', '.join(missing)})")
    return problems


def engine_files() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts)


def _skipped(relative: str) -> bool:
    return any(fnmatch(relative, pattern) for pattern in NOT_YET)


def test_every_public_engine_function_has_type_hints() -> None:
    files = engine_files()
    assert ENGINE / "graph.py" in files and ENGINE / "training" / "loop.py" in files and len(files) > 50
    problems = []
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if not _skipped(relative):
            problems += missing_annotations(path.read_text(encoding="utf-8"), relative)
    assert not problems, ("public functions in engine/ without complete type hints:\n" + "\n".join(problems))


def test_every_not_yet_entry_still_names_a_file() -> None:
    relatives = [p.relative_to(ROOT).as_posix() for p in engine_files()]
    stale = sorted(pattern for pattern in NOT_YET if not any(fnmatch(r, pattern) for r in relatives))
    assert not stale, f"NOT_YET names files that no longer exist: {stale}"


EXAMPLE = '''
from __future__ import annotations


def bare(x, y=1):
    return x


def annotated(x: int, *args: str, key: str | None = None, **kw: float) -> int:
    def inner(z):  # nested: not public
        return z
    return x


def no_return(x: int):
    return x


def half(x: int, y) -> int:
    return x


def _private(x):
    return x


if True:
    def under_if(x):
        return x


class Shape:
    def __init__(self, size):
        self.size = size

    def area(self):
        return self.size

    def scaled(self, factor: float) -> Shape:
        return Shape(self.size * factor)

    @classmethod
    def unit(cls) -> Shape:
        return cls(1)

    @staticmethod
    def parse(text) -> Shape:
        return Shape(int(text))

    @staticmethod
    def zero() -> Shape:
        return Shape(0)

    async def later(self, *args, **kwargs) -> None:
        pass

    def _helper(self, x):
        return x

    class Inner:
        def deep(self, x):
            return x


class _Hidden:
    def method(self, x):
        return x
'''


def test_the_check_reports_missing_hints_and_only_those() -> None:
    problems = missing_annotations(EXAMPLE, "example.py")
    assert problems == [
        "example.py:5 bare (no annotation on: x, y, return)",
        "example.py:15 no_return (no annotation on: return)",
        "example.py:19 half (no annotation on: y)",
        "example.py:28 under_if (no annotation on: x, return)",
        "example.py:36 Shape.area (no annotation on: return)",
        "example.py:47 Shape.parse (no annotation on: text)",
        "example.py:54 Shape.later (no annotation on: args, kwargs)",
        "example.py:61 Shape.Inner.deep (no annotation on: x, return)",
    ], problems
    assert missing_annotations("def f(x: int) -> int:\n    return x\n") == []
    assert missing_annotations("def f(x) -> int:\n    return x\n") == ["<source>:1 f (no annotation on: x)"]
