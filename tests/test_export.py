"""Exports: ONNX (checked, compared with onnxruntime, dynamic batch), TorchScript, weights, and source
that no label can inject code into."""
import ast
from dataclasses import replace

import pytest
import torch

from engine.cli import run_command_line
from engine.compiler import compile_graph, example_input
from engine.interchange.exporters import export_onnx, export_torchscript, export_weights
from engine.interchange.train_script import export_training_script
from engine.interchange.weights import load_weights
from engine.templates import load_template


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def trained():
    torch.manual_seed(0)
    graph = load_template("small_resnet")
    module = compile_graph(graph)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    return graph, {k: v.clone() for k, v in module.state_dict().items()}


def reference(graph, weights, x):
    module = compile_graph(graph).eval()
    module.load_state_dict(weights)
    with torch.no_grad():
        return module(x)


def test_onnx_matches_pytorch_with_dynamic_batch(trained, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    graph, weights = trained
    report = export_onnx(graph, tmp_path / "m.onnx", weights)
    assert report.checked and report.opset >= 13 and report.max_abs_difference < 1e-4
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = example_input(graph, 5)
    got = session.run(None, {"images": x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), reference(graph, weights, x), rtol=1e-4, atol=1e-4)


def _input_dims(path):
    import onnx

    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def test_onnx_height_and_width_are_dynamic_where_the_network_allows(trained, tmp_path):
    """A network ending in global pooling runs at any size (a 224-px photo on a 32-px design); one whose
    Flatten sizes a Linear keeps its size, and says why."""
    ort = pytest.importorskip("onnxruntime")
    graph, weights = trained
    report = export_onnx(graph, tmp_path / "any.onnx", weights)
    assert _input_dims(tmp_path / "any.onnx") == ["batch", 3, "height", "width"]
    assert "height and width are dynamic" in report.summary()
    session = ort.InferenceSession(str(tmp_path / "any.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 57, 83)
    torch.testing.assert_close(torch.from_numpy(session.run(None, {"images": x.numpy()})[0]),
                               reference(graph, weights, x), rtol=1e-4, atol=1e-4)

    from engine.graph_io import save_graph
    save_graph(graph, tmp_path / "resnet.json")
    assert run_command_line(["export", str(tmp_path / "resnet.json"), "-f", "onnx", "--fixed-size", "-o",
                             str(tmp_path / "fixed.onnx")]) == 0
    assert _input_dims(tmp_path / "fixed.onnx")[2:] == [32, 32]

    lenet = load_template("lenet5")
    report = export_onnx(lenet, tmp_path / "lenet.onnx")
    assert _input_dims(tmp_path / "lenet.onnx")[2:] == [28, 28] and "Flatten sizes the next Linear" in report.note
    with pytest.raises(ValueError, match="global average pooling"):
        export_onnx(lenet, tmp_path / "lenet2.onnx", dynamic_size=True)


def test_torchscript_reloads_with_same_outputs(trained, tmp_path):
    graph, weights = trained
    export_torchscript(graph, tmp_path / "m.pt", weights)
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    x = example_input(graph, 4)
    torch.testing.assert_close(loaded(x), reference(graph, weights, x))


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_weights_export_is_byte_equal(trained, tmp_path, suffix):
    graph, weights = trained
    export_weights(graph, weights, tmp_path / f"w{suffix}")
    loaded = load_weights(tmp_path / f"w{suffix}")
    assert set(loaded) == set(weights)
    for k in weights:
        assert loaded[k].dtype == weights[k].dtype and torch.equal(loaded[k], weights[k])


def test_weights_that_do_not_fit_are_refused(trained, tmp_path):
    graph, weights = trained
    bad = dict(weights)
    bad.pop(next(iter(bad)))
    with pytest.raises(ValueError, match="do not fit this network: missing 1"):
        export_weights(graph, bad, tmp_path / "w.safetensors")


INJECTION = 'x"""\nimport os; os.system("touch /tmp/cnnd_injected")  # \\N{\x00\u2028'


def test_labels_and_names_cannot_inject_code():
    graph = load_template("lenet5")
    graph = replace(graph, name=INJECTION, description=INJECTION,
                    nodes=tuple(replace(n, label=INJECTION) for n in graph.nodes))
    source = export_training_script(graph, {"optimizer": "sgd'; import os #", "lr": "1; import os",
                                            "device": "cpu\nimport os"}, dataset_key="x'); import os #")
    tree = ast.parse(source)  # still valid Python
    for node in ast.walk(tree):  # and the only calls to os are the harness's own (environment, paths)
        if isinstance(node, ast.Attribute) and node.attr == "system":
            pytest.fail("injected os.system call survived")
    assert "DEFAULTS = {" in source and "'optimizer': 'adam'" in source and "'device': 'auto'" in source


def test_cli_export_formats(tmp_path, capsys):
    design = load_template("lenet5")
    from engine.graph_io import save_graph
    save_graph(design, tmp_path / "net.json")
    for fmt, name in (("py", "net.py"), ("onnx", "net.onnx"), ("torchscript", "net.ts.pt"), ("cnnd", "net.cnnd")):
        assert run_command_line(["export", str(tmp_path / "net.json"), "--format", fmt, "-o",
                                 str(tmp_path / name)]) == 0, capsys.readouterr().err
        assert (tmp_path / name).stat().st_size > 0
    # a built-in template by name, as analyze and train take it
    assert run_command_line(["export", "lenet5", "-f", "py", "-o", str(tmp_path / "lenet.py")]) == 0
    assert "class " in (tmp_path / "lenet.py").read_text()
    assert run_command_line(["export", str(tmp_path / "net.json"), "--format", "safetensors"]) == 2
    assert "no weights" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert run_command_line(["export", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


PAYLOAD = ('x"""\'\'\'\nimport os; os.system("touch /tmp/cnnd_injected")  # \\N{\x00\u2028\r\n'
           '"""; __import__("os").system("touch /tmp/cnnd_injected")\n#\\')


def code_only(source: str) -> str:
    """The program's structure without docstrings (comments are not in the AST anyway)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0].value.value = ""
    return ast.dump(tree)


@pytest.mark.parametrize("fmt", ["py", "script"])
def test_malicious_design_file_exports_the_same_program_as_a_clean_one(tmp_path, capsys, fmt):
    # Labels, name and description carrying quotes, triple quotes, newlines, escapes and NUL reach the
    # exported file only as inert text: the program is statement for statement the clean design's.
    import json
    from engine.graph_io import graph_to_json
    clean = json.loads(graph_to_json(load_template("small_resnet")))
    evil = json.loads(json.dumps(clean))
    evil["name"] = evil["description"] = PAYLOAD
    for node in evil["nodes"]:
        node["label"] = PAYLOAD
    outputs = {}
    for tag, design in (("clean", clean), ("evil", evil)):
        (tmp_path / f"{tag}.json").write_text(json.dumps(design))
        out = tmp_path / f"{tag}.py"
        for extra in ([], ["--class-name", "Net"]):
            assert run_command_line(["export", str(tmp_path / f"{tag}.json"), "--format", fmt, "-o", str(out),
                                     *extra]) == 0, capsys.readouterr().err
            outputs[tag, bool(extra)] = out.read_text()
    assert code_only(outputs["evil", True]) == code_only(outputs["clean", True])
    tree = ast.parse(outputs["evil", False])  # the class name made from the hostile name is still valid Python
    assert not [n for n in ast.walk(tree) if (isinstance(n, ast.Attribute) and n.attr == "system")
                or (isinstance(n, ast.Name) and n.id == "__import__")]


def test_unusable_class_name_is_refused(tmp_path, capsys):
    from engine.graph_io import save_graph
    save_graph(load_template("lenet5"), tmp_path / "net.json")
    for name in ("x = 1; import os", "nn", "class", "1Net"):
        assert run_command_line(["export", str(tmp_path / "net.json"), "--class-name", name, "-o",
                                 str(tmp_path / "n.py")]) == 2
        assert "cannot name a Python class" in capsys.readouterr().err
    source = export_training_script(load_template("lenet5"), class_name="X = 1\nimport os\nY")
    assert "MODEL_CLASS = LeNet5\n" in source  # through the API a bad name falls back to the design's
