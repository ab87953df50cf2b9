"""Importing PyTorch models with torch.fx: torchvision architectures keep their parameter counts and,
with the original's weights loaded through the key mapping, give the original's outputs."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.analysis import analyze
from engine.compiler import compile_graph
from engine.interchange.fx_import import ImportFailedError, UnmappableModelError, import_module
from engine.interchange.importing import import_torchvision
from engine.interchange.sources import SourceError, build_torchvision, torchvision_model_keys


pytestmark = pytest.mark.usefixtures("one_thread")

torchvision = pytest.importorskip("torchvision")

# Small inputs keep these fast; every model still runs its whole structure.
CASES = [("resnet18", (3, 64, 64)), ("squeezenet1_1", (3, 64, 64)), ("googlenet", (3, 64, 64)),
         ("mobilenet_v2", (3, 32, 32)), ("mobilenet_v3_small", (3, 32, 32)), ("alexnet", (3, 64, 64)),
         ("vgg11_bn", (3, 32, 32)),
         # DenseNet starts each dense layer with torch.cat([x], 1) of one tensor (issue 17)
         ("densenet121", (3, 32, 32)), ("resnext50_32x4d", (3, 32, 32)), ("regnet_y_400mf", (3, 32, 32)),
         ("inception_v3", (3, 75, 75)),
         # x.mean([2, 3]) is global average pooling; stochastic depth is a layer kind of its own
         ("mnasnet0_5", (3, 32, 32)), ("efficientnet_b0", (3, 32, 32)),
         # channel split (chunk) and channel shuffle (view, transpose, view)
         ("shufflenet_v2_x0_5", (3, 32, 32)),
         # LayerNorm over the channels, Linear layers between permutes, a learned layer scale
         ("convnext_tiny", (3, 32, 32))]


def assert_same_model(original, result, shape, batch=2):
    original.eval()
    assert result.complete, result.unmapped
    assert result.imported_parameters == sum(p.numel() for p in original.parameters())
    compiled = compile_graph(result.graph).eval()
    assert sum(p.numel() for p in compiled.parameters()) == result.original_parameters
    compiled.load_state_dict(result.convert_state_dict(original.state_dict()), strict=True)
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), original(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key,shape", CASES, ids=[c[0] for c in CASES])
def test_torchvision_import_matches_parameters_and_outputs(key, shape):
    torch.manual_seed(0)
    original = build_torchvision(key, num_classes=10)
    for m in original.modules():  # non-trivial batch-norm statistics, so eval mode is really tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
        if isinstance(m, nn.LayerNorm):   # and layer norm and layer scale far from their starting values
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    with torch.no_grad():
        for name, p in original.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.5, 1.5)
    result = import_module(original, shape)
    assert_same_model(original, result, shape)
    assert analyze(result.graph).ok
    assert all(n.pos != (0.0, 0.0) for n in result.graph.nodes[1:])  # laid out


def test_resnet_downsample_and_flatten_map():
    result = import_module(build_torchvision("resnet18", 10), (3, 64, 64))
    kinds = [n.kind for n in result.graph.nodes]
    assert kinds.count("Add") == 8 and kinds.count("Flatten") == 1 and kinds.count("Conv2d") == 20
    labels = {n.label for n in result.graph.nodes}
    assert "layer2.0.downsample.0" in labels
    assert result.weight_map["conv1.weight"].endswith(".weight")


def test_every_listed_torchvision_architecture_exists():
    for key in torchvision_model_keys():
        assert hasattr(torchvision.models, key)
    with pytest.raises(SourceError, match="unknown torchvision architecture"):
        build_torchvision("resnet9000")


class HandWritten(nn.Module):
    """Functional calls, a view to a flat vector, a two-way concat and grouped convolution."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.b = nn.Conv2d(3, 8, 5, padding=2, groups=1)
        self.dw = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
        self.bn = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
        self.fc = nn.Linear(16 * 4 * 4, 7)

    def forward(self, x):
        y = torch.cat([F.relu(self.a(x)), torch.relu(self.b(x))], 1)
        y = F.max_pool2d(self.bn(self.dw(y)), 2)
        y = F.dropout(y, 0.3, training=self.training)
        return self.fc(y.view(y.size(0), -1))


def test_hand_written_module_maps_functions_and_parameters():
    torch.manual_seed(0)
    model = HandWritten()
    result = import_module(model, (3, 16, 16))
    assert_same_model(model, result, (3, 16, 16))
    by_label = {n.label: n for n in result.graph.nodes}
    assert by_label["dw"].params["groups"] == 16 and by_label["dw"].params["stride"] == (2, 2)
    assert by_label["a"].params["bias"] is False
    assert by_label["bn"].params["eps"] == 1e-3 and by_label["bn"].params["momentum"] == 0.01
    kinds = sorted(n.kind for n in result.graph.nodes)
    assert kinds.count("Concat") == 1 and kinds.count("Flatten") == 1 and kinds.count("Dropout") == 1


class Unmappable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.up = nn.PixelShuffle(2)
        self.fc = nn.Linear(4 * 16 * 16, 3)

    def forward(self, x):
        y = self.conv(x) * 0.5          # scaling by a number: no registered kind
        y = self.up(y)                  # changes the shape: consumers are left unconnected
        return self.fc(torch.flatten(y, 1))


def test_unmapped_operations_are_listed_by_op_module_and_line():
    with pytest.raises(UnmappableModelError) as info:
        import_module(Unmappable(), (1, 8, 8))
    unmapped = {u.node: u for u in info.value.unmapped}
    assert unmapped["mul"].op == "operator.mul" and "number" in unmapped["mul"].reason
    assert unmapped["up"].op == "nn.PixelShuffle" and unmapped["up"].source == "up"
    assert unmapped["mul"].where.startswith("test_import_fx.py:") and "* 0.5" in unmapped["mul"].where
    text = str(info.value)
    assert "operator.mul in (top level)" in text and "nn.PixelShuffle in up" in text and "* 0.5" in text


def test_partial_import_keeps_a_placeholder_for_each_operation_that_does_not_map():
    result = import_module(Unmappable(), (1, 8, 8), keep_partial=True)
    assert not result.complete and result.warnings
    g = result.graph
    holders = {u.node: g.node(u.placeholder) for u in result.unmapped}
    assert {n: h.kind for n, h in holders.items()} == {"mul": "Unsupported", "up": "Unsupported"}
    assert holders["up"].params["source"] == "up" and holders["up"].params["shape"] == (4, 16, 16)
    conv = next(n for n in g.nodes if n.label == "conv")
    flatten = next(n for n in g.nodes if n.kind == "Flatten")
    # nothing bridged, nothing cut off: conv -> [mul] -> [up] -> flatten, each placeholder in its place
    assert [e.target for e in g.out_edges(conv.id)] == [holders["mul"].id]
    assert [e.target for e in g.out_edges(holders["mul"].id)] == [holders["up"].id]
    assert [e.source for e in g.in_edges(flatten.id)] == [holders["up"].id]
    analysis = analyze(g)
    assert not analysis.ok and {i.node_id for i in analysis.mistakes} == {h.id for h in holders.values()}
    assert analysis.nodes[flatten.id].shape == (4 * 16 * 16,)   # the shapes after a placeholder still hold
    assert {"conv.weight", "fc.weight"} <= set(result.weight_map)
    assert result.original_layers == 5 and result.imported_layers == 3       # conv, flatten, fc of 5
    assert "imported 3 of 5 layers" in result.counts_text() and "placeholders" in result.counts_text()
    assert result.max_difference is None and "not compared" in result.verification


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(self.conv(x)), 1))


def test_weight_sharing_is_reported_not_duplicated():
    with pytest.raises(UnmappableModelError, match="reuses the weights of conv"):
        import_module(Shared(), (2, 4, 4))


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_untraceable_and_wrongly_sized_models_get_clear_messages():
    with pytest.raises(ImportFailedError, match="cannot trace DataDependent"):
        import_module(DataDependent(), (1, 4, 4))
    with pytest.raises(ImportFailedError, match="does not run on inputs of shape 3×8×8"):
        import_module(HandWritten(), (3, 8, 8))
    with pytest.raises(ImportFailedError, match="channels"):
        import_module(HandWritten(), (300, 16, 16))


def test_import_torchvision_with_weights_file(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(3)
    original = build_torchvision("squeezenet1_1", 5).eval()
    path = tmp_path / "sq.safetensors"
    save_file({k: v.contiguous() for k, v in original.state_dict().items()}, str(path))
    imported = import_torchvision("squeezenet1_1", (3, 64, 64), num_classes=5, weights_path=path)
    compiled = compile_graph(imported.graph).eval()
    compiled.load_state_dict(imported.weights, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), original(x), rtol=1e-4, atol=1e-5)
