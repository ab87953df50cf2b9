"""The real entry point starts the app, paints the window and quits cleanly (what the wheel smoke test and
bench/startup.py rely on), and the window icon is the app's own."""
import os
import re
import subprocess
import sys

import pytest

from designer.app import EXIT_AFTER_PAINT
from designer.theme import app_icon


@pytest.mark.slow  # a whole app start in a new process
def test_the_app_paints_then_quits_cleanly_when_asked(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", EXIT_AFTER_PAINT: "1",
           "CNN_DESIGNER_SETTINGS_DIR": str(tmp_path / "settings")}
    done = subprocess.run([sys.executable, "-c", "import sys, main; sys.exit(main.main([]))"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    painted = re.search(rf"{EXIT_AFTER_PAINT}: painted at ([\d.]+)", done.stderr)
    closing = re.search(rf"{EXIT_AFTER_PAINT}: closing at ([\d.]+)", done.stderr)
    assert painted and closing, done.stderr[-3000:]
    assert float(painted.group(1)) <= float(closing.group(1))
    assert "Traceback" not in done.stderr


def test_the_window_icon_is_the_apps_svg_and_renders(qapp):
    icon = app_icon()
    assert not icon.isNull() and not icon.pixmap(48).isNull()
