"""Where the pooling and ReLU tabs take their feature map from: the step-by-step output, the real image's
feature map, or a small example map."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox

EXAMPLE_MAP = np.array([
    [1, -2, 3, 0, -1, 2],
    [4, 0, -3, 1, 2, -4],
    [-1, 5, 2, -2, 0, 1],
    [0, -1, 1, 6, -3, 2],
    [3, 2, -4, 0, 1, -1],
    [-2, 1, 0, 2, 4, 3]], dtype=np.float64)
# Larger maps (a 224×224 feature map) are cut to their centre: 50,000 cells would be unreadable and slow
# to animate, and the arithmetic is the same everywhere.
MAX_SIDE = 40


class MapSourceBox(QComboBox):
    """A combo of named map providers: (title, function returning a 2-D array or None, why it may be None)."""

    def __init__(self, providers: list, parent=None):
        super().__init__(parent)
        self.providers = list(providers)
        for title, _, _ in self.providers:
            self.addItem(title)
        self.setToolTip("Which feature map to use")

    def current_map(self):
        """(map, "") or (its centre, "centre of the H×W map") or (None, why there is none)."""
        _, provide, missing = self.providers[self.currentIndex()]
        values = provide()
        if values is None:
            return None, missing
        values = np.array(values, dtype=np.float64)
        h, w = values.shape
        if max(h, w) <= MAX_SIDE:
            return values, ""
        top, left = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
        return values[top:top + MAX_SIDE, left:left + MAX_SIDE].copy(), f"centre of the {h}×{w} map"


def example_source() -> tuple:
    return ("Example 6×6 map", lambda: EXAMPLE_MAP, "")
