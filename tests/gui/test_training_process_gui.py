"""Training in the app's training process (the default): faults inside the child — an exception in a layer,
out of memory, the child killed, a step that never ends — each end the run with a clear reason, the window
stays usable and Start works again; pause, resume and stop reach the child; a seeded run gives the same
weights, feature maps, filters and results as training inside this process; no child outlives the app.
"""
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import child_faults
from engine.data import load_dataset
from engine.training import process
from engine.training.events import ActivationSnapshot, Finished, StepMetrics
from helpers import chain_graph


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=300, seed=1)


@pytest.fixture
def fault(monkeypatch, tmp_path):
    """fault(at=3, error="ValueError", hold=False): what the Faulty layer does in the next runs, in the
    training process and here. Returns the folder where it signals 'entered' and waits for 'release'."""
    def arrange(**how):
        hook = functools.partial(child_faults.install, folder=str(tmp_path), **how)
        hook()                                                # here: the design analyses with the kind
        monkeypatch.setattr(process, "SETUP_HOOKS", [hook])   # there: fit() builds it
        return tmp_path
    yield arrange
    from PySide6.QtWidgets import QApplication

    from designer.main_window import MainWindow
    from engine import registry
    for widget in QApplication.topLevelWidgets():   # windows still showing the kind go before it does
        if isinstance(widget, MainWindow) and widget.isVisible():
            widget.close()
    registry.REGISTRY.pop("Faulty", None)


def faulty_graph(faulty=True):
    return chain_graph(("Conv2d", {"out_channels": 4, "kernel_size": (3, 3)}), ("ReLU", {}),
                       *([("Faulty", {})] if faulty else []), ("Flatten", {}), ("Linear", {"out_features": 10}))


def process_window(make_window, digits, graph, epochs=2):
    window = make_window(graph)
    dash = window.training
    assert dash.controller.backend == "process"   # the app's default
    dash.data.set_dataset(digits)
    dash.form.batch_size.setValue(32)
    dash.form.epochs.setValue(epochs)
    return window, dash


def assert_usable(qtbot, window, dash, graph_before):
    qtbot.waitUntil(lambda: not dash.controller.running, timeout=30000)
    assert dash.controls.start_button.isEnabled() and not dash.controls.stop_button.isEnabled()
    doc = window.document
    assert doc.graph == graph_before
    doc.push("edit", doc.graph.with_params("conv2d_1", {"out_channels": 6}))
    assert doc.analysis.ok
    doc.undo_stack.undo()


def finish_normally(qtbot, dash, epochs=2):
    with qtbot.waitSignal(dash.run_finished, timeout=120000) as finished:
        dash.controls.start_button.click()
    assert not finished.args[0].stopped and finished.args[0].epochs_completed == epochs
    return finished.args[0]


@pytest.mark.parametrize("error, words", [
    ("ValueError", "layer faulty_1 (Faulty) raised ValueError: kernel exploded at epoch 1, step 3"),
    ("MemoryError", "The computer ran out of memory at epoch 1, step 3 with batch size 32"),
])
def test_a_fault_in_a_layer_inside_the_training_process_is_shown(qtbot, make_window, digits, fault, error, words):
    fault(at=3, error=error)
    window, dash = process_window(make_window, digits, faulty_graph())
    before = window.document.graph
    with qtbot.waitSignal(dash.controller.failed, timeout=120000) as failed:
        dash.controls.start_button.click()
    assert words in failed.args[0].reason
    assert dash.controls.message.text() == failed.args[0].reason
    assert_usable(qtbot, window, dash, before)
    assert dash.store.records()[-1].status == "failed"
    fault(at=0)
    finish_normally(qtbot, dash)


def test_killing_the_training_process_mid_run_ends_the_run_with_the_reason(qtbot, make_window, digits):
    window, dash = process_window(make_window, digits, faulty_graph(faulty=False), epochs=200)
    before = window.document.graph
    pids = []

    def kill_at_step_two(ev):
        if ev.step == 2 and not pids:
            pids.append(dash.controller.process_id)
            os.kill(pids[0], signal.SIGKILL)   # what the kernel's out-of-memory killer does

    dash.controller.step.connect(kill_at_step_two)
    with qtbot.waitSignal(dash.controller.failed, timeout=120000) as failed:
        dash.controls.start_button.click()
    assert "killed (SIGKILL)" in failed.args[0].reason and "smaller batch size" in failed.args[0].reason
    assert dash.controls.message.text() == failed.args[0].reason
    assert_usable(qtbot, window, dash, before)
    record = dash.store.records()[-1]
    assert record.status == "failed" and "SIGKILL" in record.note
    assert pids[0] not in process.running_pids()
    dash.controller.step.disconnect(kill_at_step_two)
    dash.form.epochs.setValue(1)
    finish_normally(qtbot, dash, epochs=1)     # a new training process took over


def test_pause_resume_and_stop_reach_the_training_process(qtbot, make_window, digits):
    window, dash = process_window(make_window, digits, faulty_graph(faulty=False), epochs=200)
    steps = []
    dash.controller.step.connect(lambda ev: steps.append(ev.step))
    with qtbot.waitSignal(dash.controller.step, timeout=120000):
        dash.controls.start_button.click()
    dash.controls.pause_button.click()
    qtbot.waitUntil(lambda: dash.controller.paused)
    qtbot.wait(300)                      # events already on their way arrive; then nothing more
    held = len(steps)
    qtbot.wait(700)
    assert len(steps) == held
    dash.controls.pause_button.click()   # resume
    qtbot.waitUntil(lambda: len(steps) > held, timeout=30000)
    with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
        dash.controls.stop_button.click()
    assert finished.args[0].stopped
    qtbot.waitUntil(dash.controls.start_button.isEnabled, timeout=30000)   # once the relay thread has ended


def test_closing_the_window_while_a_step_never_ends_kills_the_process_in_time(qtbot, make_window, digits, fault):
    folder = fault(at=2, hold=True)          # step 2 waits for a release that never comes
    window, dash = process_window(make_window, digits, faulty_graph(), epochs=5)
    dash.controls.start_button.click()
    qtbot.waitUntil(lambda: (folder / "entered").exists(), timeout=120000)
    pid = dash.controller.process_id
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 10
    assert not dash.controller.running and pid not in process.running_pids()


def run_events(qtbot, backend, graph, data, config):
    from designer.training.worker import TrainingController

    controller = TrainingController(backend=backend)
    events = []
    for signal_ in (controller.started, controller.step, controller.epoch, controller.snapshot,
                    controller.finished, controller.failed):
        signal_.connect(events.append)
    with qtbot.waitSignal(controller.running_changed, timeout=120000, check_params_cb=lambda running: not running):
        controller.start(graph, data, config, probe=3)
    controller.deleteLater()
    return events


def test_a_seeded_run_gives_the_same_results_in_the_process_as_in_a_thread(qtbot, digits):
    """Weights, feature maps, filters and test results of the process backend against the thread backend
    (the implementation before the training process)."""
    from engine.training.config import TrainConfig

    config = TrainConfig(epochs=2, batch_size=32, seed=5, snapshot_every=4)
    graph = faulty_graph(faulty=False)
    here, there = (run_events(qtbot, backend, graph, digits, config) for backend in ("thread", "process"))
    assert [type(e) for e in here] == [type(e) for e in there]
    fin_here, fin_there = here[-1], there[-1]
    assert isinstance(fin_here, Finished) and isinstance(fin_there, Finished)
    for name, value in fin_here.weights.items():
        np.testing.assert_allclose(fin_there.weights[name], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fin_here.test.confusion, fin_there.test.confusion)
    np.testing.assert_allclose(fin_here.test.probabilities, fin_there.test.probabilities, atol=1e-5)
    steps = [(a.loss, b.loss) for a, b in zip(here, there) if isinstance(a, StepMetrics)]
    np.testing.assert_allclose(*zip(*steps), rtol=1e-5)
    snaps = [(a, b) for a, b in zip(here, there) if isinstance(a, ActivationSnapshot)]
    assert snaps
    for a, b in snaps:
        assert (a.step, a.probe_index) == (b.step, b.probe_index) and a.activations.keys() == b.activations.keys()
        for nid in a.activations:
            np.testing.assert_allclose(a.activations[nid], b.activations[nid], rtol=1e-4, atol=1e-5)
        for nid in a.filters:
            np.testing.assert_allclose(a.filters[nid], b.filters[nid], rtol=1e-4, atol=1e-6)


def test_no_training_process_outlives_the_app(tmp_path):
    """The app's process dies without any cleanup (os._exit): its warm training process ends by itself."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        sys.path[:0] = %r
        from engine.training import process
        if __name__ == "__main__":
            proc = process.acquire()
            proc._wait_until_ready()        # the child is up, with torch imported
            print(proc.pid, flush=True)
            os._exit(0)
    """ % [p for p in sys.path if p]))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip(), out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _exists(pid), "the training process outlived the app's process"


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"   # a zombie has ended, its parent just never reaped it
    except FileNotFoundError:
        return False


def test_shutting_down_ends_every_training_process(qtbot):
    process.warm_up()
    pids = process.running_pids()
    assert pids
    process.shutdown_all()
    assert not [p for p in pids if _exists(p)] and process.running_pids() == []
