"""Kernels for the playground: classic hand-made ones (edges, blur, sharpen, emboss), the filters a
network's first convolution learned, and applying either to a real image to get its feature map."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

from engine.teaching.playground import as_grid, check_fits, pair

_BOX = np.full((3, 3), 1 / 9)
_GAUSS = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16

# name -> (kernel, what it does in plain words)
PRESETS = {
    "Identity": ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], "copies the input: only the centre weight is 1"),
    "Edge: horizontal": ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
                         "bright below dark gives a large value: finds horizontal edges"),
    "Edge: vertical": ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
                       "bright right of dark gives a large value: finds vertical edges"),
    "Sobel: horizontal": ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
                          "horizontal edges, weighting the centre row more (less noisy)"),
    "Sobel: vertical": ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                        "vertical edges, weighting the centre column more (less noisy)"),
    "Laplacian": ([[0, 1, 0], [1, -4, 1], [0, 1, 0]], "edges in every direction; flat areas give 0"),
    "Blur: box": (_BOX, "the mean of the 3×3 neighbourhood"),
    "Blur: Gaussian": (_GAUSS, "a weighted mean, the centre counting most: a softer blur"),
    "Sharpen": ([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], "the centre minus its neighbours: stronger contrast"),
    "Emboss": ([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], "a relief look, lit from the bottom right"),
}


def preset_names() -> list:
    return list(PRESETS)


def preset_kernel(name: str) -> np.ndarray:
    """A copy of the preset kernel called `name`."""
    if name not in PRESETS:
        raise ValueError(f"unknown kernel {name!r}; choose one of: {', '.join(PRESETS)}")
    return np.array(PRESETS[name][0], dtype=np.float64)


def preset_description(name: str) -> str:
    return PRESETS[name][1] if name in PRESETS else ""


def to_grey(image: ArrayLike) -> np.ndarray:
    """A data-set image (C×H×W, or H×W) as one H×W channel: the mean of its channels."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[0] < 1:
        raise ValueError(f"an image must be C×H×W or H×W, got shape {tuple(a.shape)}")
    return a.mean(axis=0)


def apply_kernel(image: ArrayLike, kernel: ArrayLike, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 dilation: int | Sequence[int] = 1, bias: float = 0.0) -> np.ndarray:
    """The feature map of `kernel` slid over `image`, computed by PyTorch (H'×W' float32 numpy).

    A 2-D kernel is applied to the image's grey version (C×H×W → mean over channels); a C×kh×kw kernel
    (a learned filter) to all C channels at once, summed, exactly as a Conv2d does.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 3:
        x = np.asarray(image, dtype=np.float64)
        if x.ndim != 3 or x.shape[0] != k.shape[0]:
            raise ValueError(f"this filter reads {k.shape[0]} channel(s) but the image has shape "
                             f"{tuple(x.shape)}; use an image with {k.shape[0]} channel(s) or a 2-D kernel")
        for c in range(k.shape[0]):
            as_grid(k[c], "kernel")
        as_grid(x[0], "image")
    else:
        k = as_grid(k, "kernel")[None]
        x = as_grid(to_grey(image), "image")[None]
    s, p, d = pair(stride, "stride", 1), pair(padding, "padding", 0), pair(dilation, "dilation", 1)
    check_fits(x.shape[1:], k.shape[1:], p, d)
    out = F.conv2d(torch.as_tensor(x, dtype=torch.float32)[None], torch.as_tensor(k, dtype=torch.float32)[None],
                   torch.tensor([float(bias)]), stride=s, padding=p, dilation=d)
    return out[0, 0].numpy()


@dataclass(frozen=True)
class LearnedConv:
    """The first convolution of a network: its name and what its filters need to be reapplied faithfully."""

    name: str
    weight: np.ndarray       # C_out × C_in/groups × kh × kw
    bias: np.ndarray | None  # C_out, or None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)  # explicit; 'same' resolved to the amount PyTorch adds on the top/left
    dilation: tuple = (1, 1)

    @property
    def filters(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])


def first_conv(source: nn.Module | Mapping[str, torch.Tensor]) -> LearnedConv:
    """The first Conv2d of a module (in execution order when the module records it) or of a state dict
    (the first 4-D `….weight`). Raises ValueError when there is none."""
    if isinstance(source, nn.Module):
        order = list(getattr(source, "node_order", []))
        named = dict(source.named_modules())
        candidates = [(n, named[n]) for n in order if n in named] + list(named.items())
        for name, m in candidates:
            if isinstance(m, nn.Conv2d):
                return _from_module(name, m)
        raise ValueError("this network has no Conv2d layer; add one (first, after the Input) to see its filters")
    state = dict(source)
    for key, value in state.items():
        w = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
        if key.endswith("weight") and w.ndim == 4:
            prefix = key[: -len("weight")]
            b = state.get(prefix + "bias")
            b = None if b is None else (b.detach().cpu().numpy() if torch.is_tensor(b) else np.asarray(b))
            return LearnedConv(prefix.rstrip("."), w.astype(np.float64), None if b is None else b.astype(np.float64))
    raise ValueError("these weights hold no convolution filter (no 4-D weight); train a design with a Conv2d")


def _from_module(name: str, m: nn.Conv2d) -> LearnedConv:
    w = m.weight.detach().cpu().numpy().astype(np.float64)
    b = None if m.bias is None else m.bias.detach().cpu().numpy().astype(np.float64)
    pad = m.padding
    if isinstance(pad, str):  # 'valid' or 'same'
        pad = (0, 0) if pad == "valid" else tuple(d * (k - 1) // 2 for d, k in zip(m.dilation, m.kernel_size))
    return LearnedConv(name, w, b, tuple(m.stride), tuple(pad), tuple(m.dilation))


def learned_kernel(source: LearnedConv | nn.Module | Mapping[str, torch.Tensor], index: int,
                   channel: int | None = None) -> np.ndarray:
    """Filter `index` of the first convolution as a 2-D kernel: one input channel's weights, or their mean
    over the input channels when channel is None."""
    conv = source if isinstance(source, LearnedConv) else first_conv(source)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < conv.filters:
        raise ValueError(f"{conv.name} has {conv.filters} filters, numbered 0 to {conv.filters - 1}; "
                         f"filter {index!r} does not exist")
    w = conv.weight[index]
    if channel is None:
        return w.mean(axis=0)
    if not 0 <= channel < w.shape[0]:
        raise ValueError(f"{conv.name} reads {w.shape[0]} input channel(s), numbered 0 to {w.shape[0] - 1}; "
                         f"channel {channel!r} does not exist")
    return w[channel].copy()


def sample_digits(count: int = 8, seed: int = 0) -> np.ndarray:
    """A few images of the default generated digits data set (N×1×28×28 in 0..1), for when none is loaded."""
    from engine.data.generated_digits import render

    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    return render(labels, gen).numpy()
