"""`import_onnx`: an ONNX CNN as a design, with its weights, checked against onnxruntime.

The file is read with a size limit and no external data (a file that points at others could read anywhere),
checked with onnx.checker, turned into an `OnnxNetwork` (onnx_network.py) and imported like any PyTorch model.
A complete import is then run beside onnxruntime on the same random input: the design must compute what the
file computes.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from engine.interchange.fx_import import ImportFailedError, import_module
from engine.interchange.importing import ImportedModel

MAX_ONNX_BYTES = 2 << 30        # what protobuf can hold in one file
COMPARE_TOLERANCE = 1e-4        # of the output's scale


def read_onnx(path: str | os.PathLike[str]) -> Any:
    """The checked onnx.ModelProto in `path`, or ImportFailedError saying what is wrong with the file."""
    try:
        import onnx
    except ImportError:
        raise ImportFailedError("ONNX import needs the onnx package: pip install 'cnn-designer[onnx]'") from None
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFailedError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_ONNX_BYTES:
        raise ImportFailedError(f"{path.name} is {size / 2**30:.1f} GB; ONNX files over 2 GB are not read")
    try:
        model = onnx.load_model_from_string(path.read_bytes())
    except OSError as exc:
        raise ImportFailedError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception:
        raise ImportFailedError(f"{path.name} is not an ONNX model (it does not parse as one)") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise ImportFailedError(f"{path.name} keeps its weights in separate files (ONNX external data), which "
                                f"are not read; save the model as one file (onnx.save(model, path, "
                                f"save_as_external_data=False)) and import that")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ImportFailedError(f"{path.name} is not a valid ONNX model: {first}") from None
    if len(model.graph.node) > 100_000:
        raise ImportFailedError(f"{path.name} has {len(model.graph.node):,} nodes; at most 100,000 are imported")
    return model


def declared_input_shape(model: Any) -> tuple | None:
    """(C, H, W) of the model's image input when the file fixes them, else None."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        return None
    dims = inputs[0].type.tensor_type.shape.dim
    sizes = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if len(sizes) == 4 and None not in sizes[1:] and min(sizes[1:]) >= 1:
        from engine.interchange.onnx_patterns import nhwc_input

        return (sizes[3], sizes[1], sizes[2]) if nhwc_input(model) else tuple(sizes[1:])
    # A file CNN Designer exported with a dynamic height and width says the size it was designed for.
    from engine.interchange.exporters import INPUT_SHAPE_KEY

    hint = next((p.value for p in model.metadata_props if p.key == INPUT_SHAPE_KEY), "")
    parts = hint.split("x") if len(hint) <= 40 else []
    if len(parts) == 3 and all(p.isdigit() and 1 <= int(p) <= 65536 for p in parts):
        return tuple(int(p) for p in parts)
    return None


def import_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | None = None,
                keep_partial: bool = False) -> ImportedModel:
    from engine.interchange.onnx_network import OnnxNetwork, OnnxUnsupported

    path = Path(path)
    model = read_onnx(path)
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ImportFailedError(f"{path.name} cannot be imported: the model takes {len(inputs)} inputs; CNN "
                                f"Designer imports networks that take one image batch")
    shape = tuple(input_shape) if input_shape else declared_input_shape(model)
    if shape is None:
        raise ImportFailedError(f"{path.name} does not fix its input's channels, height and width; give them "
                                f"(e.g. --input 3x224x224, or the input size in the app's question)")
    try:
        network = OnnxNetwork(model, shape)
    except OnnxUnsupported as exc:
        raise ImportFailedError(f"{path.name} cannot be imported: {exc}") from None
    name = path.stem[:100] or "ONNX model"
    result = import_module(network, shape, keep_partial=keep_partial, name=name, keep_names=False,
                           description=f"{name} imported from an ONNX file.")
    labels = {n.id: network.paths[n.label] for n in result.graph.nodes if n.label in network.paths}
    if labels:
        result.graph = replace(result.graph, nodes=[replace(n, label=labels.get(n.id, n.label)[:200])
                                                    for n in result.graph.nodes])
    weights = {k: v.detach().clone() for k, v in result.convert_state_dict(network.state_dict()).items()}
    if result.complete:
        _compare_with_onnxruntime(model, result, weights, shape)
    return ImportedModel(result, weights)


def _compare_with_onnxruntime(model, result, weights: dict, shape) -> None:
    """Run the design and onnxruntime on the same input; a difference beyond rounding is the importer's fault."""
    from engine.interchange.onnx_patterns import nhwc_input

    try:
        import onnxruntime as ort
    except ImportError:
        result.verification += "; not compared with onnxruntime (it is not installed)"
        return
    from engine.compiler import compile_graph

    compiled = compile_graph(result.graph)
    compiled.load_state_dict(weights)
    compiled.eval()
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        batch = session.get_inputs()[0].shape[0]     # a file made for one batch size is run at that size
        x = torch.randn(batch if isinstance(batch, int) and 1 <= batch <= 8 else 2, *shape,
                        generator=torch.Generator().manual_seed(0))
        fed = x.permute(0, 2, 3, 1).contiguous() if nhwc_input(model) else x   # the file takes channels last
        expected = torch.from_numpy(session.run(None, {name: fed.numpy()})[0])
    except Exception as exc:   # a file onnxruntime cannot run (an input size it does not take, ...)
        result.verification += f"; onnxruntime could not run the file to compare ({str(exc).splitlines()[0][:200]})"
        return
    with torch.no_grad():
        got = compiled(x)
    if expected.shape != got.shape:
        raise ImportFailedError(f"the imported network's output has shape {tuple(got.shape)}, onnxruntime's "
                                f"{tuple(expected.shape)}; this is a fault of the importer, please report it")
    difference = float((expected - got).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    if not difference <= COMPARE_TOLERANCE * scale:
        raise ImportFailedError(f"the imported network does not compute what the ONNX file computes: on the same "
                                f"input the outputs differ from onnxruntime's by up to {difference:.3g}; this is a "
                                f"fault of the importer, please report it with the file")
    result.max_difference = max(result.max_difference or 0.0, difference)
    result.verification = (f"outputs match onnxruntime: largest difference {difference:.2e} on a random input of "
                           f"{'×'.join(map(str, shape))}")
