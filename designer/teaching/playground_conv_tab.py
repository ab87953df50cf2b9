"""Tab 1 of the playground: a convolution computed one output cell at a time on an editable grid."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

from designer.teaching.playground_kernel_tab import KernelTab
from designer.teaching.playground_widgets import ZERO_BASED, float_spin, spin
from engine.teaching.kernels import preset_description, preset_kernel, preset_names
from engine.teaching.playground import (DEFAULT_INPUT, DEFAULT_KERNEL, conv_steps, output_size_text,
                                        step_arithmetic)

CUSTOM = "Custom"


class ConvolutionTab(KernelTab):
    """Input, kernel and output grids, the settings, the current step's arithmetic and the animation bar."""

    output_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(DEFAULT_INPUT, DEFAULT_KERNEL, max_input=16, max_kernel=7, random_high=4, parent=parent)
        self.preset = QComboBox()
        self.preset.addItems([CUSTOM] + preset_names())
        self.preset.setToolTip("Fill the kernel with a classic hand-made filter")
        self.stride = spin(1, 6, 1, "How many cells the window moves at each step")
        self.padding = spin(0, 4, 0, "Rings of zeros added around the input")
        self.dilation = spin(1, 4, 1, "Spacing between the kernel's taps (1 = touching)")
        self.bias = float_spin(-99, 99, 0, "A number added to every output cell")
        self.lay_out([("Kernel", self.preset), ("Stride", self.stride), ("Padding", self.padding),
                      ("Dilation", self.dilation), ("Bias", self.bias)],
                     (self.stride, self.padding, self.dilation, self.bias))
        self.preset.currentTextChanged.connect(self._preset_chosen)
        self.recompute()

    def kernel_edited_by_hand(self) -> None:
        self._set_preset_silently(CUSTOM)

    def _preset_chosen(self, name: str):
        if name == CUSTOM:
            return
        self.kernel = preset_kernel(name)
        self.kernel_size.blockSignals(True)
        self.kernel_size.setValue(self.kernel.shape[0])
        self.kernel_size.blockSignals(False)
        self.recompute()

    def _set_preset_silently(self, name: str):
        self.preset.blockSignals(True)
        self.preset.setCurrentText(name)
        self.preset.blockSignals(False)

    def set_kernel(self, kernel) -> None:
        """Use `kernel` (square) as a custom kernel."""
        self.kernel = np.array(kernel, dtype=np.float64)
        self.kernel_size.blockSignals(True)
        self.kernel_size.setValue(self.kernel.shape[0])
        self.kernel_size.blockSignals(False)
        self._set_preset_silently(CUSTOM)
        self.recompute()

    # ---- computing and showing ------------------------------------------------------------------
    def recompute(self) -> None:
        """Run the stepper with the current settings; keep the animation's place if the step count holds."""
        before = len(self.result.steps) if self.result is not None else -1
        s, p, d = self.stride.value(), self.padding.value(), self.dilation.value()
        self.kernel_grid.set_values(self.kernel)
        try:
            self.result = conv_steps(self.input, self.kernel, s, p, d, self.bias.value())
        except ValueError as exc:
            self.result = None
            self.input_grid.set_values(np.pad(self.input, p), (p, p))
            self.output_grid.set_blank()
            self.size_formula.show_text(f"Cannot compute: {str(exc)[0].upper()}{str(exc)[1:]}", error=True)
            self.animator.set_count(0)
            self._titles()
            self.output_changed.emit()
            return
        self.input_grid.set_values(self.result.padded, (p, p))
        self.output_grid.set_values(self.result.output)
        self.size_formula.show_text(self._size_text())
        count = len(self.result.steps)
        self.animator.set_count(count, keep_position=count == before)
        self._titles()
        self.output_changed.emit()

    def _titles(self):
        self.set_grid_stretch()
        h, w = self.input.shape
        p = self.padding.value()
        padded = f" + padding {p} → {h + 2 * p}×{w + 2 * p}" if p else ""
        self.input_title.setText(f"Input {h}×{w}{padded}")
        kh, kw = self.kernel.shape
        name = self.preset.currentText()
        self.kernel_title.setText(f"Kernel {kh}×{kw}" + ("" if name == CUSTOM else f" ({name})"))
        self.kernel_grid.setToolTip(f"{name}: {preset_description(name)}. Double-click a weight to change it."
                                    if name != CUSTOM else "Double-click a weight (or select it and type) to change it")
        if self.result is None:
            self.output_title.setText("Output: none")
        else:
            oh, ow = self.result.output.shape
            self.output_title.setText(f"Output {oh}×{ow}")

    def _size_text(self) -> str:
        (h, w), k = self.input.shape, self.kernel.shape
        s, p, d = self.stride.value(), self.padding.value(), self.dilation.value()
        oh, ow = self.result.output.shape
        rows = output_size_text(h, k[0], p, s, d)
        if h == w and k[0] == k[1]:
            return f"Output size = ⌊(W − K + 2P) / S⌋ + 1 = {rows}, so the output is {oh}×{ow}."
        cols = output_size_text(w, k[1], p, s, d)
        return f"Output size = ⌊(W − K + 2P) / S⌋ + 1: rows {rows}; columns {cols}; so the output is {oh}×{ow}."

    def _show_position(self, position: int):
        result = self.result
        oh, ow = result.output.shape
        shown = (np.arange(oh * ow) < position).reshape(oh, ow)
        if position == 0:
            self.input_grid.set_overlay()
            self.output_grid.set_overlay(shown=shown)
            kh, kw = self.kernel.shape
            self.arithmetic.show_text(f"Press Play or Step: the {kh}×{kw} kernel slides over the input, and each "
                                      f"output cell is the sum of the input values times the kernel's weights." + ZERO_BASED)
            return
        step = result.steps[position - 1]
        self.input_grid.set_overlay(window=step.positions, weights=self.kernel)
        self.output_grid.set_overlay(current=(step.row, step.col), shown=shown)
        self.arithmetic.show_text(f"<b>Output row {step.row}, column {step.col}</b> = "
                                  f"{step_arithmetic(step, self.kernel)}")
