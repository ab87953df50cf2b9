"""Garbage collections stay on the GUI thread while a background thread of ours runs.

A data-set load that imports scikit-learn allocates so much that CPython runs collections in the load's
thread; those destroyed Qt objects of the GUI thread (canvas items of a design a lesson had just replaced)
in the worker, and a test run aborted. `allocate_like_an_import` stands in for such an import: it keeps
enough new objects alive to trigger even a full collection, as a big import does.
"""
from __future__ import annotations

import gc
import threading
import weakref

from designer import gui_gc
from designer.training.background import BackgroundCall
from engine.templates import load_template


class Cycle:
    def __init__(self):
        self.me = self


def allocate_like_an_import():
    """Allocate as a big import does: modules, functions and constants that stay alive (enough of them
    that CPython's rules call for a full collection), plus some cyclic garbage on the way."""
    kept = []
    for _ in range(max(200_000, len(gc.get_objects()) // 3)):
        kept.append([])
        if len(kept) % 1000 == 0:
            Cycle()
    return kept


def record_collections():
    """Starts recording the generations of collections, by thread: {"gui": [...], "other": [...]}."""
    seen = {"gui": [], "other": []}

    def note(phase, info):
        if phase == "start":
            on_gui = threading.current_thread() is threading.main_thread()
            seen["gui" if on_gui else "other"].append(info["generation"])
    gc.callbacks.append(note)
    return seen, lambda: gc.callbacks.remove(note)


def test_a_background_call_that_allocates_like_an_import_never_collects_in_its_thread(qtbot):
    call = BackgroundCall()
    results = []
    call.finished.connect(results.append)
    allocated = threading.Event()
    proceed = threading.Event()

    def work():
        kept = allocate_like_an_import()
        allocated.set()
        proceed.wait(60)                        # the objects stay alive until the test has looked
        return len(kept)

    seen, stop = record_collections()
    try:
        call.start(work)
        assert not gc.isenabled()               # automatic collection is off while the thread runs
        qtbot.waitUntil(allocated.is_set, timeout=60000)
        qtbot.waitUntil(lambda: bool(seen["gui"]), timeout=10000)   # the GUI thread collects meanwhile
        proceed.set()
        qtbot.waitUntil(lambda: bool(results), timeout=60000)
        assert call.wait()
        qtbot.waitUntil(lambda: gui_gc.workers_running() == 0, timeout=10000)
    finally:
        proceed.set()                           # never leave the thread running, even when an assertion failed
        call.wait()
        stop()
    assert results[0] >= 200_000 and seen["other"] == []
    assert gc.isenabled()                       # and automatic collection is back once the thread has ended


def test_canvas_items_of_a_design_replaced_during_a_load_are_destroyed_on_the_gui_thread(qtbot, window,
                                                                                           monkeypatch):
    from designer.training import data_panel

    real_load = data_panel.load_dataset
    go = threading.Event()

    def load_that_imports(key, size=None, **kw):
        go.wait(60)                             # until the test has replaced the design
        allocate_like_an_import()
        return real_load("generated_digits", size=60, **kw)

    monkeypatch.setattr(data_panel, "load_dataset", load_that_imports)
    died_in = []

    def died(_ref):
        died_in.append(threading.current_thread().name)

    dash, refs = window.training, []
    designs = ["small_resnet", "lenet5", "inception"]
    seen, stop = record_collections()
    try:
        for name in designs:                    # several loads, each with a design replaced meanwhile
            go.clear()
            dash.data.select("generated_digits")
            dash.data.load()
            assert dash.data.loading
            old = list(window.scene.node_items.values())
            window.document.set_graph(load_template(name), "")   # the old items are cyclic garbage now
            window.canvas.show_design()
            kept = [id(item) for item in window.scene.node_items.values()]   # items the scene reused
            refs += [weakref.ref(item, died) for item in old if id(item) not in kept]
            del old
            go.set()
            dash.data.wait()                    # the GUI thread waits: only the load's thread allocates
            qtbot.waitUntil(lambda: not dash.data.loading and gui_gc.workers_running() == 0, timeout=60000)
    finally:
        stop()
    gc.collect()                                # here, on the GUI thread, whatever was left
    assert refs and len(died_in) == len(refs)
    assert set(died_in) == {"MainThread"} and seen["other"] == []


def test_a_background_call_dropped_while_its_thread_runs_does_not_take_the_thread_with_it(qtbot):
    # Its QThread and worker object are owned by their Python wrappers; freed with the call while the thread
    # runs, Qt aborted the process ("QThread: Destroyed while thread is still running").
    release = threading.Event()
    call = BackgroundCall()
    call.start(lambda: release.wait(60))
    before = gui_gc.workers_running()
    del call
    gc.collect()                                # frees the dropped call here and now
    release.set()
    qtbot.waitUntil(lambda: gui_gc.workers_running() == before - 1, timeout=30000)
