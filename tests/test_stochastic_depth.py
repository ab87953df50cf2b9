"""Stochastic depth (drop path): the layer kind computes what torchvision's does, in training and at test
time, and exported code carries its class so it runs with torch alone."""
from __future__ import annotations

import pytest
import torch

from engine.codegen import export_python
from engine.compiler import compile_graph
from engine.graph import chain
from engine.registry import get_kind
from exported_code import exported_network

torchvision_ops = pytest.importorskip("torchvision.ops")


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_the_kind_computes_what_torchvision_computes(mode, p):
    ours = get_kind("Stochastic depth").build({"p": p, "mode": mode}, [(4, 5, 5)])
    theirs = torchvision_ops.StochasticDepth(p, mode)
    x = torch.randn(64, 4, 5, 5)
    for training in (True, False):
        ours.train(training), theirs.train(training)
        torch.manual_seed(7)
        expected = theirs(x)
        torch.manual_seed(7)
        torch.testing.assert_close(ours(x), expected, rtol=0, atol=0)
    ours.train()
    if 0 < p < 1 and mode == "row":   # really random per sample, and scaled to keep the mean
        out = ours(torch.ones(4000, 1))
        kept = (out > 0).float().mean().item()
        assert abs(kept - (1 - p)) < 0.05 and torch.allclose(out[out > 0], torch.tensor(1 / (1 - p)))


def test_exported_code_defines_the_class_and_runs_with_torch_alone():
    g = chain([("Input", {"channels": 3, "height": 8, "width": 8}),
               ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
               ("Stochastic depth", {"p": 0.25, "mode": "row"}), ("Flatten", {}),
               ("Linear", {"out_features": 5}), ("Output", {"classes": 5})])
    code = export_python(g, "Net")
    assert code.count("class StochasticDepth(nn.Module):") == 1 and "engine" not in code
    compiled = compile_graph(g)
    exported = exported_network(code, "Net", compiled.state_dict())
    x = torch.randn(6, 3, 8, 8)
    for training in (False, True):
        exported.train(training), compiled.train(training)
        torch.manual_seed(1)
        want = compiled(x)
        torch.manual_seed(1)
        torch.testing.assert_close(exported(x), want)
