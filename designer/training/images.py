"""numpy arrays to QImages: grey and colour images, feature maps with a colour map, overlays."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

# A perceptually ordered colour map (viridis, 9 stops) interpolated to 256 entries.
_VIRIDIS_STOPS = np.array([
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float64)
VIRIDIS = np.stack([np.interp(np.linspace(0, 8, 256), np.arange(9), _VIRIDIS_STOPS[:, c])
                    for c in range(3)], axis=1).round().astype(np.uint8)
# Kernels: zero is mid grey, so the sign of each weight stays visible (as in the colour tiles)
GREY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
# Saliency overlays: transparent blue to opaque red ("jet"-like, fewer artefacts in print)
_HEAT_STOPS = np.array([[0, 0, 128], [0, 90, 255], [0, 220, 220], [255, 230, 0], [230, 20, 0]], np.float64)
HEAT = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _HEAT_STOPS[:, c]) for c in range(3)],
                axis=1).round().astype(np.uint8)


def _qimage(rgb: np.ndarray) -> QImage:
    """H×W×3 uint8 → QImage that owns a copy of the pixels (numpy memory can be freed afterwards)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_uint8(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Scale to 0..255 between lo and hi (default: the array's own range); a constant array gives mid grey."""
    v = np.asarray(values, dtype=np.float32)
    lo = float(np.nanmin(v)) if lo is None else lo
    hi = float(np.nanmax(v)) if hi is None else hi
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo < 1e-12:
        return np.full(v.shape, 128, np.uint8)
    return np.clip((v - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def image_to_qimage(image: np.ndarray) -> QImage:
    """A data-set image: float C×H×W in 0..1 or uint8 H×W×C (C = 1 or 3)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)  # float images come channels-first from the data sets
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] != 3:
        a = np.repeat(a[:, :, :1], 3, axis=2)  # more than 3 channels: show the first
    return _qimage(a)


def map_to_qimage(values: np.ndarray, lo: float | None = None, hi: float | None = None,
                  colormap: np.ndarray = VIRIDIS) -> QImage:
    """A 2-D float map (feature map, kernel) drawn with a colour map."""
    return _qimage(colormap[to_uint8(values, lo, hi)])


def kernel_rgb_to_qimage(kernel: np.ndarray) -> QImage:
    """A first-layer kernel with 3 input channels (3×kh×kw) as a colour tile, scaled symmetrically around 0."""
    k = np.asarray(kernel, dtype=np.float32)
    m = float(np.abs(k).max()) or 1.0
    rgb = ((k / m) * 0.5 + 0.5).transpose(1, 2, 0)
    return _qimage((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))


# Class colours for segmentation masks: background (class 0) stays clear, then distinct hues.
MASK_COLOURS = np.array([[0, 0, 0], [230, 70, 70], [70, 200, 90], [70, 110, 235], [235, 190, 50], [190, 80, 220],
                         [60, 200, 210], [240, 130, 40], [150, 150, 150], [120, 70, 40]], np.uint8)


def mask_colour(cls: int) -> str:
    """'#rrggbb' of a class in mask panels, for legends."""
    r, g, b = MASK_COLOURS[cls % len(MASK_COLOURS)]
    return f"#{r:02x}{g:02x}{b:02x}"


def mask_panels(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """uint8 H×(3W+2)×3: the image, its true mask and the predicted mask in class colours (class 0 black), with
    a thin grey gap between them."""
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 3 and base.shape[0] in (1, 3):
        base = base.transpose(1, 2, 0)
    if base.shape[2] == 1:
        base = np.repeat(base, 3, axis=2)
    picture = (np.clip(base[:, :, :3], 0, 1) * 255).round().astype(np.uint8)
    gap = np.full((picture.shape[0], 1, 3), 128, np.uint8)
    masks = [MASK_COLOURS[np.asarray(m, dtype=np.int64) % len(MASK_COLOURS)] for m in (truth, predicted)]
    return np.concatenate([picture, gap, masks[0], gap, masks[1]], axis=1)


def overlay_to_qimage(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> QImage:
    """An image (C×H×W in 0..1) blended with a 0..1 heat map of the same height and width."""
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 3 and base.shape[0] in (1, 3):
        base = base.transpose(1, 2, 0)
    if base.shape[2] == 1:
        base = np.repeat(base, 3, axis=2)
    colours = HEAT[to_uint8(heat, 0.0, 1.0)].astype(np.float32) / 255.0
    weight = alpha * np.clip(np.asarray(heat, np.float32), 0, 1)[:, :, None] ** 0.7
    mixed = base[:, :, :3] * (1 - weight) + colours * weight
    return _qimage((np.clip(mixed, 0, 1) * 255).round().astype(np.uint8))


def pixmap(image: QImage, width: int, height: int) -> QPixmap:
    """Scaled without smoothing: small images stay crisp pixels, which is what people want to inspect."""
    from PySide6.QtCore import Qt
    return QPixmap.fromImage(image).scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)
