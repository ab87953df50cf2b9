"""Generated scenes: one to four circles, squares and triangles of random sizes, angles and colours on a
textured background. Later shapes hide earlier ones. Three labellings of the same drawings:

* segmentation: the class of every pixel (0 background, 1 circle, 2 square, 3 triangle);
* detection: every shape's class (0 circle, 1 square, 2 triangle) and the box around its visible part;
* localization: one shape an image, its class and box.

Made in seconds from a seed, at the network's input size (16 to 256 pixels a side; 64×64 by default).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from engine.data.base import Split, split_off_test

SCENE_CLASSES = ("background", "circle", "square", "triangle")
OBJECT_CLASSES = SCENE_CLASSES[1:]
SINGLE_SIZES = (0.12, 0.3)   # localization: one shape, drawn larger (as photos for localization frame one object)
MIN_VISIBLE = 12   # pixels: a shape hidden more than this by later ones is no object to find
DEFAULT_SIDE = 64
MIN_SIDE, MAX_SIDE = 16, 256
MAX_OBJECTS = 4
TEST_FRACTION = 0.2
CHUNK = 256


def scene_size(input_shape: Sequence[int] | None) -> tuple[int, int]:
    """(height, width) to draw at: the Input's, within 16..256 (the data set is then resized to fit)."""
    if not input_shape or len(input_shape) != 3:
        return DEFAULT_SIDE, DEFAULT_SIDE
    return tuple(min(MAX_SIDE, max(MIN_SIDE, int(s))) for s in input_shape[1:])


def make_scenes(size: int, seed: int, input_shape: Sequence[int] | None = None,
                progress: Callable[[float, str], None] | None = None,
                task: str = "segmentation") -> tuple[Split, Split, tuple[str, ...]]:
    """(pool, test, class names): float32 N×3×H×W images in [0, 1], with int64 N×H×W masks (segmentation),
    float32 N×MAX_OBJECTS×5 boxes (detection) or float32 N×5 boxes of one shape an image (localization)."""
    gen = torch.Generator().manual_seed(int(seed) + {"segmentation": 4049, "detection": 5081}.get(task, 6173))
    h, w = scene_size(input_shape)
    single = task == "localization"
    images = torch.empty(size, 3, h, w)
    labels = (torch.empty(size, h, w, dtype=torch.long) if task == "segmentation"
              else torch.empty(size, 5) if single else torch.empty(size, MAX_OBJECTS, 5))
    for start in range(0, size, CHUNK):
        end = min(size, start + CHUNK)
        picture, mask, boxes = _draw(end - start, h, w, gen, *((1, SINGLE_SIZES) if single else (MAX_OBJECTS,)))
        images[start:end] = picture
        labels[start:end] = mask if task == "segmentation" else boxes[:, 0] if single else boxes
        if progress is not None:
            progress(end / size, f"Drawing scenes: {end:,} of {size:,}")
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, SCENE_CLASSES if task == "segmentation" else OBJECT_CLASSES


def _draw(n: int, h: int, w: int, gen: torch.Generator, most: int = MAX_OBJECTS,
          sizes: tuple[float, float] = (0.09, 0.22)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, masks, boxes N×MAX_OBJECTS×5 with class −1 for no object), `most` shapes an image at most, their
    radii the given fractions of the image's side."""
    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, *shape, generator=gen)

    image = _background(n, h, w, gen)
    mask = torch.zeros(n, h, w, dtype=torch.long)
    owner = torch.full((n, h, w), -1, dtype=torch.long)   # which shape each pixel shows
    side = min(h, w)
    ys = torch.arange(h, dtype=torch.float32)[None, :, None] + 0.5
    xs = torch.arange(w, dtype=torch.float32)[None, None, :] + 0.5
    count = 1 + (torch.rand(n, generator=gen) * most).long()
    kinds = []
    mean = image.mean(dim=(2, 3))
    for k in range(MAX_OBJECTS):
        kind = 1 + (torch.rand(n, generator=gen) * 3).long()
        radius = u(*sizes) * side
        cy, cx = u(0.1, 0.9) * h, u(0.1, 0.9) * w
        angle = u(0.0, 2 * math.pi)
        colour = u(0.0, 1.0, 3)
        # keep every shape visible against the texture: at least 0.6 away from its mean colour
        away = colour - mean
        distance = away.norm(dim=1, keepdim=True).clamp_min(1e-3)
        colour = torch.where(distance < 0.6, (mean + away / distance * 0.6).clamp(0, 1), colour)
        dy, dx = (ys - cy[:, None, None]) / radius[:, None, None], (xs - cx[:, None, None]) / radius[:, None, None]
        cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
        u_, v_ = dx * cos + dy * sin, -dx * sin + dy * cos
        circle = u_ ** 2 + v_ ** 2 <= 1.0
        square = (u_.abs() <= 0.8) & (v_.abs() <= 0.8)
        triangle = torch.ones_like(circle)
        for i in range(3):   # an equilateral triangle: three half-planes at distance 0.5 from the centre
            a = 2 * math.pi * i / 3
            triangle &= u_ * math.cos(a) + v_ * math.sin(a) <= 0.5
        inside = torch.where((kind == 1)[:, None, None], circle, torch.where((kind == 2)[:, None, None], square, triangle))
        inside &= (k < count)[:, None, None]
        mask = torch.where(inside, kind[:, None, None], mask)
        owner = torch.where(inside, k, owner)
        kinds.append(kind)
        image = torch.where(inside[:, None], colour[:, :, None, None], image)
    noise = torch.randn(image.shape, generator=gen) * 0.03
    return (image + noise).clamp_(0, 1), mask, _boxes(owner, torch.stack(kinds, 1))


def _boxes(owner: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """N×K×5: each shape's class (from 0) and the corners, as fractions, of the box around its visible pixels."""
    n, h, w = owner.shape
    boxes = torch.full((n, MAX_OBJECTS, 5), -1.0)
    rows, cols = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
    for k in range(MAX_OBJECTS):
        visible = owner == k
        shown = visible.flatten(1).sum(1) >= max(1, min(MIN_VISIBLE, h * w // 200))
        in_row, in_col = visible.any(2), visible.any(1)
        y0 = torch.where(in_row, rows, float(h)).amin(1)
        y1 = torch.where(in_row, rows + 1, 0.0).amax(1)
        x0 = torch.where(in_col, cols, float(w)).amin(1)
        x1 = torch.where(in_col, cols + 1, 0.0).amax(1)
        box = torch.stack([(kinds[:, k] - 1).float(), x0 / w, y0 / h, x1 / w, y1 / h], 1)
        boxes[:, k] = torch.where(shown[:, None], box, boxes[:, k])
    return boxes


def _background(n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """A smooth colour field with faint stripes: texture the network must learn to ignore."""
    coarse = torch.rand(n, 3, 4, 4, generator=gen) * 0.6 + 0.2
    field = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    angle = torch.rand(n, generator=gen) * math.pi
    freq = 0.2 + torch.rand(n, generator=gen) * 0.6
    ys = torch.arange(h, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, dtype=torch.float32)[None, None, :]
    phase = (xs * torch.cos(angle)[:, None, None] + ys * torch.sin(angle)[:, None, None]) * freq[:, None, None]
    return (field + 0.08 * torch.sin(phase)[:, None]).clamp(0, 1)
