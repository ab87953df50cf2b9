"""Where the network looked: Grad-CAM and input-gradient saliency for a handful of images.

Both return one map per image with the input's height and width, scaled to 0..1 per image, ready to be
drawn over the image. They run the module in eval mode and leave its parameters' gradients untouched.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn


def _as_batch(images) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)) if not torch.is_tensor(images) else images.float()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"images must be N×C×H×W (or C×H×W); got shape {tuple(x.shape)}")
    return x


def _normalize(maps: torch.Tensor) -> np.ndarray:
    """Scale each map to 0..1; an all-zero map stays zero."""
    flat = maps.reshape(maps.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    span = torch.where(hi - lo > 0, hi - lo, torch.ones_like(hi))
    return ((flat - lo) / span).reshape(maps.shape).detach().cpu().numpy().astype(np.float32)


def _targets(module, x, classes):
    if classes is None:
        with torch.no_grad():
            classes = module(x).argmax(dim=1)
    return torch.as_tensor(np.asarray(classes), dtype=torch.long).reshape(-1)


def input_gradient_saliency(module: nn.Module, images: torch.Tensor | ArrayLike,
                            classes: torch.Tensor | ArrayLike | None = None) -> np.ndarray:
    """|d score[class] / d pixel|, the largest over colour channels (Simonyan et al. 2014).

    `classes` defaults to the predicted class of each image. Returns N×H×W float32 in 0..1.
    """
    x = _as_batch(images).clone().requires_grad_(True)
    was_training = module.training
    module.eval()
    try:
        classes = _targets(module, x.detach(), classes)
        scores = module(x)
        chosen = scores.gather(1, classes.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(chosen, x)
    finally:
        module.train(was_training)
    return _normalize(grad.abs().amax(dim=1))


def grad_cam(module: nn.Module, images: torch.Tensor | ArrayLike, layer: str,
             classes: torch.Tensor | ArrayLike | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) for the submodule named `layer` (a node id).

    The layer's feature maps are weighted by the spatial mean of the score's gradient, summed over
    channels, passed through ReLU and upsampled bilinearly to the input size. Returns N×H×W in 0..1.
    """
    try:
        target = module.get_submodule(layer)
    except AttributeError:
        raise ValueError(f"the network has no layer {layer!r}") from None
    x = _as_batch(images)
    captured = {}

    def keep_output(_mod, _inp, out):
        captured["maps"] = out

    handle = target.register_forward_hook(keep_output)
    was_training = module.training
    module.eval()
    try:
        classes = _targets(module, x, classes)
        with torch.enable_grad():
            scores = module(x)
            maps = captured.get("maps")
            if maps is None or maps.dim() != 4:
                shape = None if maps is None else tuple(maps.shape[1:])
                raise ValueError(f"Grad-CAM needs a layer with (channels, height, width) output; {layer} "
                                 f"gives {shape}. Choose a convolution or pooling layer")
            chosen = scores.gather(1, classes.view(-1, 1)).sum()
            (grad,) = torch.autograd.grad(chosen, maps)
    finally:
        handle.remove()
        module.train(was_training)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * maps.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    return _normalize(cam)


def top_k(probabilities: ArrayLike, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The k most likely classes per row, best first: (indices N×k, probabilities N×k)."""
    p = np.asarray(probabilities)
    k = min(k, p.shape[1])
    idx = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(p, idx, axis=1)
