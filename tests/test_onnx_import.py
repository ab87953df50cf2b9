"""ONNX import: files written by torch.onnx (our own exports and torchvision models) and graphs built by hand
with onnx.helper come in as designs whose outputs match onnxruntime's; what has no layer kind becomes a
placeholder; broken and hostile files are refused with a reason."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from engine.cli import run_command_line
from engine.compiler import compile_graph
from engine.interchange import onnx_import
from engine.interchange.exporters import _quiet_onnx_log, export_onnx
from engine.interchange.fx_import import ImportFailedError, UnmappableModelError
from engine.interchange.onnx_import import import_onnx
from engine.templates import load_template

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def run_design(imported, x):
    module = compile_graph(imported.graph).eval()
    module.load_state_dict(imported.weights, strict=True)
    with torch.no_grad():
        return module(x)


def run_file(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def test_our_own_export_comes_back_as_the_same_design(tmp_path):
    torch.manual_seed(0)
    graph = load_template("small_resnet")
    weights = {k: v.clone() for k, v in compile_graph(graph).state_dict().items()}
    export_onnx(graph, tmp_path / "net.onnx", weights)
    imported = import_onnx(tmp_path / "net.onnx")   # the file's height and width are dynamic; it says 3x32x32
    assert imported.graph.nodes_of_kind("Input")[0].params == {"channels": 3, "height": 32, "width": 32}
    result = imported.result
    assert result.complete and "outputs match onnxruntime" in result.verification
    kinds = [n.kind for n in imported.graph.nodes]
    # torch.onnx folds each batch norm into the convolution before it, so the file has none
    assert kinds.count("Conv2d") == len(graph.nodes_of_kind("Conv2d")) and "BatchNorm2d" not in kinds
    assert kinds.count("Add") == len(graph.nodes_of_kind("Add"))
    x = torch.randn(3, 3, 32, 32)     # another batch size, and another image size: the file's are dynamic
    torch.testing.assert_close(run_design(imported, x), run_file(tmp_path / "net.onnx", x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", ["mobilenet_v3_small", "shufflenet_v2_x0_5", "efficientnet_b0", "googlenet"])
def test_torchvision_models_written_by_torch_onnx_import_exactly(key, tmp_path):
    from engine.interchange.sources import build_torchvision

    torch.manual_seed(0)
    model = build_torchvision(key, 10).eval()
    path = tmp_path / f"{key}.onnx"
    with warnings.catch_warnings(), _quiet_onnx_log():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64),), str(path), dynamo=False, opset_version=17)
    imported = import_onnx(path)      # the file fixes its input: 1×3×64×64
    assert imported.result.complete, imported.result.unmapped
    # every weight in the file is in the design (torch.onnx folded the batch norms into the convolutions)
    assert imported.result.imported_parameters == imported.result.original_parameters
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(run_design(imported, x), run_file(path, x), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(run_design(imported, x), model(x), rtol=1e-4, atol=1e-5)


def _tensor(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _model(nodes, initializers, input_shape=(1, 3, 8, 8), output="y", opset=13):
    graph = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, [None, None])], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _hand_written(rng):
    """What other tools write: SAME padding, Clip as ReLU6, a standalone batch norm, HardSigmoid, a Reshape
    made for batch 1, and MatMul plus Add for a fully connected layer; and Gemm with transB=0 and alpha."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "s", "t", "m", "v"], ["bn"], epsilon=1e-3),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["r6"]),
        helper.make_node("HardSigmoid", ["r6"], ["hs"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["r6", "hs"], ["gated"]),
        helper.make_node("MaxPool", ["gated"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "flat"], ["f"]),
        helper.make_node("MatMul", ["f", "w2"], ["mm"]),
        helper.make_node("Add", ["mm", "b2"], ["fc"]),
        helper.make_node("Relu", ["fc"], ["r"]),
        helper.make_node("Gemm", ["r", "w3", "b3"], ["y"], alpha=0.5, transB=0),
    ]
    inits = [_tensor("w1", rng.normal(size=(4, 3, 3, 3))), _tensor("b1", rng.normal(size=4)),
             _tensor("s", rng.uniform(0.5, 1.5, 4)), _tensor("t", rng.normal(size=4)),
             _tensor("m", rng.normal(size=4)), _tensor("v", rng.uniform(0.5, 1.5, 4)),
             _tensor("lo", 0.0), _tensor("hi", 6.0), numpy_helper.from_array(np.array([1, 64], np.int64), "flat"),
             _tensor("w2", rng.normal(size=(64, 10))), _tensor("b2", rng.normal(size=10)),
             _tensor("w3", rng.normal(size=(10, 5))), _tensor("b3", rng.normal(size=5))]
    return _model(nodes, inits)


def test_hand_written_graph_imports_with_each_operator_as_its_layer(tmp_path):
    path = tmp_path / "hand.onnx"
    onnx.save(_hand_written(np.random.default_rng(0)), str(path))
    imported = import_onnx(path)
    kinds = sorted(n.kind for n in imported.graph.nodes)
    assert kinds == sorted(["Input", "Conv2d", "BatchNorm2d", "ReLU6", "Hardsigmoid", "Multiply", "MaxPool2d",
                            "Flatten", "Linear", "ReLU", "Linear", "Output"])
    conv = imported.graph.nodes_of_kind("Conv2d")[0]
    assert conv.params["padding"] == (1, 1)
    assert imported.graph.nodes_of_kind("BatchNorm2d")[0].params["eps"] == 1e-3
    assert imported.result.max_difference < 1e-5
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(run_design(imported, x), run_file(path, x), rtol=1e-4, atol=1e-5)
    # the design is not tied to the file's batch of 1
    assert run_design(imported, torch.randn(4, 3, 8, 8)).shape == (4, 5)


def test_an_operator_without_a_layer_kind_is_a_placeholder_or_a_refusal(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("Abs", ["c"], ["a"]),
             helper.make_node("GlobalAveragePool", ["a"], ["g"]),
             helper.make_node("Flatten", ["g"], ["y"])]
    path = tmp_path / "abs.onnx"
    onnx.save(_model(nodes, [_tensor("w", np.ones((2, 3, 1, 1)))]), str(path))
    with pytest.raises(UnmappableModelError) as info:
        import_onnx(path)
    assert [u.op for u in info.value.unmapped] == ["ONNX Abs"]
    partial = import_onnx(path, keep_partial=True)
    holder = partial.graph.nodes_of_kind("Unsupported")[0]
    assert holder.params["operation"] == "ONNX Abs" and tuple(holder.params["shape"]) == (2, 8, 8)
    assert "placeholder" in partial.result.verification


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_broken_and_hostile_files_are_refused_with_a_reason(tmp_path, monkeypatch):
    good = _hand_written(np.random.default_rng(1))
    cases = {
        "garbage": (_write(tmp_path / "g.onnx", b"\x00\xffnot a protobuf" * 50), "not an ONNX model"),
        "truncated": (_write(tmp_path / "t.onnx", good.SerializeToString()[:300]), "not"),
        "missing": (tmp_path / "nothing.onnx", "cannot read"),
    }
    external = _model([helper.make_node("Relu", ["x"], ["y"])], [_tensor("w", np.ones(4))])
    external.graph.initializer[0].data_location = TensorProto.EXTERNAL
    del external.graph.initializer[0].float_data[:]
    entry = external.graph.initializer[0].external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    cases["external"] = (_write(tmp_path / "e.onnx", external.SerializeToString()), "separate files")
    two = _model([helper.make_node("Add", ["x", "x2"], ["y"])], [])
    two.graph.input.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, (1, 3, 8, 8)))
    cases["two inputs"] = (_write(tmp_path / "two.onnx", two.SerializeToString()), "takes 2 inputs")
    for path, message in cases.values():
        with pytest.raises(ImportFailedError, match=message):
            import_onnx(path, (3, 8, 8))
    monkeypatch.setattr(onnx_import, "MAX_ONNX_BYTES", 100)
    with pytest.raises(ImportFailedError, match="over 2 GB"):
        import_onnx(_write(tmp_path / "big.onnx", good.SerializeToString()))


def test_cli_imports_an_onnx_file_into_a_bundle(tmp_path, capsys):
    from engine.interchange.bundle import load_bundle

    path = tmp_path / "hand.onnx"
    onnx.save(_hand_written(np.random.default_rng(2)), str(path))
    assert run_command_line(["import-model", "--onnx", str(path), "-o", str(tmp_path / "hand.cnnd")]) == 0
    out = capsys.readouterr().out
    assert "outputs match onnxruntime" in out and "imported 10 of 10 layers" in out
    bundle = load_bundle(tmp_path / "hand.cnnd")
    x = torch.randn(1, 3, 8, 8)
    module = compile_graph(bundle.graph).eval()
    module.load_state_dict({k: torch.as_tensor(v) for k, v in bundle.weights.items()})
    with torch.no_grad():
        torch.testing.assert_close(module(x), run_file(path, x), rtol=1e-4, atol=1e-5)
    assert run_command_line(["import-model", "--onnx", str(path), "--weights", "w.pt", "-o",
                             str(tmp_path / "x.json")]) == 2
    assert "holds its own weights" in capsys.readouterr().err


def test_files_that_would_exhaust_memory_or_lack_weights_are_refused(tmp_path):
    """A Resize to a map of billions of values is refused before anything runs; a Conv whose weight is fed in at
    run time (a second graph input) is refused as such."""
    huge = _model([helper.make_node("Resize", ["x", "", "scales"], ["big"], mode="nearest",
                                    coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
                   helper.make_node("GlobalAveragePool", ["big"], ["g"]),
                   helper.make_node("Flatten", ["g"], ["y"])],
                  [_tensor("scales", [1, 1, 30000, 30000])])
    with pytest.raises(ImportFailedError, match="memory limit"):
        import_onnx(_write(tmp_path / "huge.onnx", huge.SerializeToString()), keep_partial=True)
    weightless = _model([helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
                         helper.make_node("GlobalAveragePool", ["c"], ["g"]),
                         helper.make_node("Flatten", ["g"], ["y"])], [])
    weightless.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, (4, 3, 3, 3)))
    with pytest.raises(ImportFailedError, match="takes 2 inputs"):
        import_onnx(_write(tmp_path / "weightless.onnx", weightless.SerializeToString()))


def test_what_tensorflow_converters_write_imports(tmp_path):
    """Images fed channels-last and transposed by the first node, "same" padding as a Pad of zeros before the
    convolution, and Sum for additions: the design takes C×H×W and matches onnxruntime fed channels-last."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Pad", ["t", "pads", "zero"], ["p"], mode="constant"),
             helper.make_node("Conv", ["p", "w", "b"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c2"], kernel_shape=[1, 1]),
             helper.make_node("Sum", ["c2", "r", "c"], ["s"]),
             helper.make_node("GlobalAveragePool", ["s"], ["g"]),
             helper.make_node("Flatten", ["g"], ["y"])]
    inits = [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"), _tensor("zero", 0.0),
             _tensor("w", rng.normal(size=(4, 3, 3, 3))), _tensor("b", rng.normal(size=4)),
             _tensor("w2", rng.normal(size=(4, 4, 1, 1)))]
    path = tmp_path / "tf.onnx"
    onnx.save(_model(nodes, inits, input_shape=(1, 10, 12, 3)), str(path))
    imported = import_onnx(path)
    assert imported.graph.nodes_of_kind("Input")[0].params == {"channels": 3, "height": 10, "width": 12}
    convs = imported.graph.nodes_of_kind("Conv2d")
    assert convs[0].params["padding"] == (1, 1) and imported.result.complete
    assert len(imported.graph.nodes_of_kind("Add")) == 2
    assert "outputs match onnxruntime" in imported.result.verification
    x = torch.randn(1, 3, 10, 12)
    torch.testing.assert_close(run_design(imported, x), run_file(path, x.permute(0, 2, 3, 1).contiguous()),
                               rtol=1e-4, atol=1e-5)
