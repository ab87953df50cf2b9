"""Benchmark: analysis and compile time on a 500-node design. Prints a table, ratios against the
targets, and a JSON line. Run: python bench/analysis.py"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import analysis as analysis_module  # noqa: E402
from engine.analysis import Analyzer  # noqa: E402
from engine.compiler import compile_graph  # noqa: E402
from engine.graph import EdgeSpec, GraphSpec, make_node  # noqa: E402

TARGETS_MS = {"full analysis (cold)": 50.0, "full analysis (warm caches)": 50.0,
              "re-analysis after one edit": 10.0, "compile": 1000.0}


def big_graph(nodes: int = 500) -> GraphSpec:
    """Input, then repeated residual-free blocks (Conv, BatchNorm, ReLU, Add every few blocks), head."""
    g = GraphSpec(name="bench")
    prev = None

    def add(kind, params=None, inputs=()):
        nonlocal g
        n = make_node(g, kind, params or {})
        g = g.with_node(n)
        for slot, src in enumerate(inputs):
            g = g.with_edge(EdgeSpec(src, n.id, slot))
        return n.id

    prev = add("Input", {"channels": 3, "height": 32, "width": 32})
    prev = add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, [prev])
    while len(g.nodes) < nodes - 4:
        block_in = prev
        prev = add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, [prev])
        prev = add("BatchNorm2d", {}, [prev])
        prev = add("ReLU", {}, [prev])
        prev = add("Add", {}, [prev, block_in])
    prev = add("Global average pool", {}, [prev])
    prev = add("Linear", {"out_features": 10}, [prev])
    add("Output", {"classes": 10}, [prev])
    return g


def timed(fn, repeat=7):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    g = big_graph()
    results = {}

    def cold():
        analysis_module._count_params.cache_clear()
        Analyzer().analyze(g)

    results["full analysis (cold)"] = timed(cold)
    results["full analysis (warm caches)"] = timed(lambda: Analyzer().analyze(g))
    analyzer = Analyzer()
    analyzer.analyze(g)
    conv_ids = [n.id for n in g.nodes if n.kind == "Conv2d"]
    state = {"i": 0, "g": g}

    def one_edit():
        # Change the kernel of a conv in the middle, alternating so every run is a real change.
        state["i"] += 1
        k = 3 if state["i"] % 2 else 5
        state["g"] = state["g"].with_params(conv_ids[len(conv_ids) // 2], {"kernel_size": k, "padding": k // 2})
        a = analyzer.analyze(state["g"])
        assert a.ok, a.error_text()

    results["re-analysis after one edit"] = timed(one_edit, 15)
    results["compile"] = timed(lambda: compile_graph(g), 3)
    print(f"500-node design ({len(g.nodes)} nodes, {len(g.edges)} edges), CPU, median of repeated runs")
    print(f"{'measure':32} {'ms':>9} {'target ms':>10} {'target/actual':>14}")
    for name, ms in results.items():
        print(f"{name:32} {ms:9.2f} {TARGETS_MS[name]:10.0f} {TARGETS_MS[name] / ms:13.1f}x")
    print(json.dumps({"bench": "analysis", "nodes": len(g.nodes),
                      **{k.replace(" ", "_"): round(v, 3) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
