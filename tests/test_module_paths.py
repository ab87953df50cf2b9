"""Imported models keep their module paths: the design, the compiled network, every weights file and the
exported class use the original's state_dict keys, and repeated blocks export as one class each."""
import json
import re
from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine.analysis import analyze
from engine.codegen import export_python
from engine.compiler import GraphInvalidError, compile_graph
from engine.graph import chain
from engine.graph_io import GraphFileError, graph_from_json, graph_to_dict, graph_to_json
from engine.interchange.fx_import import import_module
from engine.interchange.sources import build_torchvision
from exported_code import exported_network

pytestmark = pytest.mark.usefixtures("one_thread")
torchvision = pytest.importorskip("torchvision")

# The smallest member of every torchvision CNN family, at a small input it accepts.
FAMILIES = [("alexnet", (3, 64, 64)), ("vgg11", (3, 32, 32)), ("resnet18", (3, 32, 32)),
            ("resnext50_32x4d", (3, 32, 32)), ("wide_resnet50_2", (3, 32, 32)), ("squeezenet1_0", (3, 64, 64)),
            ("densenet121", (3, 32, 32)), ("googlenet", (3, 64, 64)), ("inception_v3", (3, 75, 75)),
            ("mobilenet_v2", (3, 32, 32)), ("mobilenet_v3_small", (3, 32, 32)), ("mnasnet0_5", (3, 32, 32)),
            ("shufflenet_v2_x0_5", (3, 32, 32)), ("efficientnet_b0", (3, 32, 32)),
            ("efficientnet_v2_s", (3, 32, 32)), ("regnet_x_400mf", (3, 32, 32)), ("convnext_tiny", (3, 32, 32))]


def _randomised(model: nn.Module) -> nn.Module:
    """Statistics and scales away from their starting values, so loading them really matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point() and ("running" in name or name.endswith("layer_scale")):
                value.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("key,shape", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_exported_class_loads_the_originals_state_dict_strictly(key, shape):
    original = _randomised(build_torchvision(key, num_classes=10))
    result = import_module(original, shape)
    assert result.complete and not result.weight_shapes
    assert result.imported_parameters == sum(p.numel() for p in original.parameters())
    network = exported_network(export_python(result.graph, "Exported"), "Exported", original.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(network(x), original(x), rtol=1e-4, atol=1e-5)
    compiled = compile_graph(result.graph).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        compiled(x)
    assert counter.get_total_flops() == 2 * 2 * analyze(result.graph).total_macs


def test_weights_trained_in_the_app_load_into_the_original_model():
    original = build_torchvision("resnet18", num_classes=10).eval()
    result = import_module(original, (3, 32, 32))
    compiled = compile_graph(result.graph)
    assert list(compiled.state_dict()) == list(original.state_dict())
    with torch.no_grad():
        for p in compiled.parameters():
            p.add_(0.01)
    fresh = build_torchvision("resnet18", num_classes=10).eval()
    fresh.load_state_dict(compiled.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), compiled.eval()(x))
    assert {n.name for n in result.graph.nodes} >= {"conv1", "layer1.0.conv1", "layer2.0.downsample.0", "fc"}


def test_resnet18_exports_basic_block_once_used_eight_times():
    original = build_torchvision("resnet18", num_classes=10)
    code = export_python(import_module(original, (3, 32, 32)).graph, "ResNet18")
    assert code.count("class BasicBlock(nn.Module):") == 1 and len(re.findall(r"(?<!class )\bBasicBlock\(", code)) == 8
    assert "def __init__(self, in_channels, channels, stride, downsample=None):" in code
    assert "downsample = x if self.downsample is None else self.downsample(x)" in code
    assert "self.layer1 = nn.Sequential(" in code and "conv2d_" not in code
    assert len(code.splitlines()) < 100   # was one flat forward of 220 lines


def test_blocks_with_equal_structure_share_a_class_with_arguments():
    original = build_torchvision("resnet50", num_classes=10)
    code = export_python(import_module(original, (3, 32, 32)).graph, "Net")
    assert code.count("class Bottleneck(nn.Module):") == 1 and len(re.findall(r"(?<!class )\bBottleneck\(", code)) == 16
    assert "Bottleneck(64, 64, 1, 256, downsample=nn.Sequential(" in code
    assert "def __init__(self, in_channels, channels, stride, out_channels, downsample=None):" in code


def test_names_survive_the_design_file_and_old_designs_stay_version_1(tmp_path):
    graph = import_module(build_torchvision("resnet18", num_classes=10), (3, 32, 32)).graph
    data = graph_to_dict(graph)
    assert data["version"] == 2 and ["layer1.0", "BasicBlock"] in data["module_classes"]
    again = graph_from_json(graph_to_json(graph))
    assert [n.name for n in again.nodes] == [n.name for n in graph.nodes]
    assert again.module_classes == graph.module_classes
    plain = chain([("Input", {}), ("Flatten", {}), ("Linear", {"out_features": 10}), ("Output", {})])
    assert graph_to_dict(plain)["version"] == 1 and "module_classes" not in graph_to_dict(plain)


def _named_file(names: list, classes: list | None = None) -> str:
    graph = chain([("Input", {"channels": 1, "height": 8, "width": 8}), ("Conv2d", {"out_channels": 4}),
                   ("Conv2d", {"out_channels": 4}), ("Flatten", {}), ("Linear", {"out_features": 10}), ("Output", {})])
    data = graph_to_dict(graph)
    for node, name in zip(data["nodes"][1:], names):
        if name is not None:
            node["name"] = name
    data["version"] = 2
    if classes is not None:
        data["module_classes"] = classes
    return json.dumps(data)


@pytest.mark.parametrize("names,classes,expected", [
    (["a..b"], None, "not a valid part of a module path"),
    (["__class__"], None, "not starting with two underscores"),
    (["head.forward"], None, "every PyTorch module has"),
    (["training"], None, "every PyTorch module has"),
    (["x" * 300], None, "at most 250 characters"),
    (["a\nb"], None, "not a valid part"),
    ([7], None, "a module path is text"),
    (["conv", None, "conv"], None, "both use the module path 'conv'"),
    (["block", "block.conv"], None, "which also holds"),
    ([None, None, "conv2d_1"], None, "both use the module path 'conv2d_1'"),
    (["a.conv"], [["a", "Not A Class"]], "class name"),
    (["a.conv"], [["a", "Block"], ["a", "Block"]], "listed twice"),
    (["a.conv"], "Block", "list of [module path, class name] pairs"),
])
def test_hostile_module_names_are_refused_on_load(names, classes, expected):
    with pytest.raises(GraphFileError, match=re.escape(expected)):
        graph_from_json(_named_file(names, classes))


def test_a_loaded_name_becomes_the_state_dict_key_and_export_matches():
    graph = graph_from_json(_named_file(["stem.conv", "stem.conv2", None, "head"], [["stem", "Stem"]]))
    compiled = compile_graph(graph)
    assert list(compiled.state_dict()) == ["stem.conv.weight", "stem.conv.bias", "stem.conv2.weight",
                                           "stem.conv2.bias", "head.weight", "head.bias"]
    code = export_python(graph, "Net")
    assert "class Stem(nn.Module):" in code
    exported = exported_network(code, "Net", compiled.state_dict())
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), compiled.eval()(x))


def test_layers_with_weights_may_not_share_a_module_path():
    graph = chain([("Input", {"channels": 1, "height": 8, "width": 8}), ("Conv2d", {"out_channels": 1}),
                   ("Conv2d", {"out_channels": 1}), ("Flatten", {}), ("Linear", {"out_features": 3}), ("Output", {})])
    convs = [n for n in graph.nodes if n.kind == "Conv2d"]
    for n in convs:
        graph = graph.with_node(replace(n, name="conv"))
    analysis = analyze(graph)
    assert any("holds weights under the module path 'conv'" in i.message for i in analysis.errors)
    with pytest.raises(GraphInvalidError):
        compile_graph(graph, analysis)


def test_a_module_called_twice_stays_one_module_in_the_export():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
            self.act = nn.ReLU()
            self.fc = nn.Linear(4 * 8 * 8, 2)

        def forward(self, x):
            return self.fc(torch.flatten(self.act(self.conv2(self.act(self.conv1(x)))), 1))

    original = Twice().eval()
    result = import_module(original, (3, 8, 8))
    assert [n.name for n in result.graph.nodes].count("act") == 2 and analyze(result.graph).ok
    code = export_python(result.graph, "Net")
    assert code.count("self.act = nn.ReLU()") == 1 and code.count("self.act(") == 2
    network = exported_network(code, "Net", original.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(network(x), original(x))


def test_a_mismatched_weights_file_names_the_keys_as_the_design_stores_them():
    result = import_module(build_torchvision("resnet18", num_classes=10), (3, 32, 32))
    state = compile_graph(result.graph).state_dict()
    del state["layer1.0.conv1.weight"]
    with pytest.raises(RuntimeError, match=re.escape('Missing key(s) in state_dict: "layer1.0.conv1.weight"')):
        compile_graph(result.graph).load_state_dict(state)


def test_a_group_that_is_not_one_call_becomes_a_holder_and_still_loads_strictly():
    class Pair(nn.Module):   # two layers the parent calls separately, and a weight of its own
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1)
            self.scale = nn.Parameter(torch.rand(4, 1, 1) + 0.5)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()
            self.fc = nn.Linear(8 * 6 * 6, 5)

        def forward(self, x):
            a = self.pair.a(x) * self.pair.scale
            return self.fc(torch.flatten(torch.cat([a, self.pair.b(x)], 1), 1))

    original = Net().eval()
    result = import_module(original, (3, 6, 6))
    code = export_python(result.graph, "Exported")
    assert 'self.pair = ModuleHolder({' in code and "class ModuleHolder(nn.Module):" in code
    network = exported_network(code, "Exported", original.state_dict())
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(network(x), original(x))
