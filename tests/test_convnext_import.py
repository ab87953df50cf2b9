"""ConvNeXt's pieces: LayerNorm over the channels, Layer scale, and channels-last stretches (permute, per-position
layers, permute back) that import as channels-first layers computing the same; anything else around a permute is
refused with a reason, never imported wrongly."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.analysis import analyze
from engine.codegen import export_python
from engine.compiler import compile_graph
from engine.graph import chain
from engine.interchange.exporters import export_onnx
from engine.interchange.fx_import import UnmappableModelError, import_module
from engine.registry import get_kind
from exported_code import exported_network

pytestmark = pytest.mark.usefixtures("one_thread")


def test_layer_norm_kind_normalises_the_channels_at_each_position():
    x = torch.randn(2, 6, 3, 5)
    ours = get_kind("LayerNorm").build({"eps": 1e-6, "affine": True}, [(6, 3, 5)])
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-1, 1)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ours.weight, ours.bias, 1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours(x), expected, rtol=0, atol=0)
    flat = get_kind("LayerNorm").build({"eps": 1e-5, "affine": False}, [(7,)])
    v = torch.randn(4, 7)
    torch.testing.assert_close(flat(v), F.layer_norm(v, (7,)), rtol=0, atol=0)
    assert sum(p.numel() for p in ours.parameters()) == 12 and not list(flat.parameters())


def test_layer_norm_and_layer_scale_refuse_other_ranks():
    for kind in ("LayerNorm", "Layer scale"):
        with pytest.raises(Exception, match="feature maps"):
            get_kind(kind).infer(get_kind(kind).defaults(), [(3, 4)])


class OfficialBlock(nn.Module):
    """A ConvNeXt block as the paper's code writes it: a LayerNorm with its own forward (channels_last), a
    learned gamma of shape (C,) applied in channels-last order, and Linear layers as 1×1 convolutions."""

    def __init__(self, dim=8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.rand(dim) + 0.5)

    def forward(self, x):
        shortcut = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)
        x = self.pwconv2(self.act(self.pwconv1(self.norm(x))))
        x = self.gamma * x
        x = x.permute(0, 3, 1, 2)
        return shortcut + x


class ChannelsFirstNorm(nn.Module):
    """The paper's LayerNorm for channels-first maps: F.layer_norm between two permutes."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(dim) + 0.5)
        self.bias = nn.Parameter(torch.randn(dim))

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-6)
        return x.permute(0, 3, 1, 2)


class TinyConvNeXt(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.norm = ChannelsFirstNorm(8)
        self.block = OfficialBlock(8)
        self.head_norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = self.block(self.norm(self.stem(x)))
        return self.head(self.head_norm(x.mean([-2, -1])))


def _perturbed(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-1, 1)
    return model.eval()


def test_the_papers_convnext_block_imports_exactly_and_exports(tmp_path):
    model = _perturbed(TinyConvNeXt())
    result = import_module(model, (3, 16, 16))
    assert result.complete and result.max_difference < 1e-5
    kinds = [n.kind for n in result.graph.nodes]
    assert kinds.count("LayerNorm") == 3 and kinds.count("Layer scale") == 1
    by_label = {n.label: n for n in result.graph.nodes}
    assert by_label["block.pwconv1"].kind == "Pointwise linear" and by_label["block.pwconv1"].params["out_features"] == 32
    assert by_label["block.norm"].params["eps"] == 1e-6
    assert analyze(result.graph).total_params == sum(p.numel() for p in model.parameters())
    state = result.convert_state_dict(model.state_dict())
    assert state[result.weight_map["block.gamma"]].shape == (8, 1, 1)
    assert result.weight_map["block.pwconv1.weight"] == "block.pwconv1.weight"   # kept as nn.Linear's (32, 8)
    assert result.weight_map["block.gamma"] == "layer_scale_1.scale"   # held as (8, 1, 1): under the layer's id

    x = torch.randn(3, 3, 16, 16)
    code = export_python(result.graph, "Net")
    assert "class ChannelLayerNorm(nn.LayerNorm):" in code and "class LayerScale(nn.Module):" in code
    with torch.no_grad():
        torch.testing.assert_close(exported_network(code, "Net", state)(x), model(x), rtol=1e-4, atol=1e-5)
    pytest.importorskip("onnxruntime")
    report = export_onnx(result.graph, tmp_path / "net.onnx", weights=state)
    assert report.checked and report.max_abs_difference < 1e-5


class PermuteThenFlatten(nn.Module):
    """A permute whose result is read in channels-last order (flattened): passing it through would reorder
    the features, so it must not map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).permute(0, 2, 3, 1).flatten(1))


class LinearOnMaps(nn.Module):
    """A Linear over the width of channels-first maps is not a 1×1 convolution."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(64, 2)

    def forward(self, x):
        return self.head(self.fc(self.conv(x)).flatten(1))


@pytest.mark.parametrize("model,op", [(PermuteThenFlatten(), "Tensor.permute"), (LinearOnMaps(), "nn.Linear")])
def test_channels_last_is_never_assumed(model, op):
    with pytest.raises(UnmappableModelError) as info:
        import_module(model.eval(), (3, 4, 4))
    assert [u.op for u in info.value.unmapped] == [op]
    assert "channels" in info.value.unmapped[0].reason


def test_a_layer_scale_design_trains_its_scale_and_reports_its_parameters():
    g = chain([("Input", {"channels": 3, "height": 8, "width": 8}), ("Conv2d", {"out_channels": 6}),
               ("LayerNorm", {}), ("Layer scale", {"init": 0.5}), ("Flatten", {}), ("Linear", {"out_features": 2}),
               ("Output", {"classes": 2})])
    analysis = analyze(g)
    assert analysis.ok
    net = compile_graph(g)
    assert analysis.total_params == sum(p.numel() for p in net.parameters())
    scale = next(m for m in net.modules() if type(m).__name__ == "LayerScale")
    assert scale.scale.shape == (6, 1, 1) and bool((scale.scale == 0.5).all())
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    assert scale.scale.grad is not None and scale.scale.grad.abs().sum() > 0


class GroupNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.norm = nn.GroupNorm(4, 12, eps=1e-3)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        return self.head(F.relu(self.norm(self.conv(x))).mean([2, 3]))


def test_group_norm_imports_and_refuses_channels_that_do_not_divide():
    model = GroupNormNet().eval()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-1, 1)
    result = import_module(model, (3, 8, 8))
    assert result.complete and result.max_difference < 1e-5
    norm = next(n for n in result.graph.nodes if n.kind == "GroupNorm")
    assert norm.params == {"groups": 4, "eps": 1e-3, "affine": True}
    g = chain([("Input", {"channels": 3, "height": 8, "width": 8}), ("Conv2d", {"out_channels": 10}),
               ("GroupNorm", {"groups": 4}), ("Flatten", {}), ("Linear", {"out_features": 2}),
               ("Output", {"classes": 2})])
    error = analyze(g).nodes["groupnorm_1"].error
    assert error is not None and "10 channels do not divide into 4" in error.message
    assert error.fix.params == {"groups": 2}
