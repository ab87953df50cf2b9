"""Tab 3 of the playground: max or average pooling stepping over a feature map."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.teaching.playground_animation import AnimationBar, StepAnimator
from designer.teaching.playground_grid import GridView, link_cell_sizes
from designer.teaching.playground_sources import MapSourceBox
from designer.teaching.playground_widgets import ZERO_BASED, MessageLabel, side_note, spin, titled
from engine.teaching.playground import output_size_text
from engine.teaching.pooling import pool_arithmetic, pool_steps

HINTS = {
    "max": "Max pooling keeps the strongest response in each window: the map shrinks, and a feature that moves "
           "by a cell inside its window still gives the same output, trading exact position for robustness.",
    "avg": "Average pooling keeps the mean of each window: a smoother, smaller map where one strong response "
           "is diluted by its neighbours.",
}


class PoolingTab(QWidget):
    def __init__(self, providers: list, parent=None):
        super().__init__(parent)
        self.map = None
        self.note = ""
        self.result = None
        self.animator = StepAnimator(self)
        self.source = MapSourceBox(providers)
        self.mode = QComboBox()
        self.mode.addItem("Max pooling", "max")
        self.mode.addItem("Average pooling", "avg")
        self.window_size = spin(1, 6, 2, "Height and width of the pooling window")
        self.stride = spin(1, 6, 2, "How many cells the window moves at each step (usually the window size)")
        self.padding = spin(0, 3, 0, "Padding around the map: −∞ for max pooling, zeros for average pooling")
        bar = QHBoxLayout()
        for label, w in (("Map", self.source), ("", self.mode), ("Window", self.window_size), ("Stride", self.stride),
                         ("Padding", self.padding)):
            if label:
                bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addStretch(1)
        self.input_grid = GridView(editable=True)
        self.input_grid.setToolTip("Double-click a cell (or select it and type) to change its value")
        self.output_grid = GridView()
        link_cell_sizes(self.input_grid, self.output_grid)
        self.input_title, self.output_title = QLabel("Feature map"), QLabel("Pooled")
        grids = QHBoxLayout()
        grids.addWidget(titled(self.input_title, self.input_grid), 3)
        grids.addWidget(titled(self.output_title, self.output_grid), 2)
        self.hint = side_note("")
        grids.addWidget(self.hint)
        self.arithmetic = MessageLabel()
        self.size_formula = MessageLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(grids, 1)
        layout.addWidget(self.arithmetic)
        layout.addWidget(self.size_formula)
        layout.addWidget(AnimationBar(self.animator))
        self.source.currentIndexChanged.connect(lambda *_: self.load_map())
        self.mode.currentIndexChanged.connect(lambda *_: self.recompute())
        for box in (self.window_size, self.stride, self.padding):
            box.valueChanged.connect(lambda *_: self.recompute())
        self.input_grid.cell_edited.connect(self._edited)
        self.animator.position_changed.connect(self._show_position)
        self.load_map()

    def source_updated(self, index: int) -> None:
        """The map behind source `index` changed: reload it if it is the one in use."""
        if self.source.currentIndex() == index:
            self.load_map()

    def load_map(self) -> None:
        self.map, message = self.source.current_map()
        self.note = "" if self.map is None else message
        if self.map is None:
            self._fail(message)
            return
        self.recompute()

    def _edited(self, r: int, c: int, value: float):
        self.map[r, c] = value
        self.recompute()

    def recompute(self) -> None:
        if self.map is None:
            return
        mode, k, s, p = self.mode.currentData(), self.window_size.value(), self.stride.value(), self.padding.value()
        before = len(self.result.steps) if self.result is not None else -1
        self.hint.show_text(HINTS[mode])
        try:
            self.result = pool_steps(self.map, k, s, p, mode)
        except ValueError as exc:
            self._fail("Cannot pool: " + str(exc), keep_map=True)
            return
        h, w = self.map.shape
        self.input_grid.set_values(self.result.padded, (p, p))
        self.input_title.setText(f"Feature map {h}×{w}" + (f" ({self.note})" if self.note else "")
                                 + (f" + padding {p}" if p else ""))
        oh, ow = self.result.output.shape
        self.output_grid.set_values(self.result.output)
        self.output_title.setText(f"{self.mode.currentText()} {oh}×{ow}")
        rows = output_size_text(h, k, p, s)
        cols = "" if h == w else f"; columns {output_size_text(w, k, p, s)}"
        self.size_formula.show_text(f"Output size = ⌊(W − K + 2P) / S⌋ + 1 = {rows}{cols}, so the map goes from "
                                    f"{h}×{w} to {oh}×{ow}.")
        count = len(self.result.steps)
        self.animator.set_count(count, keep_position=count == before)

    def _fail(self, text: str, keep_map: bool = False):
        self.result = None
        if keep_map and self.map is not None:
            self.input_grid.set_values(self.map)
        else:
            self.input_grid.set_blank()
        self.input_grid.set_overlay()
        self.output_grid.set_blank()
        self.size_formula.show_text(text, error=True)
        self.arithmetic.show_text("")
        self.animator.set_count(0)

    def _show_position(self, position: int):
        if self.result is None:
            return
        oh, ow = self.result.output.shape
        shown = (np.arange(oh * ow) < position).reshape(oh, ow)
        if position == 0:
            self.input_grid.set_overlay()
            self.output_grid.set_overlay(shown=shown)
            self.arithmetic.show_text("Press Play or Step: the window slides over the map and each output cell "
                                      "keeps " + ("the largest value." if self.result.mode == "max" else
                                                  "the mean of the window.") + ZERO_BASED)
            return
        step = self.result.steps[position - 1]
        chosen = (step.chosen,) if step.chosen else ()
        self.input_grid.set_overlay(window=step.positions, chosen=chosen)
        self.output_grid.set_overlay(current=(step.row, step.col), shown=shown)
        self.arithmetic.show_text(f"<b>Output row {step.row}, column {step.col}</b> = "
                                  f"{pool_arithmetic(step, self.result.mode)}")
