"""Generated digits 0–9, 28×28 grey, drawn from pen strokes without Qt or fonts.

Each digit has a few hand-made stroke styles (polylines and elliptic arcs in a unit box). Every image
picks a style, wobbles its points, then applies a random rotation, scale, slant, shift and pen thickness;
pixels are shaded by their distance to the nearest stroke segment (anti-aliased), and noise is added.
Everything runs as batched torch arithmetic, so 10,000 images take about a second.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from engine.data.base import Split, split_off_test

IMAGE = 28
TEST_FRACTION = 0.2


def _arc(cx, cy, rx, ry, a0, a1, n=14):
    """Points on an ellipse from angle a0 to a1 in degrees (screen coordinates: 90° points down)."""
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


# digit -> styles; a style is a list of strokes; a stroke is a list of (x, y) in the unit box (y down).
STYLES = {
    0: [[_arc(0.5, 0.5, 0.3, 0.42, 0, 360, 20)],
        [_arc(0.5, 0.5, 0.24, 0.43, -80, 280, 20)]],
    1: [[[(0.5, 0.08), (0.5, 0.92)]],
        [[(0.3, 0.26), (0.52, 0.08), (0.52, 0.92)]],
        [[(0.32, 0.24), (0.52, 0.08), (0.52, 0.92)], [(0.3, 0.92), (0.74, 0.92)]]],
    2: [[_arc(0.5, 0.32, 0.28, 0.24, 190, 400) + [(0.2, 0.92), (0.82, 0.92)]],
        [_arc(0.5, 0.3, 0.27, 0.22, 180, 380) + [(0.55, 0.62), (0.2, 0.92)]
         + _arc(0.45, 0.83, 0.2, 0.1, 180, 20, 6) + [(0.85, 0.88)]]],
    3: [[_arc(0.48, 0.3, 0.26, 0.21, 200, 450), _arc(0.48, 0.71, 0.3, 0.22, 270, 520)],
        [[(0.2, 0.1), (0.78, 0.1), (0.45, 0.45)] + _arc(0.48, 0.68, 0.3, 0.24, 280, 510)]],
    4: [[[(0.64, 0.92), (0.64, 0.08), (0.15, 0.64), (0.86, 0.64)]],
        [[(0.24, 0.08), (0.18, 0.58), (0.84, 0.58)], [(0.66, 0.28), (0.66, 0.92)]]],
    5: [[[(0.78, 0.1), (0.3, 0.1), (0.26, 0.46)] + _arc(0.48, 0.66, 0.3, 0.26, 235, 500)],
        [[(0.3, 0.1), (0.26, 0.46)] + _arc(0.48, 0.66, 0.3, 0.26, 235, 500), [(0.3, 0.1), (0.8, 0.1)]]],
    6: [[_arc(0.62, 0.55, 0.36, 0.46, 280, 180, 10) + _arc(0.5, 0.7, 0.25, 0.22, 180, 540, 18)],
        [[(0.68, 0.08), (0.3, 0.6)] + _arc(0.5, 0.7, 0.24, 0.22, 200, 560, 18)]],
    7: [[[(0.18, 0.1), (0.82, 0.1), (0.4, 0.92)]],
        [[(0.18, 0.1), (0.82, 0.1), (0.45, 0.92)], [(0.36, 0.52), (0.74, 0.52)]],
        [[(0.18, 0.2), (0.2, 0.1), (0.82, 0.1)] + _arc(0.3, 0.92, 0.52, 0.82, -60, -90, 6)[::-1][::-1]]],
    8: [[_arc(0.5, 0.28, 0.22, 0.19, 0, 360, 16), _arc(0.5, 0.7, 0.27, 0.22, 0, 360, 16)],
        [_arc(0.5, 0.29, 0.2, 0.2, 90, 450, 16) + _arc(0.5, 0.7, 0.26, 0.22, 270, -90, 16)]],
    9: [[_arc(0.5, 0.32, 0.26, 0.23, 0, 360, 18), [(0.76, 0.32), (0.7, 0.92)]],
        [_arc(0.48, 0.32, 0.25, 0.22, 10, 370, 18), [(0.73, 0.36)] + _arc(0.45, 0.4, 0.28, 0.52, 0, 110, 8)]],
}


def _segments(style) -> torch.Tensor:
    """(S, 2, 2) start/end points of every stroke segment of a style."""
    segs = [(a, b) for stroke in style for a, b in zip(stroke[:-1], stroke[1:])]
    return torch.tensor(segs, dtype=torch.float32)


_GLYPHS = [(digit, _segments(style)) for digit in range(10) for style in STYLES[digit]]
_MAX_SEGMENTS = max(s.shape[0] for _, s in _GLYPHS)




def render(labels: torch.Tensor, gen: torch.Generator, chunk: int = 64,
           progress: Callable[[float, str], None] | None = None) -> torch.Tensor:
    """Draw one random digit image per label: float32 N×1×28×28 in [0, 1]. progress(fraction, message), if
    given, is called after each chunk of images (a caller may raise from it to stop early)."""
    digits_all = torch.tensor([d for d, _ in _GLYPHS])
    counts = torch.bincount(digits_all, minlength=10)
    first = torch.cumsum(counts, 0) - counts  # styles are stored digit by digit
    n = labels.shape[0]
    # Choose a style per image, then draw all random parameters up front so results do not depend on chunking.
    pick = torch.rand(n, generator=gen)
    styles = first[labels] + (pick * counts[labels]).long().clamp_max(counts[labels] - 1)
    u = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(n, *shape, generator=gen)  # noqa: E731
    angle, scale, aspect = u(-0.3, 0.3), u(17.0, 23.0), u(0.8, 1.15)
    slant, shift = u(-0.25, 0.25), u(-2.5, 2.5, 2)
    thickness, ink = u(1.1, 2.6), u(0.75, 1.0)
    noise_level = u(0.0, 0.12)
    wobble = torch.randn(n, _MAX_SEGMENTS, 2, 2, generator=gen) * 0.018
    noise = torch.randn(n, 1, IMAGE, IMAGE, generator=gen)

    ys, xs = torch.meshgrid(torch.arange(IMAGE, dtype=torch.float32) + 0.5,
                            torch.arange(IMAGE, dtype=torch.float32) + 0.5, indexing="ij")
    pixels = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (P, 2)
    px_x, px_y = pixels[:, 0], pixels[:, 1]
    out = torch.empty(n, 1, IMAGE, IMAGE)
    drawn = 0
    # Draw style by style, so each batch uses exactly that style's segments (no padding work).
    # Small chunks keep the (B, S, pixels) temporaries in cache: faster and a quarter of the memory of 512.
    for g, (_, glyph) in enumerate(_GLYPHS):
        members = torch.nonzero(styles == g).flatten()
        segs = glyph.shape[0]
        for c0 in range(0, members.shape[0], chunk):
            i = members[c0:c0 + chunk]
            pts = glyph[None] + wobble[i, :segs] - 0.5                    # (B, S, 2, 2) centred unit box
            x, y = pts[..., 0], pts[..., 1]
            x = (x + slant[i, None, None] * y) * aspect[i, None, None]    # slant, then squash
            c, si = torch.cos(angle[i])[:, None, None], torch.sin(angle[i])[:, None, None]
            k = scale[i, None, None]
            px = (c * x - si * y) * k + IMAGE / 2 + shift[i, 0, None, None]
            py = (si * x + c * y) * k + IMAGE / 2 + shift[i, 1, None, None]
            ax, ay = px[..., 0, None], py[..., 0, None]                    # (B, S, 1) segment starts
            dx, dy = px[..., 1, None] - ax, py[..., 1, None] - ay          # (B, S, 1) directions
            rx, ry = px_x - ax, px_y - ay                                  # (B, S, P)
            t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp_(0, 1)
            dist = ((rx - t * dx).square_() + (ry - t * dy).square_()).amin(dim=1).sqrt_()  # (B, P)
            img = (thickness[i, None] / 2 + 0.5 - dist).clamp_(0, 1) * ink[i, None]
            out[i] = img.view(-1, 1, IMAGE, IMAGE)
            drawn += i.shape[0]
            if progress is not None:
                progress(drawn / n, f"Drawing digits: {drawn:,} of {n:,}")
    out += noise * noise_level[:, None, None, None]
    return out.clamp_(0, 1)


def make_digits(size: int, seed: int,
                progress: Callable[[float, str], None] | None = None) -> tuple[Split, Split, tuple[str, ...]]:
    """`size` images with balanced labels; 20% become the test split. Returns (pool, test, class_names).
    progress: see render()."""
    gen = torch.Generator().manual_seed(int(seed))
    labels = torch.arange(size) % 10
    labels = labels[torch.randperm(size, generator=gen)]
    images = render(labels, gen, progress=progress)
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(str(d) for d in range(10))
