"""Channel slice and channel shuffle: layer kinds that compute what PyTorch computes, import from the ways
people write them (x[:, a:b], chunk, split; view-transpose-view), and export to ONNX and plain PyTorch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.codegen import export_python
from engine.compiler import compile_graph
from engine.graph import chain
from engine.interchange.exporters import export_onnx
from engine.interchange.fx_import import import_module
from engine.registry import get_kind
from exported_code import exported_network

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_is_torchs_channel_shuffle(groups):
    x = torch.randn(2, 12, 3, 4)
    ours = get_kind("Channel shuffle").build({"groups": groups}, [(12, 3, 4)])
    torch.testing.assert_close(ours(x), nn.ChannelShuffle(groups)(x), rtol=0, atol=0)


class Split(nn.Module):
    """ShuffleNet's unit written three ways: chunk, split and slicing, with a hand-written shuffle."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.branch = nn.Conv2d(6, 6, 1)
        self.head = nn.Linear(12 * 4 * 4 + 4 * 4 * 4 + 8 * 4 * 4, 5)

    def forward(self, x):
        x = self.conv(x)
        a, b = x.chunk(2, dim=1)
        y = torch.cat([a, self.branch(b)], dim=1)
        n, c, h, w = y.size()
        y = y.view(n, 3, c // 3, h, w)
        y = torch.transpose(y, 1, 2).contiguous()
        y = y.view(n, -1, h, w)
        first, _rest = torch.split(x, [4, 8], dim=1)
        last = x[:, -8:]
        return self.head(torch.cat([y.flatten(1), first.flatten(1), last.flatten(1)], 1))


def test_splits_slices_and_a_shuffle_import_as_layers_and_compute_the_same(tmp_path):
    model = Split().eval()
    result = import_module(model, (3, 4, 4))
    assert result.complete and result.max_difference == 0.0
    kinds = [n.kind for n in result.graph.nodes]
    assert kinds.count("Channel shuffle") == 1 and kinds.count("Channel slice") == 4
    shuffle = next(n for n in result.graph.nodes if n.kind == "Channel shuffle")
    assert shuffle.params == {"groups": 3}
    slices = sorted((n.params["start"], n.params["stop"]) for n in result.graph.nodes if n.kind == "Channel slice")
    assert slices == [(0, 4), (0, 6), (4, 12), (6, 12)]

    # exported code (torch only) and ONNX compute the same
    code = export_python(result.graph, "Net")
    assert "class ChannelShuffle(nn.Module):" in code and "class ChannelSlice(nn.Module):" in code
    exported = exported_network(code, "Net", result.convert_state_dict(model.state_dict()))
    x = torch.randn(3, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x))
    pytest.importorskip("onnxruntime")
    compiled = compile_graph(result.graph)
    report = export_onnx(result.graph, tmp_path / "net.onnx", weights=result.convert_state_dict(model.state_dict()))
    assert report.checked and report.max_abs_difference < 1e-5
    assert compiled is not None


def test_channel_slice_refuses_ranges_outside_its_input():
    from engine.analysis import analyze

    g = chain([("Input", {"channels": 4, "height": 2, "width": 2}), ("Channel slice", {"start": 2, "stop": 6}),
               ("Flatten", {}), ("Linear", {"out_features": 2}), ("Output", {"classes": 2})])
    error = analyze(g).nodes["channel_slice_1"].error
    assert "only 4" in error.message and error.fix is not None and error.fix.params == {"stop": 4}
