"""Benchmark: how long the desktop app takes to show its first painted window, and to quit after the window
is closed, against a baseline measured in the same run: a fresh Python that only imports torch and
PySide6.QtWidgets (what any such app pays before it can draw anything). Prints a table, the ratios and a
JSON line. Never part of the tests.

    python bench/startup.py [--repeat 3] [--platform offscreen]

Each start is a new process: the real entry point (main.main) with CNN_DESIGNER_EXIT_AFTER_PAINT=1, which
prints the time of the first paint and of the close on stderr (time.monotonic, shared by all processes of
the machine); settings go to a fresh temporary folder so no autosave is offered. On a machine shared with
other work the numbers vary a lot; compare ratios from the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "CNN_DESIGNER_EXIT_AFTER_PAINT"


def baseline_import(env) -> float:
    """Seconds for a new Python process to import torch and PySide6.QtWidgets and exit."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import torch, PySide6.QtWidgets"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=600)
    return time.monotonic() - start


def app_start_and_quit(env) -> tuple:
    """(seconds from spawning the app to its first paint, seconds from closing the window to process exit)."""
    with tempfile.TemporaryDirectory() as settings:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", "import sys, main; sys.exit(main.main([]))"], cwd=ROOT,
                              env={**env, MARK: "1", "CNN_DESIGNER_SETTINGS_DIR": settings},
                              capture_output=True, text=True, timeout=600)
        end = time.monotonic()
    painted = re.search(rf"{MARK}: painted at ([\d.]+)", done.stderr)
    closing = re.search(rf"{MARK}: closing at ([\d.]+)", done.stderr)
    if done.returncode != 0 or not painted or not closing:
        raise SystemExit(f"the app did not start, paint and quit cleanly (exit code {done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    return float(painted.group(1)) - start, end - float(closing.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="starts of each kind (default 3)")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                        help="Qt platform plugin (default: $QT_QPA_PLATFORM, else offscreen)")
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": args.platform}

    baseline, paint, quit_ = [], [], []
    for _ in range(args.repeat):  # interleaved, so a burst of load on the machine hits both alike
        baseline.append(baseline_import(env))
        first_paint, to_quit = app_start_and_quit(env)
        paint.append(first_paint)
        quit_.append(to_quit)

    rows = {"import torch + PySide6.QtWidgets (baseline)": baseline, "app: start to first paint": paint,
            "app: window closed to process exit": quit_}
    print(f"{'':46s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    for name, values in rows.items():
        print(f"{name:46s} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")
    ratio = statistics.median(paint) / statistics.median(baseline)
    print(f"\nfirst paint / baseline import: {ratio:.2f}x (median of {args.repeat}); "
          f"quit takes {statistics.median(quit_):.2f} s")
    print(json.dumps({"bench": "startup", "platform": args.platform, "repeat": args.repeat,
                      "baseline_import_s": baseline, "first_paint_s": paint, "quit_s": quit_,
                      "first_paint_over_baseline": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
