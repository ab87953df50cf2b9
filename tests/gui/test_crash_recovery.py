"""Autosave and crash recovery with a real app process: two windows are edited through the document's undo
commands, the process is killed with SIGKILL once both have autosaved, and the next start offers each
window's work separately; accepting restores exactly the edited design, declining discards it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from designer import dialogs
from engine.graph_io import graph_from_dict, save_graph
from engine.templates import load_template

ROOT = Path(__file__).resolve().parents[2]

# Starts the app as `cnn-designer` does (designer.app.run_app), opens a second window, edits both, waits
# until each window's autosave holds its edits, writes the expected designs to OUT and says "autosaved".
DRIVER = r"""
import json, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(["cnn-designer"])
from designer.app import run_app
from designer.main_window import MainWindow
from engine.graph_io import graph_to_dict

out, design = Path(sys.argv[1]), sys.argv[2]
windows = []

def as_json(graph):
    return json.loads(json.dumps(graph_to_dict(graph)))

def edit():
    windows.extend(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    second = MainWindow()
    second.show()
    windows.append(second)
    windows[0].files.open_path(design, ask_to_save=False)   # the first edits a saved file, the second is new
    for i, w in enumerate(windows):
        d = w.document
        d.set_params("conv2d_1", {"out_channels": 10 + i})
        d.set_label("conv2d_2", f"edited in window {i + 1}")
        d.add_node("Dropout", (400.0 + 50 * i, 320.0))
    poll.start(50)

def autosaved(w):
    try:
        return json.loads(w.files.recovery_path.read_text(encoding="utf-8"))["graph"] == as_json(w.document.graph)
    except (OSError, ValueError, KeyError):
        return False

def check():
    if all(autosaved(w) for w in windows):
        poll.stop()
        out.write_text(json.dumps([{"graph": as_json(w.document.graph), "file": w.document.file_path,
                                    "recovery": str(w.files.recovery_path)} for w in windows]), encoding="utf-8")
        print("autosaved", flush=True)   # the test kills the process now, in the middle of its event loop

poll = QTimer()
poll.timeout.connect(check)
QTimer.singleShot(0, edit)
sys.exit(run_app([]))
"""


def run_and_kill(settings_dir: Path, out: Path, design: Path) -> list:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
           "CNN_DESIGNER_SETTINGS_DIR": str(settings_dir), "CNN_DESIGNER_AUTOSAVE_MS": "200"}
    app = subprocess.Popen([sys.executable, "-c", DRIVER, str(out), str(design)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    try:
        line = app.stdout.readline()
    finally:
        app.send_signal(signal.SIGKILL)
        _, err = app.communicate()
    assert line.strip() == "autosaved", err
    assert app.returncode == -signal.SIGKILL
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture
def crashed(tmp_path, isolated_settings):
    """The windows' states at the moment the app was killed."""
    design = tmp_path / "saved.json"
    save_graph(load_template("lenet5"), design)
    return run_and_kill(isolated_settings, tmp_path / "expected.json", design), design


def test_killed_app_offers_each_windows_work_and_restores_it_exactly(crashed, make_window, monkeypatch):
    windows, design = crashed
    recovery = [Path(w["recovery"]) for w in windows]
    assert len(set(recovery)) == 2 and all(p.is_file() for p in recovery)   # one file per window, no clash
    answers, offers = [False, True], []   # decline the first backup offered, accept the second
    monkeypatch.setattr(dialogs, "ask_restore_recovery", lambda parent, text: offers.append(text) or answers.pop(0))
    window = make_window()
    assert window.files.offer_recovery()
    assert len(offers) == 2
    restored_graph = window.document.graph
    # The most recent backup is offered first; which window that was depends on timing, so match by content.
    declined, accepted = sorted(windows, key=lambda w: graph_from_dict(w["graph"]) == restored_graph)
    assert restored_graph == graph_from_dict(accepted["graph"])   # exactly: every node, parameter, label, edge
    assert restored_graph.node("conv2d_2").label.startswith("edited in window")
    assert len(restored_graph.nodes) == len(load_template("lenet5").nodes) + 1
    assert window.document.modified and window.document.file_path == accepted["file"]
    if accepted["file"]:
        assert Path(accepted["file"]) == design.resolve()  # Save writes back to the design it came from
    # Both old backups are gone (declined = discarded); the restored work is already in this window's own.
    assert not any(Path(w["recovery"]).exists() for w in windows)
    own = json.loads(window.files.recovery_path.read_text(encoding="utf-8"))
    assert graph_from_dict(own["graph"]) == restored_graph
    assert graph_from_dict(declined["graph"]) != restored_graph
    # Nothing is offered twice.
    assert not make_window().files.offer_recovery() and len(offers) == 2
