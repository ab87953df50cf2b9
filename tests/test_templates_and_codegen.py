"""Templates have the published parameter counts; exported source reproduces the compiled module."""
import ast

import pytest
import torch

from engine.analysis import analyze
from engine.codegen import export_python, safe_comment
from engine.compiler import compile_graph, example_input
from engine.graph import chain
from engine.templates import list_templates, load_template

EXPECTED_PARAMS = {"lenet5": 61_706, "alexnet": 61_100_840, "vgg11": 132_863_336}
SMALL = ["lenet5", "nin", "small_resnet", "inception"]


def test_template_list_is_complete():
    keys = {t.key for t in list_templates()}
    assert {"lenet5", "alexnet", "vgg11", "nin", "small_resnet", "inception"} <= keys
    assert all(t.description for t in list_templates())


@pytest.mark.parametrize("key", sorted(EXPECTED_PARAMS))
def test_template_parameter_counts(key):
    graph = load_template(key)
    analysis = analyze(graph)
    assert analysis.ok, analysis.error_text()
    assert analysis.total_params == EXPECTED_PARAMS[key]


def test_alexnet_and_vgg_match_torchvision():
    torchvision = pytest.importorskip("torchvision")
    for key, ctor in (("alexnet", torchvision.models.alexnet), ("vgg11", torchvision.models.vgg11)):
        with torch.device("meta"):
            reference = ctor(weights=None)
        assert analyze(load_template(key)).total_params == sum(p.numel() for p in reference.parameters())


def load_exported(source, class_name):
    namespace = {"__name__": "exported"}
    exec(compile(source, "<exported>", "exec"), namespace)
    return namespace[class_name]


@pytest.mark.parametrize("key", [t.key for t in list_templates()])
def test_exported_source_reproduces_compiled_module(key, one_thread):
    torch.manual_seed(0)
    graph = load_template(key)
    compiled = compile_graph(graph).eval()
    source = export_python(graph, class_name="Exported")
    assert "import torch" in source and "engine" not in source.replace("CNN Designer", "")
    with torch.device("meta"):  # skip a second random initialisation of the big templates
        exported = load_exported(source, "Exported")()
    exported.load_state_dict(compiled.state_dict(), strict=True, assign=True)
    exported.eval()
    x = example_input(graph, 3 if key in SMALL else 1)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), compiled(x), rtol=0, atol=0)


@pytest.mark.parametrize("key", SMALL)
def test_compiled_output_matches_analysis(key):
    graph = load_template(key)
    analysis = analyze(graph)
    module = compile_graph(graph, analysis)
    out = module(example_input(graph, 2))
    output_id = graph.nodes_of_kind("Output")[0].id
    assert tuple(out.shape[1:]) == analysis.nodes[output_id].shape
    assert sum(p.numel() for p in module.parameters()) == analysis.total_params
    assert {name.split(".")[0] for name, _ in module.named_parameters()} <= {n.id for n in graph.nodes}


def test_labels_cannot_inject_code():
    evil = 'x\nimport os; os.system("echo pwned")\r\n\u2028"""; raise SystemExit #'
    graph = chain([("Input", {}), ("Flatten", {}), ("Linear", {"out_features": 10}), ("Output", {})],
                  name=evil, description=evil)
    graph = graph.with_node(graph.node("linear_1").__class__(
        "linear_1", "Linear", graph.node("linear_1").params, (0, 0), evil))
    source = export_python(graph)
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert imported <= {"torch", "nn"}
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system" for n in ast.walk(tree))
    assert not any(isinstance(n, ast.Raise) for n in ast.walk(tree))
    class_name = next(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    cls = load_exported(source, class_name)  # the label did not break the syntax or add a statement
    assert cls()(torch.randn(1, 1, 28, 28)).shape == (1, 10)
    assert "\n" not in safe_comment(evil)


def test_branches_compile_and_export():
    graph = load_template("small_resnet")
    assert any(n.kind == "Add" for n in graph.nodes)
    source = export_python(graph)
    assert " + " in source
    inc = export_python(load_template("inception"))
    assert "torch.cat([" in inc


@pytest.mark.parametrize("key", SMALL)
def test_template_macs_match_flop_counter(key):
    from torch.utils.flop_counter import FlopCounterMode

    graph = load_template(key)
    module = compile_graph(graph).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(example_input(graph, 2))
    assert counter.get_total_flops() == 2 * 2 * analyze(graph).total_macs
