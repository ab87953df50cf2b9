"""Closing the window does not wait for a data set that is still being generated."""
from __future__ import annotations

import threading

import pytest

from engine.data import load_dataset


class Stop(Exception):
    pass


@pytest.mark.parametrize("key", ["generated_digits", "generated_shapes"])
def test_generating_a_data_set_reports_progress_and_stops_when_the_report_raises(key):
    fractions = []

    def progress(fraction, message):
        fractions.append(fraction)
        if len(fractions) == 3:
            raise Stop()

    with pytest.raises(Stop):
        load_dataset(key, size=2000, progress=progress)
    assert len(fractions) == 3 and 0 < fractions[0] < fractions[1] < fractions[2] < 1
    finished = []
    load_dataset(key, size=200, progress=lambda fraction, message: finished.append(fraction))
    assert finished[-1] == 1.0


def test_closing_the_window_stops_a_running_generation_instead_of_waiting_for_it(qtbot, make_window,
                                                                                monkeypatch):
    from designer.training import data_panel

    reports, outcome = threading.Event(), []

    def generation_that_never_ends(key, size=None, progress=None, **kw):
        # reports progress like the generators, until told to stop; a load that is not stopped gives up
        # after a minute, so the old code fails here instead of hanging the test run
        for _ in range(6000):
            reports.set()
            try:
                progress(0.5, "Drawing digits")
            except data_panel.LoadCancelled:
                outcome.append("cancelled")
                raise
            threading.Event().wait(0.01)
        outcome.append("ran to the end")
        return load_dataset("generated_digits", size=60)

    monkeypatch.setattr(data_panel, "load_dataset", generation_that_never_ends)
    window = make_window()
    panel = window.training.data
    panel.load()
    qtbot.waitUntil(reports.is_set, timeout=30000)
    window.close()                        # waits for the load's thread: it must end at its next report
    assert outcome == ["cancelled"] and not panel.loading
    panel.load()                          # a closing window starts no new load (it would outlive it)
    assert not panel.loading


@pytest.mark.slow  # a whole app start in a new process
def test_the_app_ends_its_process_without_teardown_yet_keeps_what_closing_saved(tmp_path):
    import os
    import subprocess
    import sys

    from designer.app import EXIT_AFTER_PAINT

    settings = tmp_path / "settings"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", EXIT_AFTER_PAINT: "1",
           "CNN_DESIGNER_SETTINGS_DIR": str(settings)}
    script = ("import atexit, sys, main\n"
              "atexit.register(lambda: print('atexit handlers ran', file=sys.stderr, flush=True))\n"
              "class Kept:\n"   # freed when the interpreter's teardown clears this module
              "    def __del__(self):\n"
              "        print('teardown ran', file=sys.stderr, flush=True)\n"
              "kept = Kept()\n"
              "sys.exit(main.main([]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "atexit handlers ran" in done.stderr              # training processes and logging are still ended
    assert "teardown ran" not in done.stderr                 # the interpreter's slow teardown is skipped
    saved = (settings / "settings.ini").read_text(encoding="utf-8")   # the window's layout, saved on close
    assert "[window]" in saved and "geometry=" in saved and "state=" in saved
    assert not list((settings / "recovery").glob("*.lock"))  # the recovery lock was released
    assert "Traceback" not in done.stderr
