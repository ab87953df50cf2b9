"""Interchange timings: torch.fx import of torchvision models (relative to one forward pass of the model),
and export/bundle times for a template. Prints ratios; never part of the test suite.

    python bench/interchange.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compiler import compile_graph  # noqa: E402
from engine.interchange.bundle import Bundle, load_bundle, save_bundle  # noqa: E402
from engine.interchange.exporters import export_onnx, export_torchscript  # noqa: E402
from engine.interchange.fx_import import import_module  # noqa: E402
from engine.interchange.sources import build_torchvision  # noqa: E402
from engine.templates import load_template  # noqa: E402


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    torch.set_num_threads(1)
    print("model               import s   forward s   import/forward")
    for key, shape in (("resnet18", (3, 64, 64)), ("googlenet", (3, 64, 64)), ("mobilenet_v2", (3, 64, 64))):
        model = build_torchvision(key, 10).eval()
        x = torch.randn(1, *shape)
        with torch.no_grad():
            fwd = timed(lambda model=model, x=x: model(x))
        imp = timed(lambda model=model, shape=shape: import_module(model, shape), repeat=2)
        print(f"{key:18s} {imp:9.3f} {fwd:11.4f} {imp / fwd:14.1f}")
    graph = load_template("small_resnet")
    weights = compile_graph(graph).state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = timed(lambda: export_onnx(graph, Path(tmp) / "m.onnx", weights), repeat=1)
        ts = timed(lambda: export_torchscript(graph, Path(tmp) / "m.pt", weights), repeat=1)
        bundle = Bundle(graph, weights=dict(weights))
        save = timed(lambda: save_bundle(bundle, Path(tmp) / "p.cnnd"))
        load = timed(lambda: load_bundle(Path(tmp) / "p.cnnd"))
        size = (Path(tmp) / "p.cnnd").stat().st_size
    print(f"small_resnet: ONNX export+check+compare {onnx:.2f} s, TorchScript {ts:.2f} s, "
          f"bundle save {save * 1000:.0f} ms / load {load * 1000:.0f} ms ({size / 1e6:.2f} MB), load/save {load / save:.2f}")


if __name__ == "__main__":
    main()
