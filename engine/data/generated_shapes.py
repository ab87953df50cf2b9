"""Generated shapes, 32×32 colour: the same shape anywhere in the image, at any size and in any colour,
is the same class. A network that convolves learns it once; a dense network must learn every position.

Every shape is a polygon that is star-shaped around its centre (a circle is a many-sided polygon, a ring
a circle with a hole), so one renderer works for all: a pixel is inside when its distance from the centre
is below the polygon's radius in that direction. Rendering is 2× supersampled for smooth edges.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.data.base import Split, split_off_test

IMAGE = 32
SUPER = 2
TEST_FRACTION = 0.2
SHAPE_NAMES = ("circle", "square", "triangle", "star", "cross", "diamond", "ring", "hexagon")


def _regular(k, phase_deg=-90.0, r=1.0):
    return [(r, math.radians(phase_deg + 360.0 * i / k)) for i in range(k)]


def _polar(points_xy):
    return [(math.hypot(x, y), math.atan2(y, x)) for x, y in points_xy]


def _cross(w=0.34):
    pts = [(w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w), (-w, -1)]
    return _polar(pts)


def _star(points=5, inner=0.45):
    return [(1.0 if i % 2 == 0 else inner, math.radians(-90 + 180.0 * i / points)) for i in range(2 * points)]


# class index -> (outer polygon in polar vertices, inner hole radius as a fraction or 0)
POLYGONS = {
    0: (_regular(48), 0.0),
    1: (_regular(4, -45, 1.0), 0.0),            # square, sides axis-aligned before rotation
    2: (_regular(3, -90, 1.1), 0.0),
    3: (_star(), 0.0),
    4: (_cross(), 0.0),
    5: (_regular(4, -90, 1.05), 0.0),           # diamond: a square on its corner
    6: (_regular(48), 0.55),
    7: (_regular(6, 0, 1.0), 0.0),
}
_MAX_V = max(len(p) for p, _ in POLYGONS.values())


def _polygon_table():
    """(classes, V+1, 2) radius/angle tables sorted by angle and closed, padded by repeating the end."""
    tables, holes = [], []
    for cls in range(len(SHAPE_NAMES)):
        verts, hole = POLYGONS[cls]
        verts = sorted(((r, (a + math.pi) % (2 * math.pi) - math.pi) for r, a in verts), key=lambda v: v[1])
        closed = verts + [(verts[0][0], verts[0][1] + 2 * math.pi)]
        closed = [(verts[-1][0], verts[-1][1] - 2 * math.pi)] + closed
        closed += [closed[-1]] * (_MAX_V + 2 - len(closed))
        tables.append(closed)
        holes.append(hole)
    return torch.tensor(tables, dtype=torch.float32), torch.tensor(holes)


def _boundary_radius(theta, table):
    """Radius of the polygon edge hit by the ray at angle theta. theta (B,P); table (B,V,2)."""
    angles = table[..., 1].contiguous()
    idx = torch.searchsorted(angles, theta.contiguous(), right=True).clamp(1, angles.shape[1] - 1)
    r0, a0 = table[..., 0].gather(1, idx - 1), angles.gather(1, idx - 1)
    r1, a1 = table[..., 0].gather(1, idx), angles.gather(1, idx)
    # Line through two polar points, intersected with the ray (law of sines form).
    num = r0 * r1 * torch.sin(a1 - a0)
    den = r0 * torch.sin(theta - a0) + r1 * torch.sin(a1 - theta)
    return num / den.clamp_min(1e-6)


def render(labels: torch.Tensor, gen: torch.Generator, chunk: int = 64,
           progress: Callable[[float, str], None] | None = None) -> torch.Tensor:
    """Draw one random shape image per label: float32 N×3×32×32 in [0, 1]. progress(fraction, message), if
    given, is called after each chunk of images (a caller may raise from it to stop early)."""
    n = labels.shape[0]
    table, holes = _polygon_table()
    u = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(n, *shape, generator=gen)  # noqa: E731
    radius = u(5.0, 12.5)
    centre = radius[:, None] + 1 + u(0, 1, 2) * (IMAGE - 2 - 2 * radius[:, None])
    angle = u(-0.3, 0.3)
    background = u(0.0, 1.0, 3)
    colour = u(0.0, 1.0, 3)
    # Push the shape colour away from the background so every shape stays visible.
    far = (colour - background).norm(dim=1, keepdim=True) < 0.45
    colour = torch.where(far, 1.0 - background, colour)
    noise = torch.randn(n, 3, IMAGE, IMAGE, generator=gen) * 0.03

    size = IMAGE * SUPER
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / SUPER
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    xs, ys = xs.reshape(1, -1), ys.reshape(1, -1)
    out = torch.empty(n, 3, IMAGE, IMAGE)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        dx, dy = xs - centre[s:e, 0, None], ys - centre[s:e, 1, None]
        dist = torch.hypot(dx, dy) / radius[s:e, None]
        theta = torch.atan2(dy, dx) - angle[s:e, None]
        theta = (theta + math.pi) % (2 * math.pi) - math.pi
        lab = labels[s:e]
        edge = _boundary_radius(theta, table[lab])
        inside = (dist <= edge) & (dist >= holes[lab][:, None])
        mask = F.avg_pool2d(inside.float().view(-1, 1, size, size), SUPER)  # anti-aliased coverage
        out[s:e] = background[s:e, :, None, None] * (1 - mask) + colour[s:e, :, None, None] * mask
        if progress is not None:
            progress(e / n, f"Drawing shapes: {e:,} of {n:,}")
    return (out + noise).clamp_(0, 1)


def make_shapes(size: int, seed: int,
                progress: Callable[[float, str], None] | None = None) -> tuple[Split, Split, tuple[str, ...]]:
    gen = torch.Generator().manual_seed(int(seed) + 17)
    labels = torch.arange(size) % len(SHAPE_NAMES)
    labels = labels[torch.randperm(size, generator=gen)]
    images = render(labels, gen, progress=progress)
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, SHAPE_NAMES
