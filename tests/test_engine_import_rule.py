"""engine/ never imports Qt, pyqtgraph or designer/: checked statically on every import statement of every
engine module, at module level and inside functions, and on importlib.import_module / __import__ calls.

tests/test_engine_no_qt.py imports every engine module and looks at sys.modules, which only sees what runs at
import time; an import inside a function (engine has dozens, to keep start-up fast) is seen here instead.
"""
import ast
from pathlib import Path

import pytest

import engine

ENGINE = Path(engine.__file__).resolve().parent
FORBIDDEN = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "pyqtgraph", "qtpy", "designer")


def _forbidden(module_name: str) -> bool:
    return module_name.split(".")[0] in FORBIDDEN


def import_problems(source: str, filename: str = "<source>") -> list:
    """Every forbidden or uncheckable import in `source`, as 'file:line: what' strings."""
    tree = ast.parse(source, filename)
    importlib_names, import_module_names = set(), {"__import__"}
    for node in ast.walk(tree):  # the names under which this file can reach importlib.import_module
        if isinstance(node, ast.Import):
            importlib_names |= {a.asname or a.name for a in node.names if a.name == "importlib" or
                                a.name.startswith("importlib.") and not a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module == "importlib" and not node.level:
            import_module_names |= {a.asname or a.name for a in node.names if a.name == "import_module"}
    importlib_names = {n.split(".")[0] for n in importlib_names}

    problems = []
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            problems += [f"{where}: import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and not node.level and _forbidden(node.module or ""):
            problems.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func, importlib_names, import_module_names):
            target = node.args[0] if node.args else None
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                if _forbidden(target.value):
                    problems.append(f"{where}: import_module({target.value!r})")
            elif not _within_own_package(target):
                problems.append(f"{where}: a dynamic import whose module name cannot be checked statically "
                                f"({ast.unparse(target) if target else 'no argument'}); use a string literal")
    return problems


def _is_dynamic_import(func, importlib_names, import_module_names) -> bool:
    if isinstance(func, ast.Name):
        return func.id in import_module_names
    return (isinstance(func, ast.Attribute) and func.attr == "import_module" and
            isinstance(func.value, ast.Name) and func.value.id in importlib_names)


def _within_own_package(target) -> bool:
    """f"{__name__}.{x}": a submodule of the calling module's own package (engine.cli's command loader)."""
    return (isinstance(target, ast.JoinedStr) and len(target.values) >= 2 and
            isinstance(target.values[0], ast.FormattedValue) and
            isinstance(target.values[0].value, ast.Name) and target.values[0].value.id == "__name__" and
            isinstance(target.values[1], ast.Constant) and str(target.values[1].value).startswith("."))


def engine_files() -> list:
    return sorted(p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_engine_module_imports_qt_pyqtgraph_or_designer_anywhere():
    files = engine_files()
    assert ENGINE / "analysis.py" in files and ENGINE / "cli" / "train.py" in files and len(files) > 50
    problems = []
    for path in files:
        problems += import_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ENGINE.parent)))
    assert not problems, "engine/ must run without Qt or designer/:\n" + "\n".join(problems)


def test_the_check_sees_imports_inside_functions_and_dynamic_ones():
    source = '''
import importlib
import importlib as il
from importlib import import_module as im
from engine.interchange.fx_import import import_module

import numpy
from PySide6.QtCore import QObject

def later():
    import pyqtgraph as pg
    from designer.theme import app_icon
    if True:
        import shiboken6
    return importlib.import_module("designer.app"), il.import_module("PySide6.QtWidgets"), im("engine.graph")

class Panel:
    def show(self, name):
        __import__("PySide6")
        importlib.import_module(name)
        importlib.import_module(f"{__name__}.commands")
        import_module(object(), (3, 32, 32))   # engine's own fx importer, not importlib's
'''
    problems = import_problems(source, "x.py")
    assert len(problems) == 8, problems
    assert {p.split(": ", 1)[1] for p in problems} == {
        "from PySide6.QtCore import ...", "import pyqtgraph", "from designer.theme import ...", "import shiboken6",
        "import_module('designer.app')", "import_module('PySide6.QtWidgets')", "import_module('PySide6')",
        "a dynamic import whose module name cannot be checked statically (name); use a string literal"}
    assert all(p.startswith("x.py:") for p in problems)


@pytest.mark.parametrize("line", ["import numpy", "from engine import graph", "from . import graph",
                                  "import importlib\nimportlib.import_module('torch.nn')"])
def test_the_check_lets_ordinary_imports_pass(line):
    assert import_problems(line) == []
