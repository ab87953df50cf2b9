"""Make a data set fit a network's Input: check the shape, and on request resize or convert channels."""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from engine.data.base import DatasetError, Split, label_task

FIXES = ("resize", "grey_to_rgb", "rgb_to_grey", "auto")
LUMA = torch.tensor([0.299, 0.587, 0.114])


def _fmt(shape) -> str:
    return "×".join(str(s) for s in shape)


def needed_fixes(have: tuple, want: tuple) -> tuple:
    """The fixes that turn images of shape `have` (C,H,W) into `want`; raises when none can."""
    fixes = []
    if have[0] != want[0]:
        if have[0] == 1 and want[0] == 3:
            fixes.append("grey_to_rgb")
        elif have[0] == 3 and want[0] == 1:
            fixes.append("rgb_to_grey")
        else:
            raise DatasetError(f"the data set has {have[0]} channel(s) but the network's Input expects {want[0]}; "
                               f"set the Input's channels to {have[0]}")
    if tuple(have[1:]) != tuple(want[1:]):
        fixes.append("resize")
    return tuple(fixes)


def check_and_fix(pool: Split, test: Split, have: tuple, want: tuple | None, fix: str | Iterable[str] | None,
                  title: str) -> tuple[Split, Split]:
    """Return (pool, test) shaped `want`. Without a matching `fix`, raise a DatasetError that says what
    does not match and offers the fixes (set the network's Input instead, or pass fix=...)."""
    if want is None or tuple(have) == tuple(want):
        return pool, test
    want = tuple(int(s) for s in want)
    fixes = needed_fixes(tuple(have), want)
    chosen = _normalize_fix(fix, fixes)
    missing = [f for f in fixes if f not in chosen]
    if missing:
        offer = " and ".join({"resize": f"resize the images to {want[1]}×{want[2]}",
                              "grey_to_rgb": "copy the grey channel to red, green and blue",
                              "rgb_to_grey": "convert the colour images to grey"}[f] for f in missing)
        raise DatasetError(f"{title} images are {_fmt(have)} (channels×height×width) but the network's Input "
                           f"expects {_fmt(want)}. Either set the Input to {_fmt(have)}, or {offer} "
                           f"(fix: {', '.join(missing)}).", fixes=tuple(missing))
    return adapt_split(pool, want), adapt_split(test, want)


def _normalize_fix(fix, needed) -> tuple:
    if fix is None:
        return ()
    items = (fix,) if isinstance(fix, str) else tuple(fix)
    for f in items:
        if f not in FIXES:
            raise DatasetError(f"unknown fix {f!r}; choose from {', '.join(FIXES)}")
    return tuple(needed) if "auto" in items else items


def adapt_images(images: torch.Tensor, want: tuple, chunk: int = 4096) -> torch.Tensor:
    """Convert channels and resize (bilinear with antialiasing) N×C×H×W float images, in chunks."""
    out = []
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk]
        if x.shape[1] == 1 and want[0] == 3:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] == 3 and want[0] == 1:
            x = (x * LUMA.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        if tuple(x.shape[2:]) != tuple(want[1:]):
            x = F.interpolate(x, size=tuple(want[1:]), mode="bilinear", align_corners=False,
                              antialias=x.shape[2] > want[1] or x.shape[3] > want[2]).clamp_(0, 1)
        out.append(x.contiguous())
    return torch.cat(out) if out else images.new_zeros((0, *want))


def adapt_split(split: Split, want: tuple) -> Split:
    labels = split.labels
    if label_task(labels) == "segmentation" and tuple(labels.shape[1:]) != tuple(want[1:]):   # masks follow
        labels = F.interpolate(labels[:, None].float(), size=tuple(want[1:]), mode="nearest")[:, 0].long()
    return Split(adapt_images(split.images, want), labels)
