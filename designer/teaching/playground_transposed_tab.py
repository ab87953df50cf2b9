"""A tab of the playground: a transposed convolution computed one input value at a time, each stamping the
kernel (scaled by that value) onto a larger output, where the stamps add up."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from designer.teaching.playground_animation import AnimationBar, StepAnimator
from designer.teaching.playground_conv_tab import resized
from designer.teaching.playground_grid import GridView, link_cell_sizes
from designer.teaching.playground_widgets import ZERO_BASED, MessageLabel, float_spin, spin, titled
from engine.teaching.playground_transposed import (DEFAULT_INPUT, DEFAULT_KERNEL, size_text, stamp_text,
                                                   transposed_steps)


class TransposedTab(QWidget):
    """Input, kernel and output grids (the cut border drawn as padding), the settings and the animation bar."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.input = DEFAULT_INPUT.copy()
        self.kernel = DEFAULT_KERNEL.copy()
        self.result = None
        self.animator = StepAnimator(self)
        self._build()
        self.animator.position_changed.connect(self._show_position)
        self.recompute()

    def _build(self):
        self.rows = spin(1, 8, self.input.shape[0], "Input height (rows)")
        self.cols = spin(1, 8, self.input.shape[1], "Input width (columns)")
        self.kernel_size = spin(1, 5, self.kernel.shape[0], "Kernel height and width")
        self.stride = spin(1, 4, 2, "How far apart the stamps land in the output")
        self.padding = spin(0, 4, 0, "Rows and columns cut from every border of the output")
        self.output_padding = spin(0, 3, 0, "Rows and columns added at the bottom and right (smaller than the "
                                            "stride)")
        self.dilation = spin(1, 3, 1, "Spacing between the kernel's taps (1 = touching)")
        self.bias = float_spin(-99, 99, 0, "A number added to every output cell")
        self.randomize = QPushButton("Random input")
        self.randomize.setToolTip("Fill the input with random whole numbers from 0 to 3")
        size_row = QHBoxLayout()
        for w in (self.rows, QLabel("×"), self.cols):
            size_row.addWidget(w)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for label, widget in (("Input size", size_row), ("Kernel size", self.kernel_size), ("Stride", self.stride),
                              ("Padding", self.padding), ("Output padding", self.output_padding),
                              ("Dilation", self.dilation), ("Bias", self.bias)):
            form.addRow(label, widget)
        form.addRow(self.randomize)
        settings = QWidget()
        settings.setLayout(form)

        self.input_grid = GridView(editable=True)
        self.input_grid.setToolTip("Double-click a cell (or select it and type) to change its value")
        self.kernel_grid = GridView(editable=True)
        self.kernel_grid.setToolTip("Double-click a weight (or select it and type) to change it")
        self.output_grid = GridView()
        self.output_grid.setToolTip("The hatched border is cut away by the padding")
        link_cell_sizes(self.input_grid, self.kernel_grid, self.output_grid)
        self.input_title, self.kernel_title, self.output_title = QLabel(), QLabel(), QLabel()
        self.grids = QHBoxLayout()
        for title, grid in ((self.input_title, self.input_grid), (self.kernel_title, self.kernel_grid),
                            (self.output_title, self.output_grid)):
            self.grids.addWidget(titled(title, grid))
        self.arithmetic = MessageLabel()
        self.arithmetic.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.size_formula = MessageLabel()
        self.bar = AnimationBar(self.animator)
        top = QHBoxLayout()
        top.addWidget(settings, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(self.grids, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        for w in (self.arithmetic, self.size_formula, self.bar):
            layout.addWidget(w)

        for box in (self.rows, self.cols):
            box.valueChanged.connect(self._input_size_changed)
        self.kernel_size.valueChanged.connect(self._kernel_size_changed)
        for box in (self.stride, self.padding, self.output_padding, self.dilation, self.bias):
            box.valueChanged.connect(lambda *_: self.recompute())
        self.randomize.clicked.connect(self._randomize)
        self.input_grid.cell_edited.connect(self._input_edited)
        self.kernel_grid.cell_edited.connect(self._kernel_edited)

    # ---- edits ----------------------------------------------------------------------------------
    def _input_size_changed(self, *_):
        self.input = resized(self.input, self.rows.value(), self.cols.value())
        self.recompute()

    def _kernel_size_changed(self, size: int):
        self.kernel = resized(self.kernel, size, size)
        self.recompute()

    def _randomize(self):
        self.input = np.random.default_rng().integers(0, 4, self.input.shape).astype(np.float64)
        self.recompute()

    def _input_edited(self, r: int, c: int, value: float):
        self.input[r, c] = value
        self.recompute()

    def _kernel_edited(self, r: int, c: int, value: float):
        self.kernel[r, c] = value
        self.recompute()

    # ---- computing and showing ------------------------------------------------------------------
    def recompute(self) -> None:
        before = len(self.result.steps) if self.result is not None else -1
        self.input_grid.set_values(self.input)
        self.kernel_grid.set_values(self.kernel)
        try:
            self.result = transposed_steps(self.input, self.kernel, self.stride.value(), self.padding.value(),
                                           self.output_padding.value(), self.dilation.value(), self.bias.value())
        except ValueError as exc:
            self.result = None
            self.output_grid.set_blank()
            self.size_formula.show_text(f"Cannot compute: {str(exc)[0].upper()}{str(exc)[1:]}", error=True)
            self.animator.set_count(0)
            self._titles()
            return
        p = self.result.padding
        self.output_grid.set_values(self.result.full, p)
        self.size_formula.show_text(self._size_text())
        count = len(self.result.steps)
        self.animator.set_count(count, keep_position=count == before)
        self._titles()

    def _titles(self):
        cols = (self.input.shape[1], self.kernel.shape[1], self.output_grid.values.shape[1])
        for i, n in enumerate(cols):
            self.grids.setStretch(i, max(2, n))
        h, w = self.input.shape
        self.input_title.setText(f"Input {h}×{w}")
        self.kernel_title.setText(f"Kernel {self.kernel.shape[0]}×{self.kernel.shape[1]}")
        if self.result is None:
            self.output_title.setText("Output: none")
            return
        oh, ow = self.result.output.shape
        p = self.result.padding
        cut = f" (after cutting {p[0]} from each border)" if p != (0, 0) else ""
        self.output_title.setText(f"Output {oh}×{ow}{cut}")

    def _size_text(self) -> str:
        (h, w), (kh, kw) = self.input.shape, self.kernel.shape
        s, p, op, d = self.stride.value(), self.padding.value(), self.output_padding.value(), self.dilation.value()
        rows = size_text(h, kh, s, p, d, op)
        oh, ow = self.result.output.shape
        if h == w and kh == kw:
            return f"Output size = (W − 1)·S − 2·P + D·(K − 1) + OP + 1 = {rows}, so the output is {oh}×{ow}."
        return (f"Output size = (W − 1)·S − 2·P + D·(K − 1) + OP + 1: rows {rows}; columns "
                f"{size_text(w, kw, s, p, d, op)}; so the output is {oh}×{ow}.")

    def _show_position(self, position: int):
        result = self.result
        if result is None:
            self.arithmetic.show_text("")
            self.input_grid.set_overlay()
            return
        if position == 0:
            self.output_grid.set_values(np.full_like(result.full, result.bias), result.padding)
            self.input_grid.set_overlay()
            self.output_grid.set_overlay()
            self.arithmetic.show_text("Press Play or Step: each input value in turn multiplies the whole kernel and "
                                      "adds the result onto the output, stride cells further along than the last; "
                                      "where stamps overlap, they add up." + ZERO_BASED)
            return
        step = result.steps[position - 1]
        self.output_grid.set_values(step.partial, result.padding)
        self.input_grid.set_overlay(current=(step.row, step.col))
        self.output_grid.set_overlay(window=step.positions, weights=result.kernel)
        last = " This was the last stamp: the output is complete." if position == len(result.steps) else ""
        self.arithmetic.show_text(f"<b>Input row {step.row}, column {step.col}</b>: "
                                  f"{stamp_text(step, result)}.{last}")

    def output_map(self):
        """The output map, or None while the settings are impossible."""
        return None if self.result is None else self.result.output.copy()
