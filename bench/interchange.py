"""Interchange: for every torchvision classification family, the import time (also relative to one forward
pass), the parameters of both and the largest output difference from the original; the same model written
by torch.onnx and imported from that file (time, and the largest difference from onnxruntime); the exported
PyTorch code (lines, classes, and the largest difference after loading the original's state_dict into it with
strict=True); then export and bundle times for a template. Prints ratios; never part of the test suite.

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


# The smallest variant of every torchvision classification family.
FAMILIES = ("alexnet", "vgg11", "resnet18", "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_0", "densenet121",
            "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5",
            "efficientnet_b0", "efficientnet_v2_s", "regnet_y_400mf", "convnext_tiny")


def family_row(key: str) -> str:
    """Import time (and against one forward pass), parameters of both, and the largest output difference."""
    from engine.interchange.fx_import import ImportFailedError
    from engine.interchange.sources import SourceError, torchvision_info

    try:
        shape = torchvision_info(key).input_shape
        model = build_torchvision(key, 10).eval()
    except SourceError:   # not importable by name: build it directly to say why
        import torchvision
        shape, model = (3, 64, 64), getattr(torchvision.models, key)(weights=None, num_classes=10).eval()
    x = torch.randn(1, *shape)
    with torch.no_grad():
        fwd = timed(lambda: model(x))
    t = time.perf_counter()
    try:
        result = import_module(model, shape)
    except ImportFailedError as exc:
        ops = sorted({u.op for u in getattr(exc, "unmapped", [])})
        reason = f"no layer kind for {', '.join(ops)}" if ops else str(exc).splitlines()[0][:70]
        return f"{key:20s} refused: {reason}"
    imp = time.perf_counter() - t
    same = "equal" if result.imported_parameters == result.original_parameters else "DIFFER"
    return (f"{key:20s} {'x'.join(map(str, shape)):>9s} {imp:8.2f} {imp / fwd:9.0f} "
            f"{result.original_parameters:>12,} {same:>7s} {result.max_difference:10.1e}  {export_cells(model, result, shape)}"
            f"  {onnx_cells(model, shape)}")


def export_cells(model, result, shape) -> str:
    """Lines and classes of the exported code, and its largest output difference from the original after
    `load_state_dict(original.state_dict(), strict=True)`."""
    from engine.codegen import export_python

    code = export_python(result.graph, "Exported")
    namespace: dict = {}
    exec(compile(code.split('if __name__ == "__main__":')[0], "exported.py", "exec"), namespace)
    exported = namespace["Exported"]().eval()
    try:
        exported.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError:
        return f"{len(code.splitlines()):5d} {code.count(chr(10) + 'class '):3d}  not strict"
    x = torch.randn(2, *shape)
    with torch.no_grad():
        diff = float((exported(x) - model(x)).abs().max())
    return f"{len(code.splitlines()):5d} {code.count(chr(10) + 'class '):3d} {diff:10.1e}"


def onnx_cells(model, shape) -> str:
    """The model written by torch.onnx (batch 1, opset 17), imported from the file: seconds, largest difference
    from onnxruntime."""
    import warnings

    from engine.interchange.exporters import _quiet_onnx_log
    from engine.interchange.fx_import import ImportFailedError
    from engine.interchange.onnx_import import import_onnx

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _quiet_onnx_log():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        # AlexNet's and VGG's adaptive pooling exports only where its output size divides its input (224 px)
        for size in (shape, (3, 224, 224)):
            try:
                torch.onnx.export(model, (torch.randn(1, *size),), str(path), dynamo=False, opset_version=17)
                break
            except Exception:
                continue
        else:
            return "torch.onnx cannot write it"
        t = time.perf_counter()
        try:
            result = import_onnx(path).result
        except ImportFailedError as exc:
            return f"refused: {str(exc).splitlines()[0][:60]}"
        took = time.perf_counter() - t
    if not result.complete:
        return f"{took:6.2f} partial ({len(result.unmapped)} placeholders)"
    return f"{took:6.2f} {result.max_difference:10.1e}"


def main():
    torch.set_num_threads(1)
    print("model                    input  import s  /forward   parameters  import  max |diff|  "
          "lines cls strict diff  onnx s  vs ort")
    for key in FAMILIES:
        print(family_row(key), flush=True)
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
