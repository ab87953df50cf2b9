"""The kernels of a Conv2d: first-layer kernels as colour (or grey) tiles, deeper ones per input channel."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from designer.training.images import GREY, kernel_rgb_to_qimage, map_to_qimage
from designer.training.tiles import TileGrid


class FilterView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.node_id = ""
        self._why_empty = ""
        self._note = ""
        self._weights = None
        self._render_pending = False   # new weights arrived while this tab was hidden
        self.title = QLabel("Select a Conv2d layer on the canvas to see its filters.")
        self.title.setWordWrap(True)
        self.filter_index = QSpinBox()
        self.filter_index.setPrefix("filter #")
        self.filter_index.setToolTip("For a deeper layer: which output filter to show, one tile per input channel")
        self.filter_index.valueChanged.connect(self._render)
        self.grid = TileGrid(tile_size=56)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.filter_index)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)

    def set_filters(self, node_id: str, weights, why_empty: str = "", note: str = "") -> None:
        """weights: (out, in, kh, kw) array of a Conv2d, or None when the node has none; `why_empty` says why
        a layer has none to show (e.g. "not connected: …"); `note` is added under the title (e.g. "not
        trained yet")."""
        self.node_id = node_id or ""
        self._why_empty = why_empty if self.node_id else ""
        self._note = note
        self._weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        if self._weights is not None:
            self.filter_index.setRange(0, self._weights.shape[0] - 1)
        self._render()

    @property
    def first_layer_mode(self) -> bool:
        return self._weights is not None and self._weights.shape[1] in (1, 3)

    def showEvent(self, event):
        super().showEvent(event)
        if self._render_pending:
            self._render()

    def _render(self, *_):
        if not self.isVisible():  # hidden tab: draw when shown, not on every snapshot during training
            self._render_pending = True
            return
        self._render_pending = False
        w = self._weights
        if w is None and self._why_empty:
            self.title.setText(html.escape(f"{self.node_id}: {self._why_empty}"))  # from files: plain
            self.grid.set_tiles([])
            self.filter_index.setVisible(False)
            return
        if w is None:
            self.title.setText(f"{self.node_id or 'This layer'} has no convolution kernels to show; select a "
                               f"Conv2d layer." if self.node_id else "Select a Conv2d layer on the canvas to see "
                                                                     "its filters.")
            self.grid.set_tiles([])
            self.filter_index.setVisible(False)
            return
        out, inp, kh, kw = w.shape
        if inp in (1, 3):
            # Input-facing kernels look like image patches: draw each as one colour (or grey) tile,
            # scaled symmetrically so zero is mid grey and the sign stays visible.
            m = float(np.abs(w).max()) or 1.0
            images = [kernel_rgb_to_qimage(k) if inp == 3 else map_to_qimage(k[0], -m, m, GREY) for k in w]
            captions = [f"#{i}" for i in range(out)]
            self.title.setText(f"<b>{self.node_id}</b>: {out} filters of {inp}×{kh}×{kw}"
                               f" — {'colour, mid grey = zero' if inp == 3 else 'grey: dark negative, mid grey zero, bright positive'}")
            self.filter_index.setVisible(False)
        else:
            i = self.filter_index.value()
            k = w[i]
            m = float(np.abs(k).max()) or 1.0
            images = [map_to_qimage(ch, -m, m, GREY) for ch in k]
            captions = [f"in {c}" for c in range(inp)]
            self.title.setText(f"<b>{self.node_id}</b>: filter {i} of {out}, one {kh}×{kw} kernel per input "
                               f"channel ({inp}); dark negative, mid grey zero, bright positive")
            self.filter_index.setVisible(True)
        if self._note:
            self.title.setText(f"{self.title.text()}<br><i>{html.escape(self._note)}</i>")
        self.grid.set_tiles(images, captions)
