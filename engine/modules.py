"""Tiny modules for the branch kinds, so every node of a compiled graph is a named submodule."""
from __future__ import annotations

import torch
from torch import nn


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class Multiply(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


# Computes what torchvision.ops.StochasticDepth computes, so an import maps onto it exactly; its source is
# written into exported code (LayerKind.emit_classes), which then needs only torch.
class StochasticDepth(nn.Module):
    """While training, drops a residual branch with probability `p`: for each sample on its own ("row") or for
    the whole batch ("batch"), scaling what is kept by 1/(1-p). At test time it passes its input through."""

    def __init__(self, p: float = 0.2, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        if self.mode == "row":
            size = [x.shape[0]] + [1] * (x.dim() - 1)
        else:
            size = [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise = noise / survival
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


class ChannelSlice(nn.Module):
    """Keeps channels (or features) `start` to `stop - 1` of its input: x[:, start:stop]."""

    def __init__(self, start: int = 0, stop: int = 1) -> None:
        super().__init__()
        self.start = start
        self.stop = stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"start={self.start}, stop={self.stop}"


class ChannelShuffle(nn.Module):
    """Interleaves the channels of `groups` groups (ShuffleNet): what nn.ChannelShuffle computes, written with
    reshape and transpose so ONNX can export it (there is no ONNX operator for aten::channel_shuffle)."""

    def __init__(self, groups: int = 2) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelLayerNorm(nn.LayerNorm):
    """Layer normalisation over the channels at every position of (N, C, H, W) feature maps (ConvNeXt's
    LayerNorm2d), or over the features of flat (N, C) vectors. Its weights are nn.LayerNorm's (C,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
            x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)
        return nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class LayerScale(nn.Module):
    """Multiplies each channel by a learned factor that starts at `init` (ConvNeXt's layer scale)."""

    def __init__(self, shape: tuple = (1,), init: float = 1e-6) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full(tuple(shape), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class PointwiseLinear(nn.Linear):
    """A Linear layer applied to the channels at every position of (N, C, H, W) feature maps: a 1×1
    convolution whose weight keeps nn.Linear's (out, in) shape, as ConvNeXt writes it between permutes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight[:, :, None, None], self.bias)


class ModuleHolder(nn.Module):
    """Keeps layers and weights under the names the original model gave them; the forward that uses them
    belongs to the module around it."""

    def __init__(self, members: dict) -> None:
        super().__init__()
        for name, member in members.items():
            setattr(self, name, member)
