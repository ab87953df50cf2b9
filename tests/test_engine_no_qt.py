"""engine/ must run headless: importing every engine module never loads PySide6 or designer/."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent


def test_engine_modules_never_import_qt_or_designer():
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    assert "engine.analysis" in names and "engine.compiler" in names
    script = ("import importlib, sys\n"
              f"for name in {names!r}:\n"
              "    importlib.import_module(name)\n"
              "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'designer'))\n"
              "print('QT-MODULES:' + ','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "QT-MODULES:\n" in out.stdout, f"engine imported Qt or designer modules: {out.stdout}"
