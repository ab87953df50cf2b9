"""Decoders import: transposed convolutions, nn.Upsample and F.interpolate (nearest and bilinear, by a factor or
to a size) from PyTorch models and from ONNX files, computing what the original computes."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.codegen import export_python
from engine.interchange.exporters import _quiet_onnx_log
from engine.interchange.fx_import import UnmappableModelError, import_module
from exported_code import exported_network

pytestmark = pytest.mark.usefixtures("one_thread")


class TinyUNet(nn.Module):
    """An encoder, a decoder that grows the map back three ways, and a skip connection."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.mix = nn.Conv2d(8 + 3, 4, 3, padding=1)
        self.act = nn.GELU()
        self.head = nn.Linear(4, 5)

    def forward(self, x):
        y = self.up1(F.relu(self.down(x)))                       # back to the input's size
        y = torch.cat([y, x], dim=1)                              # the skip connection
        y = F.interpolate(self.act(self.mix(y)), size=(32, 32), mode="nearest")
        y = self.up2(F.max_pool2d(y, 2))
        return self.head(y.mean([2, 3]))


def _model():
    torch.manual_seed(0)
    return TinyUNet().eval()


def test_a_small_unet_imports_exactly_and_exports():
    model = _model()
    result = import_module(model, (3, 16, 16))
    assert result.complete and result.max_difference < 1e-6
    kinds = [n.kind for n in result.graph.nodes]
    assert kinds.count("ConvTranspose2d") == 1 and kinds.count("Upsample") == 2
    ups = {n.label: n.params for n in result.graph.nodes if n.kind == "Upsample"}
    assert ups["up2"] == {"scale_factor": (2, 2), "mode": "bilinear", "align_corners": False}
    assert {"scale_factor": (2, 2), "mode": "nearest", "align_corners": False} in ups.values()
    tconv = next(n for n in result.graph.nodes if n.kind == "ConvTranspose2d")
    assert tconv.params["output_padding"] == (1, 1) and tconv.params["stride"] == (2, 2)
    code = export_python(result.graph, "Net")
    exported = exported_network(code, "Net", result.convert_state_dict(model.state_dict()))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=1e-5, atol=1e-6)


class OddResize(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=1.5, mode="bicubic").flatten(1)


def test_resizing_that_is_not_a_whole_factor_is_refused():
    with pytest.raises(UnmappableModelError) as info:
        import_module(OddResize(), (1, 4, 4))
    assert "nearest and bilinear" in info.value.unmapped[0].reason


@pytest.mark.parametrize("opset", [17, 20])
def test_the_unet_written_to_onnx_imports_and_matches_onnxruntime(tmp_path, opset):
    """Opset 17 writes GELU out as x·½·(1 + erf(x/√2)); it comes back as one GELU layer."""
    pytest.importorskip("onnxruntime")
    from engine.interchange.onnx_import import import_onnx

    model, path = _model(), tmp_path / "unet.onnx"
    with warnings.catch_warnings(), _quiet_onnx_log():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, opset_version=opset)
    imported = import_onnx(path)
    assert imported.result.complete, imported.result.unmapped
    assert "outputs match onnxruntime" in imported.result.verification
    kinds = [n.kind for n in imported.graph.nodes]
    assert kinds.count("GELU") == 1 and kinds.count("ConvTranspose2d") == 1 and kinds.count("Upsample") == 2
