"""Benchmark: training inside the app (live curves and feature maps on screen) against the headless engine.

Prints the throughput ratio (target ≥ 0.95) and the longest GUI event-loop stall while training (target
≤ 50 ms), measured with a 5 ms timer probe. The probe itself wakes the GUI thread 200 times a second (each
wake-up takes the GIL from the training thread), so each repeat trains in the app twice: once plain for
the throughput ratio, once with the probe for the stall; both ratios are printed. Not part of the test suite.

    QT_QPA_PLATFORM=offscreen python bench/gui_training.py [--size 60000] [--epochs 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CNN_DESIGNER_SETTINGS_DIR", tempfile.mkdtemp(prefix="cnn-bench-"))

from engine.data import load_dataset  # noqa: E402
from engine.templates import load_template  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.events import Finished, Started  # noqa: E402
from engine.training.loop import fit  # noqa: E402


def headless(graph, data, config, in_thread: bool) -> float:
    """Training throughput (images/s) of fit() with nobody listening, on this thread or a plain worker thread.

    The app trains in a worker thread; on a loaded machine PyTorch's CPU kernels run at very different
    speeds on the main thread and on a worker thread, so the fair baseline is fit() in a worker thread too.
    """
    out = {}

    def run():
        for ev in fit(graph, data, config):
            if isinstance(ev, Started):
                out["started"] = ev
            elif isinstance(ev, Finished):
                out["finished"] = ev

    if in_thread:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    else:
        run()
    started, finished = out["started"], out["finished"]
    return started.train_size * finished.epochs_completed / finished.elapsed


def in_app(app, data, config, probe_stalls: bool = True):
    """(images/s, longest event-loop stall in ms or nan, curve redraws, feature-map tiles) in the main window."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    from designer.main_window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    dash = window.training
    dash.data.set_dataset(data)
    dash.form.set_config(config)
    dash.insight.setCurrentWidget(dash.feature_maps)
    window.select_node(window.document.graph.nodes_of_kind("Conv2d")[0].id)
    clock, worst, info = QElapsedTimer(), [0.0], {}
    probe = QTimer()
    probe.setInterval(5)

    def tick():
        if clock.isValid():
            worst[0] = max(worst[0], clock.nsecsElapsed() / 1e6 - 5.0)
        clock.restart()

    probe.timeout.connect(tick)
    dash.controller.started.connect(lambda ev: info.__setitem__("started", ev))
    if probe_stalls:
        dash.controller.started.connect(lambda ev: (clock.invalidate(), probe.start()))
    else:
        worst[0] = float("nan")
    # training ends with the last step; what follows (test evaluation in the worker, saving the run) is not
    # "while training"
    dash.controller.step.connect(lambda m: m.step == m.total_steps and probe.stop())
    dash.controller.finished.connect(lambda ev: info.__setitem__("finished", ev))
    dash.run_finished.connect(lambda ev: QTimer.singleShot(100, app.quit))
    QTimer.singleShot(0, dash.start)
    app.exec()
    s, f = info["started"], info["finished"]
    result = (s.train_size * f.epochs_completed / f.elapsed, worst[0], dash.curves.redraw_count,
              dash.feature_maps.grid.tile_count)
    window.close()
    window.deleteLater()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=60000)  # ~3 s per run on a quiet 2-core machine
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    graph = load_template("lenet5")
    data = load_dataset("generated_digits", size=args.size, seed=0)
    config = TrainConfig(epochs=args.epochs, batch_size=64, data_size=args.size)
    heads, mains, apps, probed = [], [], [], []
    for r in range(args.repeats):  # alternate so machine load affects all alike
        heads.append(headless(graph, data, config, in_thread=True))
        mains.append(headless(graph, data, config, in_thread=False))
        apps.append(in_app(app, data, config, probe_stalls=False))
        probed.append(in_app(app, data, config, probe_stalls=True))
        print(f"repeat {r + 1}: headless (worker thread) {heads[-1]:,.0f} img/s, headless (main thread) "
              f"{mains[-1]:,.0f} img/s, in app {apps[-1][0]:,.0f} img/s, in app with the stall probe "
              f"{probed[-1][0]:,.0f} img/s, longest stall {probed[-1][1]:.1f} ms, {apps[-1][2]} curve redraws, "
              f"{apps[-1][3]} feature-map tiles")
    best_head, best_app = max(heads), max(a[0] for a in apps)
    stall = max(a[1] for a in probed)
    print(f"throughput ratio (best in app / best headless in a worker thread): {best_app / best_head:.3f}  "
          f"(target ≥ 0.95)")
    print(f"throughput ratio with the 5 ms stall probe running: {max(a[0] for a in probed) / best_head:.3f}")
    print(f"throughput ratio (best in app / best headless on the main thread): {best_app / max(mains):.3f}")
    print(f"longest GUI event-loop stall while training: {stall:.1f} ms  (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
