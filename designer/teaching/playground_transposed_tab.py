"""A tab of the playground: a transposed convolution computed one input value at a time, each stamping the
kernel (scaled by that value) onto a larger output, where the stamps add up."""
from __future__ import annotations

import numpy as np

from designer.teaching.playground_kernel_tab import KernelTab
from designer.teaching.playground_widgets import ZERO_BASED, float_spin, spin
from engine.teaching.playground_transposed import (DEFAULT_INPUT, DEFAULT_KERNEL, size_text, stamp_text,
                                                   transposed_steps)


class TransposedTab(KernelTab):
    """Input, kernel and output grids (the cut border drawn as padding), the settings and the animation bar."""

    def __init__(self, parent=None):
        super().__init__(DEFAULT_INPUT, DEFAULT_KERNEL, max_input=8, max_kernel=5, random_high=3, parent=parent)
        self.stride = spin(1, 4, 2, "How far apart the stamps land in the output")
        self.padding = spin(0, 4, 0, "Rows and columns cut from every border of the output")
        self.output_padding = spin(0, 3, 0, "Rows and columns added at the bottom and right (smaller than the "
                                            "stride)")
        self.dilation = spin(1, 3, 1, "Spacing between the kernel's taps (1 = touching)")
        self.bias = float_spin(-99, 99, 0, "A number added to every output cell")
        self.output_grid.setToolTip("The hatched border is cut away by the padding")
        boxes = (self.stride, self.padding, self.output_padding, self.dilation, self.bias)
        self.lay_out(list(zip(("Stride", "Padding", "Output padding", "Dilation", "Bias"), boxes)), boxes)
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
        self.set_grid_stretch()
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
