"""Tab 4 of the playground: a feature map before and after ReLU, the zeroed cells ringed and counted."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.teaching.playground_grid import GridView, link_cell_sizes
from designer.teaching.playground_sources import MapSourceBox
from designer.teaching.playground_widgets import MessageLabel, side_note, titled
from engine.teaching.pooling import relu_map


class ReluTab(QWidget):
    def __init__(self, providers: list, parent=None):
        super().__init__(parent)
        self.map = None
        self.result = None
        self.source = MapSourceBox(providers)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Map"))
        bar.addWidget(self.source)
        bar.addStretch(1)
        self.before = GridView(editable=True)
        self.before.setToolTip("Double-click a cell (or select it and type) to change its value")
        self.after = GridView()
        link_cell_sizes(self.before, self.after)
        self.hint = side_note("ReLU keeps positive values and replaces negative ones by 0. It is what makes a "
                                 "stack of convolutions more than one big linear filter; a unit that is zero on "
                                 "every image is 'dead' and learns nothing.")
        grids = QHBoxLayout()
        self.before_title = QLabel("Before ReLU")
        grids.addWidget(titled(self.before_title, self.before))
        grids.addWidget(titled("After ReLU: max(0, x)", self.after))
        grids.addWidget(self.hint)
        self.summary = MessageLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(grids, 1)
        layout.addWidget(self.summary)
        self.source.currentIndexChanged.connect(lambda *_: self.load_map())
        self.before.cell_edited.connect(self._edited)
        self.load_map()

    def source_updated(self, index: int) -> None:
        if self.source.currentIndex() == index:
            self.load_map()

    def load_map(self) -> None:
        self.map, message = self.source.current_map()
        self.before_title.setText("Before ReLU" + (f" ({message})" if self.map is not None and message else ""))
        if self.map is None:
            self.result = None
            for grid in (self.before, self.after):
                grid.set_blank()
            self.summary.show_text(message, error=True)
            return
        self.recompute()

    def _edited(self, r: int, c: int, value: float):
        self.map[r, c] = value
        self.recompute()

    def recompute(self) -> None:
        self.result = relu_map(self.map)
        zeroed = tuple(zip(*np.nonzero(self.result.zeroed)))
        cells = tuple((int(r), int(c)) for r, c in zeroed)
        self.before.set_values(self.result.before)
        self.before.set_overlay(chosen=cells)
        self.after.set_values(self.result.after)
        self.after.set_overlay(chosen=cells)
        n, total = self.result.zeroed_count, self.map.size
        self.summary.show_text(f"<b>{n} of {total} cells ({self.result.zeroed_fraction:.0%}) were negative</b> "
                               f"and are now 0 (ringed); the other {total - n} pass through unchanged.")
