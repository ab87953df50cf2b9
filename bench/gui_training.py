"""Benchmark: training inside the app (live curves and feature maps on screen) against the command line.

The baseline is what `cnn-designer train` does: fit() on the main thread of a plain Python process, run
here as a fresh subprocess on the same generated data (same seed). For reference it also runs fit() in a
plain worker thread of such a process (what the app did before its training process). Each repeat runs
every contender once, interleaved, so machine load affects all alike; the best of each is compared.

Prints, against the command line: the in-app throughput ratio (target ≥ 0.95), the ratio with a 5 ms
event-loop probe running, the longest GUI event-loop stall while training (target ≤ 16 ms), and the
peak resident memory of the GUI process and of the training process, separately. Not part of the tests.

    QT_QPA_PLATFORM=offscreen python bench/gui_training.py [--size 30000] [--epochs 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CNN_DESIGNER_SETTINGS_DIR", tempfile.mkdtemp(prefix="cnn-bench-"))

HEADLESS = textwrap.dedent("""
    import json, sys, threading
    sys.path.insert(0, {root!r})
    import torch
    torch.set_num_threads({threads})
    from engine.data import load_dataset
    from engine.templates import load_template
    from engine.training.config import TrainConfig
    from engine.training.events import Finished, Started
    from engine.training.loop import fit

    data = load_dataset("generated_digits", size={size}, seed=0)
    config = TrainConfig(epochs={epochs}, batch_size=64, data_size={size})
    out = {{}}

    def run():
        for ev in fit(load_template("lenet5"), data, config):
            if isinstance(ev, (Started, Finished)):
                out[type(ev).__name__] = ev

    if {in_thread}:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    else:
        run()
    s, f = out["Started"], out["Finished"]
    print(json.dumps({{"img_s": s.train_size * f.epochs_completed / f.elapsed}}))
""")


def headless(size: int, epochs: int, threads: int, in_thread: bool) -> float:
    """Images/s of fit() in a fresh plain process: on its main thread (the command line) or a worker thread."""
    code = HEADLESS.format(root=str(ROOT), size=size, epochs=epochs, threads=threads, in_thread=in_thread)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["img_s"]


def peak_rss_mb(pid) -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def in_app(app, data, config, probe_stalls: bool) -> dict:
    """One run in the main window: images/s (fit's own clock, and from the click to Finished), the longest
    event-loop stall in ms (nan without the probe), curve redraws, feature-map tiles, training-process peak."""
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

    def started(ev):
        info["started"] = ev
        info["cpu0"], info["wall0"] = time.process_time(), time.perf_counter()
        info["pid"] = dash.controller.process_id
        if probe_stalls:
            clock.invalidate()
            probe.start()

    def step(m):
        if m.step == m.total_steps:
            # training ends with the last step; the test evaluation and saving the run are not "while training"
            probe.stop()
            info["gui_cpu"] = (time.process_time() - info["cpu0"]) / (time.perf_counter() - info["wall0"])
            if info.get("pid"):
                info["child_peak"] = peak_rss_mb(info["pid"])

    probe.timeout.connect(tick)
    dash.controller.started.connect(started)
    dash.controller.step.connect(step)
    dash.controller.finished.connect(lambda ev: info.__setitem__("finished", (ev, time.perf_counter())))
    dash.run_finished.connect(lambda ev: QTimer.singleShot(100, app.quit))
    clicked = [0.0]

    def click():
        clicked[0] = time.perf_counter()
        dash.start()

    QTimer.singleShot(0, click)
    app.exec()
    s, (f, done) = info["started"], info["finished"]
    images = s.train_size * f.epochs_completed
    result = {"img_s": images / f.elapsed, "wall_img_s": images / (done - clicked[0]),
              "stall": worst[0] if probe_stalls else float("nan"), "redraws": dash.curves.redraw_count,
              "tiles": dash.feature_maps.grid.tile_count, "child_peak": info.get("child_peak", float("nan")),
              "gui_cpu": info.get("gui_cpu", float("nan"))}
    window.close()
    window.deleteLater()
    return result


def wait_for_warm_process() -> None:
    """Let the app's warm training process finish importing torch, as it does while a user looks around."""
    from engine.training import process

    if os.environ.get("CNN_DESIGNER_TRAINING", "process") == "thread":
        return
    proc = process.acquire()
    proc._wait_until_ready()
    process.release(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import torch
    from PySide6.QtWidgets import QApplication

    from engine.data import load_dataset
    from engine.training.config import TrainConfig

    app = QApplication.instance() or QApplication(sys.argv)
    threads = torch.get_num_threads()
    data = load_dataset("generated_digits", size=args.size, seed=0)
    config = TrainConfig(epochs=args.epochs, batch_size=64, data_size=args.size)
    wait_for_warm_process()
    cli, thread, apps, probed = [], [], [], []
    for r in range(args.repeats):
        cli.append(headless(args.size, args.epochs, threads, in_thread=False))
        thread.append(headless(args.size, args.epochs, threads, in_thread=True))
        apps.append(in_app(app, data, config, probe_stalls=False))
        probed.append(in_app(app, data, config, probe_stalls=True))
        print(f"repeat {r + 1}: command line (main thread) {cli[-1]:,.0f} img/s, worker thread {thread[-1]:,.0f} "
              f"img/s, in app {apps[-1]['img_s']:,.0f} img/s ({apps[-1]['wall_img_s']:,.0f} from the click), "
              f"with the stall probe {probed[-1]['img_s']:,.0f} img/s, longest stall {probed[-1]['stall']:.1f} ms, "
              f"{apps[-1]['redraws']} curve redraws, {apps[-1]['tiles']} feature-map tiles, the GUI process busy "
              f"{apps[-1]['gui_cpu']:.0%} of a core while training", flush=True)
    best_cli = max(cli)
    best_app = max(a["img_s"] for a in apps)
    print(f"in app / command line (fit's own clock): {best_app / best_cli:.3f}  (target ≥ 0.95)")
    print(f"in app / command line (from the click to Finished): "
          f"{max(a['wall_img_s'] for a in apps) / best_cli:.3f}")
    print(f"in app with the 5 ms stall probe / command line: {max(a['img_s'] for a in probed) / best_cli:.3f}")
    print(f"worker thread of a plain process / command line: {max(thread) / best_cli:.3f}  (the old in-app path)")
    print(f"longest GUI event-loop stall while training: {max(a['stall'] for a in probed):.1f} ms  (target ≤ 16 ms)")
    gui_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = max(a["child_peak"] for a in apps + probed)
    print(f"peak resident memory: GUI process {gui_peak:,.0f} MB, training process {child_peak:,.0f} MB "
          f"(the data set's {sum(s.images.numel() * 4 for s in (data.train, data.val, data.test)) / 2**20:,.0f} MB "
          f"of images are shared between them)")


if __name__ == "__main__":
    main()
