"""Killing `cnn-designer train` with SIGKILL in the middle of a run, as a crash or the OOM killer would."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kill_after_two_checkpoints(args: list, run: Path) -> None:
    """Run main.py with `args` and SIGKILL it soon after its checkpoint has been replaced once: two epochs are
    done, so the files of the first were written whatever the engine does afterwards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first = None
        while child.poll() is None:
            try:
                inode = (run / "checkpoints" / "last.pt").stat().st_ino
            except OSError:
                inode = None
            first = first or inode
            if inode is not None and inode != first:
                break
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode(errors="replace")  # killed mid-run, not finished
