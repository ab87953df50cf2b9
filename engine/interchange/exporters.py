"""Export a design as ONNX, TorchScript, weights or PyTorch source, each checked after writing.

Every exporter compiles the graph, loads the given weights (compiled-module keys such as conv2d_1.weight)
and writes the file atomically (engine.atomic_write): a temporary file in the same folder, fsynced, then
renamed, so a crash never leaves half a file.
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.atomic_write import replacing, write_bytes_atomic, write_text_atomic
from engine.codegen import export_python
from engine.compiler import compile_graph, example_input, input_shape
from engine.graph import GraphSpec
from engine.interchange.weights import load_into, save_weights

FALLBACK_OPSET = 17
INPUT_SHAPE_KEY = "cnn_designer.input_shape"   # ONNX metadata: the design's C×H×W, e.g. "3x32x32"


class ExportError(ValueError):
    """An export that cannot be done or did not check out; the message says why."""


@dataclass
class ExportReport:
    path: Path
    format: str
    opset: int | None = None
    checked: bool = False              # structural check passed (ONNX checker, TorchScript reload)
    max_abs_difference: float | None = None   # against PyTorch, when a runtime was available
    note: str = ""

    def summary(self) -> str:
        parts = [f"wrote {self.path} ({self.format}"]
        if self.opset:
            parts.append(f", opset {self.opset}")
        parts.append(")")
        if self.checked:
            parts.append("; structure checked")
        if self.max_abs_difference is not None:
            parts.append(f"; outputs match PyTorch within {self.max_abs_difference:.2e}")
        if self.note:
            parts.append(f"; {self.note}")
        return "".join(parts)


def compiled_with_weights(graph: GraphSpec, weights: dict[str, torch.Tensor] | None = None) -> torch.fx.GraphModule:
    module = compile_graph(graph)
    if weights is not None:
        load_into(module, weights)
    return module.eval()


def export_source(graph: GraphSpec, path: str | os.PathLike[str], class_name: str | None = None) -> ExportReport:
    path = Path(path)
    write_text_atomic(path, export_python(graph, class_name=class_name))
    return ExportReport(path, "PyTorch source", checked=True)


def export_weights(graph: GraphSpec, weights: dict[str, torch.Tensor], path: str | os.PathLike[str]) -> ExportReport:
    """Check the weights fit the design, then write them (.safetensors preferred, or .pt)."""
    module = compiled_with_weights(graph, weights)
    path = Path(path)
    with replacing(path, keep_suffix=True) as tmp:  # save_weights picks the format by the suffix
        save_weights(module.state_dict(), tmp)
    return ExportReport(path, "safetensors" if path.suffix == ".safetensors" else "state_dict", checked=True)


MIN_OPSET = 7   # the oldest opset torch.onnx exports (torch.onnx._constants.ONNX_MIN_OPSET)


def choose_opset() -> int:
    """The newest opset both the installed PyTorch exporter and the installed onnx package support."""
    try:
        from torch.onnx import _constants
        torch_max = int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", FALLBACK_OPSET))
    except ImportError:
        torch_max = FALLBACK_OPSET
    try:
        import onnx
        return min(torch_max, onnx.defs.onnx_opset_version())
    except ImportError:
        return torch_max


def other_size(graph: GraphSpec) -> tuple[int, int] | None:
    """A larger (height, width) the network also accepts with the same output, or None when its layers need
    exactly the design's size (a Flatten feeding a Linear sizes that Linear's weights for it)."""
    from engine.analysis import analyze

    node = graph.nodes_of_kind("Input")[0]
    maximum = int(node.layer_kind.param("height").maximum)
    height, width = min(node.params["height"] * 2, maximum), min(node.params["width"] * 2, maximum)
    if (height, width) == (node.params["height"], node.params["width"]):
        return None
    here = analyze(graph)
    there = analyze(graph.with_params(node.id, {**node.params, "height": height, "width": width}))
    # The design's Linear layers take their input size from the shapes, so "accepts" means: checks out with
    # the same weights (every layer's parameter count unchanged).
    same_weights = all(there.nodes[n].params == info.params for n, info in here.nodes.items())
    return (height, width) if there.ok and same_weights else None


def export_onnx(graph: GraphSpec, path: str | os.PathLike[str], weights: dict[str, torch.Tensor] | None = None,
                opset: int | None = None, compare: bool = True, atol: float = 1e-4,
                dynamic_size: bool | None = None) -> ExportReport:
    """ONNX with a dynamic batch size, and dynamic height and width where the network accepts other sizes
    (dynamic_size=None decides so; False keeps the design's size); checked with onnx.checker and, when
    onnxruntime is installed, compared numerically with PyTorch on a batch of 3, and at a larger size when
    that is dynamic."""
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the onnx package: pip install 'cnn-designer[onnx]'") from None
    newest = choose_opset()
    if opset is None:
        opset = newest
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ExportError(f"ONNX opset {opset!r} is not available; the installed tools export opsets {MIN_OPSET} "
                          f"to {newest}")
    module = compiled_with_weights(graph, weights)
    larger = other_size(graph) if dynamic_size is not False else None
    if dynamic_size and larger is None:
        raise ExportError("this network accepts only its design's height and width (a Flatten sizes the next "
                          "Linear layer for them); end the convolutions with global average pooling to accept "
                          "any size")
    sizes = [larger, None] if larger else [None]
    for size in sizes:   # a network that accepts other sizes but does not export with them gets a fixed size
        try:
            data = _onnx_bytes(onnx, module, graph, opset, size is not None)
            report = ExportReport(Path(path), "ONNX", opset=opset, checked=True)
            if compare:
                report.max_abs_difference, report.note = _compare_onnxruntime(data, module, graph, atol, size)
            break
        except ExportError:
            if size is None or dynamic_size:
                raise
    if size is not None:
        note = "batch, height and width are dynamic"
    elif larger is not None:
        note = "height and width are fixed at the design's (the dynamic export did not check out)"
    else:
        note = "height and width are fixed at the design's: a Flatten sizes the next Linear layer for them"
    report.note = "; ".join(t for t in (note, report.note) if t)
    _write_bytes(report.path, data)
    return report


def _onnx_bytes(onnx, module, graph: GraphSpec, opset: int, dynamic_size: bool) -> bytes:
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), _quiet_onnx_log():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not the person's concern
        try:
            torch.onnx.export(module, (example_input(graph, 2),), buffer, dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=["logits"],
                              dynamic_axes={"images": axes, "logits": {0: "batch"}})
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "adaptive_avg_pool2d" in reason:
                reason = ("ONNX has no adaptive average pooling to an output size that does not divide its input "
                          "size; choose an input size for which the maps reaching it are a multiple of its output "
                          "size (AlexNet's 224×224 gives 6×6 for 6×6), or pool globally (1×1)")
            raise ExportError(f"PyTorch could not export this network to ONNX opset {opset}: {reason}") from None
    try:
        model = onnx.load_from_string(buffer.getvalue())
        # The design's input size, for a later import of a file whose height and width are dynamic.
        entry = model.metadata_props.add()
        entry.key, entry.value = INPUT_SHAPE_KEY, "x".join(map(str, input_shape(graph)))
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"the ONNX checker rejected the exported model: {exc}") from None
    return model.SerializeToString()


@contextlib.contextmanager
def _quiet_onnx_log():
    """The TorchScript exporter dumps its whole IR graph to standard output when a network does not export
    (its logging switch tests a function object, so it is always on); the error message says what matters."""
    log = getattr(torch._C, "_jit_onnx_log", None)
    if log is None:
        yield
        return
    torch._C._jit_onnx_log = lambda *args: None
    try:
        yield
    finally:
        torch._C._jit_onnx_log = log


def _compare_onnxruntime(data: bytes, module, graph, atol, larger: tuple[int, int] | None = None):
    """Compare at a batch of 3 (the batch is dynamic) and, with `larger`, also at that height and width."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed, so outputs were not compared"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    inputs = [example_input(graph, 3)]   # a batch size other than the one exported proves the batch is dynamic
    if larger is not None:
        inputs.append(torch.randn(2, inputs[0].shape[1], *larger))
    worst = 0.0
    for x in inputs:
        got = session.run(None, {"images": x.numpy()})[0]
        with torch.no_grad():
            expected = module(x).numpy()
        diff = float(abs(got - expected).max())
        if not diff <= atol * max(1.0, float(abs(expected).max())):
            raise ExportError(f"onnxruntime's outputs differ from PyTorch's by up to {diff:.3g} on inputs of "
                              f"{'×'.join(map(str, x.shape[1:]))}; the file was not written")
        worst = max(worst, diff)
    return worst, ""


def export_torchscript(graph: GraphSpec, path: str | os.PathLike[str], weights: dict[str, torch.Tensor] | None = None,
                       atol: float = 1e-5) -> ExportReport:
    """TorchScript: torch.jit.script when the module scripts, else torch.jit.trace (the compiled network has
    no data-dependent control flow, so a trace is exact). Reloaded and compared at another batch size."""
    module = compiled_with_weights(graph, weights)
    how = "scripted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still what C++ and mobile load
        try:
            converted = torch.jit.script(module)
        except Exception:  # e.g. Add/Concat take *inputs, which scripting cannot compile
            how = "traced"
            try:
                converted = torch.jit.trace(module, example_input(graph, 2))
            except Exception as exc:
                raise ExportError(f"PyTorch could not convert this network to TorchScript: "
                                  f"{str(exc).splitlines()[0]}") from None
        buffer = io.BytesIO()
        torch.jit.save(converted, buffer)
        buffer.seek(0)
        reloaded = torch.jit.load(buffer)
    x = example_input(graph, 3)
    with torch.no_grad():
        diff = float((reloaded(x) - module(x)).abs().max())
    if not diff <= atol:
        raise ExportError(f"the TorchScript module's outputs differ from the original by {diff:.3g}; not written")
    path = Path(path)
    _write_bytes(path, buffer.getvalue())
    return ExportReport(path, "TorchScript", checked=True, max_abs_difference=diff, note=how)


def _write_bytes(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data)
