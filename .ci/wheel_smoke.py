"""Smoke test of an installed CNN Designer (a wheel, not the checkout): run by .ci/run from a folder outside
the checkout, with the Python of the virtual environment the wheel was installed into.

    VENV/bin/python .ci/wheel_smoke.py --source-resources CHECKOUT/resources

Checks that the installed code is not the checkout's; that every run-time file of the checkout's
resources/ is installed, byte for byte; that every template and lesson loads; that the style sheets and
the icon are found (and the icon renders); that `cnn-designer analyze lenet5` and a one-epoch `train` work;
that the desktop entry installs (starting this installation, with its icon) and uninstalls; and that the
app starts offscreen, paints its window and quits cleanly. Prints one line per check and
exits 1 naming every failure. Not a pytest file: it tests an installation, not the source.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Files under resources/ that are not needed at run time: the README's screenshots and generator scripts.
NOT_SHIPPED = ("screenshots/*", "*.py", "*/__pycache__/*", "__pycache__/*")
CHECKOUT = Path(__file__).resolve().parent.parent
failures: list = []


def check(name: str):
    """Decorator: run a check, print its outcome and time, record a failure instead of stopping."""
    def run(func):
        start = time.monotonic()
        try:
            detail = func() or ""
        except Exception as exc:  # a smoke test reports every broken thing, then fails
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"FAIL {name} ({time.monotonic() - start:.1f} s): {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"ok   {name} ({time.monotonic() - start:.1f} s) {detail}", flush=True)
        return func
    return run


def runtime_files(folder: Path) -> list:
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(n for n in names if not any(fnmatch.fnmatch(n, pattern) for pattern in NOT_SHIPPED))


def command(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Run the installed `cnn-designer` console script of this environment."""
    script = Path(sys.executable).with_name("cnn-designer")
    if not script.is_file():
        raise AssertionError(f"the console script {script} was not installed")
    done = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise AssertionError(f"cnn-designer {' '.join(args)} exited with {done.returncode}:\n"
                             f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-resources", type=Path, default=CHECKOUT / "resources",
                        help="the checkout's resources/ folder, whose run-time files must all be installed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cnn-designer-smoke-"))
    os.chdir(work)  # outside the checkout: nothing may be imported from it
    os.environ["CNN_DESIGNER_SETTINGS_DIR"] = str(work / "settings")   # no autosave to offer, no user settings
    os.environ["CNN_DESIGNER_DATA"] = str(work / "datasets")
    print(f"smoke test of the installation in {sys.prefix}, working in {work}", flush=True)

    @check("the installed packages are not the checkout's")
    def _():
        import cnn_designer_resources
        import designer
        import engine
        import main as main_module
        for module in (engine, designer, cnn_designer_resources, main_module):
            where = Path(module.__file__).resolve()
            if where.is_relative_to(CHECKOUT):
                raise AssertionError(f"{module.__name__} is imported from the checkout ({where}), not the install")
        return f"({Path(engine.__file__).parent.parent})"

    @check("every run-time resource is installed, unchanged")
    def _():
        from engine.resource_files import resource_root
        wanted = runtime_files(args.source_resources)
        if not wanted:
            raise AssertionError(f"no resources found in {args.source_resources}; pass --source-resources")
        root = resource_root()
        missing = [n for n in wanted if not (root / n).is_file()]
        changed = [n for n in wanted if n not in missing and
                   (root / n).read_bytes() != (args.source_resources / n).read_bytes()]
        if missing or changed:
            raise AssertionError(f"missing from the installation: {missing}; different from the checkout: "
                                 f"{changed} (pyproject.toml's [tool.setuptools.package-data] lists what ships)")
        return f"({len(wanted)} files)"

    @check("every template loads and analyzes without errors")
    def _():
        from engine.analysis import analyze
        from engine.templates import list_templates, load_template
        templates = list_templates()
        expected = {Path(n).stem for n in runtime_files(args.source_resources) if n.startswith("templates/")}
        if {t.key for t in templates} != expected:
            raise AssertionError(f"templates installed {sorted(t.key for t in templates)}, expected {sorted(expected)}")
        bad = [t.key for t in templates if not analyze(load_template(t.key)).ok]
        if bad:
            raise AssertionError(f"templates with errors: {bad}")
        return f"({len(templates)})"

    @check("every lesson loads, with its designs")
    def _():
        from engine.teaching.lessons import load_lessons
        lessons, problems = load_lessons()
        expected = [n for n in runtime_files(args.source_resources) if fnmatch.fnmatch(n, "lessons/[0-9]*.json")]
        if problems or len(lessons) != len(expected):
            raise AssertionError(f"{len(lessons)} lessons of {len(expected)} loaded; problems: {problems}")
        for lesson in lessons:
            for ref in (lesson.design, *lesson.more_designs):
                ref.load()
        return f"({len(lessons)})"

    @check("the style sheets and the icon are found, and the icon renders")
    def _():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from designer.theme import THEMES, app_icon
        from engine.resource_files import required_resource, style_sheet
        for theme in THEMES:
            if not style_sheet(theme).read_text(encoding="utf-8").strip():
                raise AssertionError(f"the {theme} style sheet {style_sheet(theme)} is empty")
        required_resource("icons", "cnn-designer.svg")
        app = QApplication.instance() or QApplication([])
        pixmap = app_icon().pixmap(64)
        if pixmap.isNull():
            raise AssertionError("the app icon does not render (is Qt's SVG support installed?)")
        del app
        return f"({', '.join(THEMES)}; icon {pixmap.width()}x{pixmap.height()})"

    @check("cnn-designer analyze lenet5")
    def _():
        out = command("analyze", "lenet5").stdout
        if "Total: 61,706 parameters" not in out:
            raise AssertionError(f"unexpected summary:\n{out}")

    @check("cnn-designer train lenet5, one epoch on 600 generated digits")
    def _():
        run = work / "run"
        out = command("train", "lenet5", "--data", "generated_digits", "--size", "600", "--epochs", "1",
                      "--device", "cpu", "--quiet", "--out", str(run)).stdout
        if "test accuracy" not in out or not (run / "weights.safetensors").is_file():
            raise AssertionError(f"no result or no weights in {run}:\n{out}")
        return f"({next(line for line in out.splitlines() if 'test accuracy' in line).strip()})"

    @check("cnn-designer --install-desktop-entry, then --uninstall-desktop-entry")
    def _():
        xdg = {"XDG_DATA_HOME": str(work / "xdg-data")}
        entry = work / "xdg-data" / "applications" / "cnn-designer.desktop"
        icon = work / "xdg-data" / "icons" / "hicolor" / "scalable" / "apps" / "cnn-designer.svg"
        command("--install-desktop-entry", env=xdg)
        launcher = Path(sys.executable).with_name("cnn-designer").absolute()
        if f"\nExec={launcher} %f\n" not in entry.read_text(encoding="utf-8"):
            raise AssertionError(f"the entry does not start {launcher}:\n{entry.read_text(encoding='utf-8')}")
        if icon.read_bytes() != (args.source_resources / "icons" / "cnn-designer.svg").read_bytes():
            raise AssertionError(f"the entry's icon {icon} is not the app's")
        command("--uninstall-desktop-entry", env=xdg)
        if entry.exists() or icon.exists():
            raise AssertionError("--uninstall-desktop-entry left the entry or its icon behind")

    @check("the app starts offscreen, paints its window and quits cleanly")
    def _():
        done = command(env={"QT_QPA_PLATFORM": "offscreen", "CNN_DESIGNER_EXIT_AFTER_PAINT": "1"}, timeout=300)
        if "CNN_DESIGNER_EXIT_AFTER_PAINT: painted at" not in done.stderr:
            raise AssertionError(f"the window never painted:\n{done.stderr[-3000:]}")
        if "Traceback" in done.stderr:
            raise AssertionError(f"the app printed an exception:\n{done.stderr[-3000:]}")

    os.chdir(work.parent)
    shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"\nwheel smoke test: {len(failures)} failed:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    print("wheel smoke test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
