"""Canvas speed with a 500-layer design (a benchmark, not a test): prints each measurement and its ratio to
the budget (ratio < 1 means within budget). Times are CPU time of this process, so a busy machine does not
distort them; run it on an idle machine to compare wall time.

    QT_QPA_PLATFORM=offscreen python bench/canvas.py
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CNN_DESIGNER_SETTINGS_DIR", tempfile.mkdtemp(prefix="cnnd-bench-"))

from PySide6.QtCore import QEvent, QObject, QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.graph import GraphSpec, make_node, EdgeSpec  # noqa: E402
from engine.graph_io import save_graph  # noqa: E402
from engine.layout import auto_layout  # noqa: E402

def clock() -> float:
    """CPU time of this process: other programs sharing the machine do not inflate it (wall time does)."""
    return time.process_time()


BUDGETS = {"open": 1.0, "edit": 0.030, "edit_worst": 0.040, "frame": 0.016, "memory": 500.0}


def big_design(layers: int = 500) -> GraphSpec:
    """Input, then Conv2d/ReLU pairs (padding 1 keeps 8×8), Flatten, Linear, Output: `layers` nodes."""
    chain = [("Input", {"channels": 3, "height": 8, "width": 8})]
    pairs = (layers - 4) // 2
    for _ in range(pairs):
        chain += [("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("ReLU", {})]
    chain += [("Flatten", {}), ("Linear", {"out_features": 10}), ("Output", {})]
    g = GraphSpec(name=f"Bench {len(chain)} layers")
    prev = None
    for kind, params in chain:
        node = make_node(g, kind, params)
        g = g.with_node(node)
        if prev:
            g = g.with_edge(EdgeSpec(prev, node.id, 0))
        prev = node.id
    # Wrap the chain into rows of 25 so the design is a compact block, as a person would arrange it.
    laid = auto_layout(g)
    from dataclasses import replace
    nodes = tuple(replace(n, pos=((i % 25) * 200.0, (i // 25) * 140.0)) for i, n in enumerate(laid.nodes))
    return replace(laid, nodes=nodes)


class PaintCounter(QObject):
    """Counts the canvas's paint events: an edit is timed until it is on screen, painted once, as a user sees
    it (an explicit repaint() before the event loop ran would paint it twice)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def resnet50_blocks(app, window) -> list:
    """ResNet-50 as imported (stages of Bottleneck blocks): open it, collapse every block, edit a layer inside a
    block (the edit reaches every use that shares the setting), open a stage, and drag a collapsed stage."""
    from designer import block_actions
    from engine.interchange.importing import import_torchvision

    path = Path(tempfile.mkdtemp(prefix="cnnd-bench-")) / "resnet50.json"
    save_graph(import_torchvision("resnet50", (3, 224, 224)).graph, path)
    t = clock()
    assert window.files.open_path(str(path), ask_to_save=False)
    window.canvas.viewport().repaint()
    pump(app)
    open_s = clock() - t
    t = clock()
    block_actions.collapse_all(window)
    window.canvas.viewport().repaint()
    pump(app)
    collapse_s = clock() - t
    doc, scene = window.document, window.scene
    conv = next(n.id for n in doc.graph.nodes if n.name == "layer1.0.conv2")
    edits = []
    for kernel in (5, 3, 5, 3, 5):
        t = clock()
        doc.set_params(conv, {"kernel_size": kernel, "padding": kernel // 2})
        pump(app)
        edits.append(clock() - t)
    t = clock()
    scene.collapser.set_collapsed("layer2", False)
    doc.auto_layout(scene.collapser.collapsed)
    window.canvas.viewport().repaint()
    pump(app)
    expand_s = clock() - t
    stage = scene.collapser.items["layer3"]
    frames = []
    for step in range(30):
        t = clock()
        stage.setPos(stage.origin + QPointF(step * 3.0, step * 2.0))
        window.canvas.viewport().repaint()
        frames.append(clock() - t)
    shown = sum(1 for i in scene.node_items.values() if i.isVisible()) + len(scene.collapser.items)
    print(f"ResNet-50: {len(doc.graph.nodes)} layers, {shown} items shown after opening one stage")
    doc.undo_stack.setClean()
    return [("ResNet-50: open (flat)", open_s, BUDGETS["open"], "s"),
            ("ResNet-50: collapse all + layout", collapse_s, BUDGETS["open"], "s"),
            ("ResNet-50: edit in a block, median", statistics.median(edits), BUDGETS["edit"], "s"),
            ("ResNet-50: edit in a block, worst", max(edits), BUDGETS["edit_worst"], "s"),
            ("ResNet-50: open a stage + layout", expand_s, BUDGETS["open"], "s"),
            ("ResNet-50: drag a stage, median", statistics.median(frames), BUDGETS["frame"], "s")]


def pump(app):
    app.processEvents()


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    from designer.main_window import MainWindow

    with_panels = "--designer-only" not in sys.argv  # leave out other panels (training dashboard, ...)
    if with_panels:
        print("(all panels installed; add --designer-only to measure the designer without them)")

    graph = big_design()
    path = Path(tempfile.mkdtemp(prefix="cnnd-bench-")) / "big.json"
    save_graph(graph, path)
    window = MainWindow(with_panels=with_panels)
    window.resize(1400, 900)
    window.show()
    pump(app)
    dashboard = getattr(window, "training", None)
    while dashboard is not None and dashboard.data.loading:  # the default data set preloads at start-up;
        pump(app)                                           # let it finish so it is not timed as editing
        time.sleep(0.01)
    pump(app)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Qt, PyTorch, empty window

    t = clock()
    ok = window.files.open_path(str(path), ask_to_save=False)
    window.canvas.viewport().repaint()
    pump(app)
    open_s = clock() - t
    assert ok and len(window.document.graph.nodes) == len(graph.nodes)

    painted = PaintCounter()
    window.canvas.viewport().installEventFilter(painted)
    pump(app)
    edits, engine_times, canvas_times = [], [], []
    from engine.analysis import Analyzer
    analyzer = Analyzer()
    analyzer.analyze(window.document.graph)
    scene = window.scene
    for height in (9, 10, 11, 12, 8):
        # The engine's share: re-analysing after the edit (incremental Analyzer, as the document uses).
        t = clock()
        analyzer.analyze(window.document.graph.with_params("input_1", {"height": height}))
        engine_times.append(clock() - t)
        t = clock()
        window.document.set_params("input_1", {"height": height})   # changes every shape downstream
        paints = painted.count
        pump(app)   # as after a user's edit: the event loop processes the scene's changes and paints once
        edits.append(clock() - t)
        assert painted.count == paints + 1, "the edit was not painted exactly once"
        # The canvas's share: relabel every node and edge from an analysis whose every entry is new.
        fresh = Analyzer().analyze(window.document.graph)
        t = clock()
        scene._on_analysis_changed(fresh)
        window.canvas.viewport().repaint()
        canvas_times.append(clock() - t)
    labels = {i.label for i in window.scene.edge_items.values()}
    assert "8×8×8" in labels, labels

    item = window.scene.node_items["conv2d_100"]
    window.select_node("conv2d_100")
    pump(app)
    start = item.pos()
    frames = []
    for step in range(60):
        t = clock()
        item.setPos(start + QPointF(step * 3.0, step * 2.0))
        window.canvas.viewport().repaint()
        frames.append(clock() - t)
    window.scene.commit_moves()

    memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    design_mb = memory_mb - baseline_mb
    window.document.undo_stack.setClean()
    block_rows = resnet50_blocks(app, window)
    rows = [("open 500-layer design", open_s, BUDGETS["open"], "s"),
            ("parameter edit, median", statistics.median(edits), BUDGETS["edit"], "s"),
            ("parameter edit, worst", max(edits), BUDGETS["edit_worst"], "s"),
            ("  of which engine re-analysis", statistics.median(engine_times), BUDGETS["edit"], "s"),
            ("  of which canvas label updates", statistics.median(canvas_times), BUDGETS["edit"], "s"),
            ("drag frame, median", statistics.median(frames), BUDGETS["frame"], "s"),
            ("drag frame, worst", max(frames), BUDGETS["frame"], "s"),
            ("peak memory (whole process)", memory_mb, BUDGETS["memory"], "MB"),
            ("  added by the 500-layer design", design_mb, BUDGETS["memory"], "MB"), *block_rows]
    print(f"{'measurement':32} {'value':>12} {'budget':>10} {'ratio':>7}")
    for name, value, budget, unit in rows:
        shown = f"{value * 1000:.1f} ms" if unit == "s" else f"{value:.0f} MB"
        limit = f"{budget * 1000:.0f} ms" if unit == "s" else f"{budget:.0f} MB"
        print(f"{name:32} {shown:>12} {limit:>10} {value / budget:7.2f}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
