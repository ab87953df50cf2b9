"""Training-time augmentation, two ways with the same meaning:

* augment_batch(): batch-wise on the training device, with different random parameters per image, for
  data that lives on the device (no per-sample Python work);
* augmentation_pipeline(): a torchvision.transforms.v2 pipeline for one image at a time, used by the
  DataLoader workers when a large data set is streamed (and by exported training scripts).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.training.config import Augmentation

LUMA = (0.299, 0.587, 0.114)


def _uniform(n, spread, gen, device):
    return (torch.rand(n, generator=gen, device=device) * 2 - 1) * spread


def augment_batch(x: torch.Tensor, aug: Augmentation, gen: torch.Generator | None,
                  masks: torch.Tensor | None = None,
                  boxes: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Augment a float batch N×C×H×W in [0, 1]; `gen` lives on x's device. With `masks` (N×H×W classes per
    pixel), crops, flips and affine moves move them with their images (uncovered pixels become background, 0),
    and (images, masks) is returned. With `boxes` (localization N×5 or detection N×K×5 labels,
    engine.training.boxes) the boxes move likewise, (images, boxes) is returned, and a detection object pushed
    mostly out of the picture is dropped."""
    n, c, h, w = x.shape
    dev = x.device
    corners = _corners_of(boxes) if boxes is not None else None
    if aug.crop_padding:  # pad, then crop back at a random offset per image
        p = aug.crop_padding
        padded = F.pad(x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (n,), generator=gen, device=dev)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=gen, device=dev)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        x = padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                   rows, cols]
        if masks is not None:
            masks = F.pad(masks, (p, p, p, p))[torch.arange(n, device=dev)[:, None, None], rows[:, 0], cols[:, 0]]
        if corners is not None:   # the pixel at row oy + r - p moved to row r
            corners = corners + torch.stack([(p - ox) / w, (p - oy) / h], 1).to(corners.dtype)[:, None, None, :]
    if aug.hflip:
        flip = torch.rand(n, generator=gen, device=dev) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if masks is not None:
            masks = torch.where(flip[:, None, None], masks.flip(2), masks)
        if corners is not None:
            mirrored = corners.clone()
            mirrored[..., 0] = 1 - corners[..., 0]
            corners = torch.where(flip[:, None, None, None], mirrored, corners)
    if aug.rotation or aug.affine_translate or aug.affine_scale:
        angle = _uniform(n, math.radians(aug.rotation), gen, dev)
        scale = 1 + _uniform(n, aug.affine_scale, gen, dev)
        tx, ty = _uniform(n, 2 * aug.affine_translate, gen, dev), _uniform(n, 2 * aug.affine_translate, gen, dev)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if masks is not None:
            moved = F.grid_sample(masks[:, None].to(x.dtype), grid, mode="nearest", padding_mode="zeros",
                                  align_corners=False)
            masks = moved[:, 0].round().long()
        if corners is not None:   # the grid samples the input at theta·out, so a point moves to theta⁻¹·(in − t)
            inverse = torch.linalg.inv(theta[:, :, :2].float()).to(corners.dtype)
            centred = corners * 2 - 1 - theta[:, None, None, :, 2].to(corners.dtype)
            corners = (torch.einsum("nij,nkcj->nkci", inverse, centred) + 1) / 2
    if aug.color_jitter:
        j = aug.color_jitter
        x = x * (1 + _uniform(n, j, gen, dev))[:, None, None, None]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (1 + _uniform(n, j, gen, dev))[:, None, None, None] + mean
        if c == 3:
            grey = (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
            x = (x - grey) * (1 + _uniform(n, j, gen, dev))[:, None, None, None] + grey
        x = x.clamp(0, 1)
    if aug.erasing:  # a random rectangle (2-33% of the area, aspect 0.3-3.3) set to 0, as RandomErasing does
        area = (0.02 + 0.31 * torch.rand(n, generator=gen, device=dev)) * h * w
        aspect = torch.exp(math.log(0.3) + (math.log(3.3) - math.log(0.3)) * torch.rand(n, generator=gen, device=dev))
        eh = (area * aspect).sqrt().round().clamp(1, h)
        ew = (area / aspect).sqrt().round().clamp(1, w)
        top = (torch.rand(n, generator=gen, device=dev) * (h - eh + 1)).floor()
        left = (torch.rand(n, generator=gen, device=dev) * (w - ew + 1)).floor()
        on = torch.rand(n, generator=gen, device=dev) < aug.erasing
        ys = torch.arange(h, device=dev)[None, :, None]
        xs = torch.arange(w, device=dev)[None, None, :]
        mask = ((ys >= top[:, None, None]) & (ys < (top + eh)[:, None, None]) & (xs >= left[:, None, None])
                & (xs < (left + ew)[:, None, None]) & on[:, None, None])
        x = x.masked_fill(mask[:, None], 0.0)
    if masks is not None:
        return x.contiguous(), masks.contiguous()
    if boxes is not None:
        return x.contiguous(), _boxes_from(boxes, corners)
    return x.contiguous()


def _corners_of(boxes: torch.Tensor) -> torch.Tensor:
    """N×K×4×2: the four corners (x, y) of every box (a localization label is one box an image)."""
    b = boxes[:, None] if boxes.dim() == 2 else boxes
    x0, y0, x1, y1 = b[..., 1], b[..., 2], b[..., 3], b[..., 4]
    return torch.stack([torch.stack([x0, y0], -1), torch.stack([x1, y0], -1), torch.stack([x0, y1], -1),
                        torch.stack([x1, y1], -1)], -2)


def _boxes_from(boxes: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Labels again, each box the moved corners' bounds within the picture; detection objects keeping less than
    a third of their area, or under half a percent of the side, become padding (class −1)."""
    b = boxes[:, None] if boxes.dim() == 2 else boxes
    lo, hi = corners.amin(2), corners.amax(2)
    area = (hi - lo).prod(-1)
    lo, hi = lo.clamp(0, 1), hi.clamp(0, 1)
    kept_area = (hi - lo).clamp_min(0).prod(-1)
    cls = b[..., 0]
    if boxes.dim() == 3:
        lost = (kept_area < area / 3) | ((hi - lo) < 0.005).any(-1)
        cls = torch.where(lost, torch.full_like(cls, -1), cls)
    out = torch.cat([cls[..., None], lo, hi], -1).contiguous()
    return out[:, 0] if boxes.dim() == 2 else out


def augmentation_pipeline(aug: Augmentation, input_shape: tuple) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The same augmentation as a torchvision.transforms.v2 pipeline for single C×H×W float images."""
    import torchvision.transforms.v2 as T

    c, h, w = input_shape
    steps = []
    if aug.crop_padding:
        steps.append(T.RandomCrop((h, w), padding=aug.crop_padding))
    if aug.hflip:
        steps.append(T.RandomHorizontalFlip())
    if aug.rotation or aug.affine_translate or aug.affine_scale:
        steps.append(T.RandomAffine(degrees=aug.rotation,
                                    translate=(aug.affine_translate,) * 2 if aug.affine_translate else None,
                                    scale=(1 - aug.affine_scale, 1 + aug.affine_scale) if aug.affine_scale else None))
    if aug.color_jitter:
        j = aug.color_jitter
        steps.append(T.ColorJitter(brightness=j, contrast=j, saturation=j if c == 3 else 0))
    if aug.erasing:
        steps.append(T.RandomErasing(p=aug.erasing))
    return T.Compose(steps) if steps else None
