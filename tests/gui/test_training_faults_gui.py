"""Training faults in the real main window: each ends in the reason shown in the Training panel (or a
clean stop), the window keeps handling events while the worker is stuck inside a step, the design is left
as it was and stays editable, and Start works again. Closing the window mid-run and many start/stop
cycles in a row leave no thread running and no memory behind.

Faults come from a layer kind registered for these tests: its module holds the worker thread inside the
forward pass at a chosen step (so the test can act while a step is in progress), then raises or passes.
These runs train in a thread of this process (CNN_DESIGNER_TRAINING=thread), where the test's layer and
events live; test_training_process_gui.py covers the same faults in the training process. The start/stop
cycles use the app's default, the training process, and count its memory too.
"""
import contextlib
import ctypes
import gc
import os
import threading
import time

import pytest
import shiboken6
import torch
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from torch import nn

from engine import registry
from engine.data import load_dataset
from engine.training.checkpoint import load_checkpoint
from helpers import chain_graph


class Plan:
    """What the Faulty layer does in the next run: at training step `at` it signals `entered`, waits for
    `release` (when `hold`), then raises `error` (if any)."""

    def __init__(self):
        self.at, self.hold, self.error = 0, False, None
        self.entered, self.release = threading.Event(), threading.Event()


class FaultyLayer(nn.Module):
    def __init__(self, plan: Plan):
        super().__init__()
        self.plan, self.steps = plan, 0

    def forward(self, x):
        if not self.training:
            return x
        self.steps += 1
        if self.steps == self.plan.at:
            self.plan.entered.set()
            if self.plan.hold and not self.plan.release.wait(60):
                raise TimeoutError("the test never released the held step")
            if self.plan.error is not None:
                raise self.plan.error
        return x


@pytest.fixture
def plan(monkeypatch):
    monkeypatch.setenv("CNN_DESIGNER_TRAINING", "thread")   # the plan's events only work within this process
    registry.all_kinds()  # the registry loads the built-in kinds only while it is empty
    current = Plan()
    kind = registry.LayerKind(name="Faulty", category="Activation", help="test-only fault injector", params=(),
                              infer=lambda p, ins: ins[0], emit=None, build=lambda p, ins: FaultyLayer(current))
    monkeypatch.setitem(registry.REGISTRY, "Faulty", kind)
    return current


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=300, seed=1)


def tiny_graph(faulty=True):
    return chain_graph(("Conv2d", {"out_channels": 4, "kernel_size": (3, 3)}), ("ReLU", {}),
                       *([("Faulty", {})] if faulty else []), ("Flatten", {}), ("Linear", {"out_features": 10}))


def training_window(make_window, digits, graph, epochs=2):
    window = make_window(graph)
    dash = window.training
    dash.data.set_dataset(digits)
    dash.form.batch_size.setValue(32)
    dash.form.epochs.setValue(epochs)
    return window, dash


class Ticker:
    """A GUI-thread timer that counts its ticks: they only advance while the event loop runs."""

    def __init__(self):
        self.ticks = 0
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        self.ticks += 1


def assert_usable_and_untouched(qtbot, window, dash, graph_before):
    qtbot.waitUntil(lambda: not dash.controller.running)
    assert dash.controls.start_button.isEnabled() and not dash.controls.stop_button.isEnabled()
    doc = window.document
    assert doc.graph == graph_before
    doc.push("edit", doc.graph.with_params("conv2d_1", {"out_channels": 6}))   # still editable
    assert doc.analysis.ok and doc.graph.node_map()["conv2d_1"].params["out_channels"] == 6
    doc.undo_stack.undo()
    assert doc.graph == graph_before


@pytest.mark.parametrize("error, words", [
    (ValueError("kernel exploded"), "layer faulty_1 (Faulty) raised ValueError: kernel exploded at epoch 1, step 3"),
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
     "The device ran out of memory at epoch 1, step 3 with batch size 32. Use a smaller batch (try 16)"),
    (MemoryError(), "The computer ran out of memory at epoch 1, step 3 with batch size 32"),
])
def test_a_fault_inside_a_step_shows_its_reason_and_the_window_stays_usable(qtbot, make_window, digits, plan,
                                                                            error, words):
    window, dash = training_window(make_window, digits, tiny_graph())
    before = window.document.graph
    plan.at, plan.hold, plan.error = 3, True, error
    dash.controls.start_button.click()
    qtbot.waitUntil(plan.entered.is_set, timeout=60000)
    # The worker is stuck inside step 3: the GUI thread still runs its timers and takes clicks.
    ticker = Ticker()
    qtbot.waitUntil(lambda: ticker.ticks >= 5, timeout=60000)
    assert dash.controller.running and not dash.controls.start_button.isEnabled()
    window.scene.select_nodes(["conv2d_1"])
    assert dash.selected == "conv2d_1"
    with qtbot.waitSignal(dash.controller.failed, timeout=60000) as failed:
        plan.release.set()
    assert words in failed.args[0].reason
    assert dash.controls.message.text() == failed.args[0].reason
    assert_usable_and_untouched(qtbot, window, dash, before)
    # Start works again, and this time the run ends normally
    plan.error = None
    with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
        dash.controls.start_button.click()
    assert not finished.args[0].stopped and finished.args[0].epochs_completed == 2


def test_divergence_shows_advice_to_lower_the_learning_rate(qtbot, make_window, digits):
    linear = chain_graph(("Flatten", {}), ("Linear", {"out_features": 64}), ("Linear", {"out_features": 64}),
                         ("Linear", {"out_features": 10}))
    window, dash = training_window(make_window, digits, linear, epochs=3)
    before = window.document.graph
    dash.form.optimizer.setCurrentText("sgd")
    dash.form.lr.setValue(10.0)
    with qtbot.waitSignal(dash.controller.failed, timeout=60000) as failed:
        dash.controls.start_button.click()
    reason = failed.args[0].reason
    assert reason.startswith("Training diverged: the loss became") and "try 0.01" in reason
    assert dash.controls.message.text() == reason
    qtbot.waitUntil(lambda: not dash.controller.running)
    assert dash.controls.start_button.isEnabled() and window.document.graph == before


def test_stop_pressed_during_the_first_batch_ends_the_run_after_that_step(qtbot, make_window, digits, plan):
    window, dash = training_window(make_window, digits, tiny_graph())
    before = window.document.graph
    plan.at, plan.hold = 1, True
    dash.controls.start_button.click()
    qtbot.waitUntil(plan.entered.is_set, timeout=60000)
    dash.controls.stop_button.click()   # while batch 1 is inside the network
    assert dash.controls.message.text() == "Stopping after the current step…"
    with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
        plan.release.set()
    ev = finished.args[0]
    assert ev.stopped and ev.epochs_completed == 0
    assert dash.controls.message.text().startswith("Stopped after 0 epoch(s)")
    record = dash.store.records()[-1]
    state = load_checkpoint(dash.store.folder(record.id))   # the step that was under way is kept
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, 1, 1)
    assert_usable_and_untouched(qtbot, window, dash, before)


def test_closing_the_window_during_a_paused_run_stops_within_the_budget(qtbot, make_window, digits, qtlog):
    window, dash = training_window(make_window, digits, tiny_graph(faulty=False), epochs=50)
    ended = []
    shutdown = dash.controller.shutdown
    dash.controller.shutdown = lambda timeout_ms=2000: ended.append(shutdown(timeout_ms)) or ended[-1]
    with qtbot.waitSignal(dash.controller.step, timeout=60000):
        dash.controls.start_button.click()
    dash.controls.pause_button.click()
    qtbot.waitUntil(lambda: dash.controller.paused)
    record_dir = dash.store.folder(dash.record.id)
    thread = dash.controller._thread
    window.close()
    assert ended == [True]      # the run ended within the controller's budget, without a forced wait
    assert not dash.controller.running and (not _valid(thread) or thread.isFinished())
    assert not [r for r in qtlog.records if "QThread" in r.message]
    assert load_checkpoint(record_dir)["global_step"] >= 1   # what it had learnt is on disk


def _valid(obj):
    import shiboken6
    return shiboken6.isValid(obj)


# ---- many start/stop cycles -------------------------------------------------------------------------

def rss_mb(pid="self") -> float:
    """A process's resident memory, from /proc (Linux)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def training_processes_rss_mb() -> float:
    from engine.training import process
    total = 0.0
    for pid in process.running_pids():
        with contextlib.suppress(OSError):
            total += rss_mb(pid)
    return total


def settled_rss_mb() -> float:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)   # threads and workers deleteLater()
    gc.collect()
    # Hand freed heap pages back to the system first: otherwise glibc keeps them in per-thread arenas (each
    # run's thread gets one), and RSS measures the allocator's caching rather than what is still in use.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb() + training_processes_rss_mb()


def run_cycles(qtbot, dash, cycles: int):
    """Start and stop `cycles` runs; the stop comes right after Start, at Started, or at the first step."""
    when = {"stop_at": None}
    dash.controller.started.connect(lambda ev: when["stop_at"] == "started" and dash.stop())
    dash.controller.step.connect(lambda ev: when["stop_at"] == "step" and dash.stop())
    for i in range(cycles):
        when["stop_at"] = ("now", "started", "step")[i % 3]
        with qtbot.waitSignal(dash.run_finished, timeout=60000) as finished:
            assert dash.start()
            if when["stop_at"] == "now":
                dash.stop()
        assert finished.args[0].stopped, f"cycle {i} was not stopped"
        qtbot.waitUntil(lambda: not dash.controller.running)
        assert dash.controls.start_button.isEnabled()


def cycle_and_measure(qtbot, make_window, digits, qtlog, warm_up: int, measured: int):
    window, dash = training_window(make_window, digits, tiny_graph(faulty=False), epochs=50)
    dash.form.snapshot_every.setValue(1)   # every step also sends feature maps across the threads
    from engine.training import process
    run_cycles(qtbot, dash, warm_up)
    # Compare a loaded training process with a loaded one: a child still importing torch would count
    # its import as growth.
    assert process.wait_idle_ready(60)
    pids_before = process.running_pids()
    before, t0 = settled_rss_mb(), time.perf_counter()
    child_before = training_processes_rss_mb()
    run_cycles(qtbot, dash, measured)
    assert process.wait_idle_ready(60)
    growth, seconds = settled_rss_mb() - before, time.perf_counter() - t0
    child_growth = training_processes_rss_mb() - child_before
    print(f"\n{measured} start/stop cycles after {warm_up} warm-up: RSS {before:.1f} MB -> "
          f"{before + growth:.1f} MB ({growth:+.2f} MB, of which the training process {child_growth:+.2f} MB), "
          f"{seconds:.1f} s; training processes {pids_before} -> {process.running_pids()}")
    assert len(dash.store.records()) == warm_up + measured
    assert len(process.running_pids()) <= 1      # one warm training process waits; no others are left
    assert not [r for r in qtlog.records if "QThread" in r.message]
    return growth


def alive(cls) -> int:
    return sum(isinstance(o, cls) for o in gc.get_objects())


def test_ten_start_stop_cycles_end_cleanly(qtbot, make_window, digits, qtlog):
    from designer.training.background import _Call
    from designer.training.worker import TrainingWorker
    from engine.training import process
    from engine.training.control import TrainControl

    process.warm_up()   # the warm training process (and its control) exists before and after
    before = alive(TrainControl), alive(_Call)
    growth = cycle_and_measure(qtbot, make_window, digits, qtlog, warm_up=3, measured=7)
    assert growth < 16
    settled_rss_mb()
    # Nothing of the finished runs is kept: worker objects used to stay behind in their finished threads
    # (deleteLater needs a running event loop), each holding its run's control and probe image.
    assert (alive(TrainControl), alive(_Call)) == before
    assert not [w for w in gc.get_objects() if isinstance(w, TrainingWorker) and shiboken6.isValid(w)]


@pytest.mark.soak
def test_a_hundred_start_stop_cycles_end_cleanly_and_leak_no_memory(qtbot, make_window, digits, qtlog):
    growth = cycle_and_measure(qtbot, make_window, digits, qtlog, warm_up=10, measured=90)
    assert growth < 5
