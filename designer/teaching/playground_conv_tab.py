"""Tab 1 of the playground: a convolution computed one output cell at a time on an editable grid."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget)

from designer.teaching.playground_animation import AnimationBar, StepAnimator
from designer.teaching.playground_grid import GridView, link_cell_sizes
from designer.teaching.playground_widgets import ZERO_BASED, MessageLabel, float_spin, spin, titled
from engine.teaching.kernels import preset_description, preset_kernel, preset_names
from engine.teaching.playground import (DEFAULT_INPUT, DEFAULT_KERNEL, conv_steps, output_size_text,
                                        step_arithmetic)

CUSTOM = "Custom"


def resized(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """`values` cut or extended with zeros to rows × cols, keeping the top-left part."""
    out = np.zeros((rows, cols))
    r, c = min(rows, values.shape[0]), min(cols, values.shape[1])
    out[:r, :c] = values[:r, :c]
    return out


class ConvolutionTab(QWidget):
    """Input, kernel and output grids, the settings, the current step's arithmetic and the animation bar."""

    output_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.input = DEFAULT_INPUT.copy()
        self.kernel = DEFAULT_KERNEL.copy()
        self.result = None
        self.animator = StepAnimator(self)
        self._build()
        self.animator.position_changed.connect(self._show_position)
        self.recompute()

    # ---- layout ---------------------------------------------------------------------------------
    def _build(self):
        self.rows = spin(1, 16, self.input.shape[0], "Input height (rows)")
        self.cols = spin(1, 16, self.input.shape[1], "Input width (columns)")
        self.kernel_size = spin(1, 7, self.kernel.shape[0], "Kernel height and width")
        self.preset = QComboBox()
        self.preset.addItems([CUSTOM] + preset_names())
        self.preset.setToolTip("Fill the kernel with a classic hand-made filter")
        self.stride = spin(1, 6, 1, "How many cells the window moves at each step")
        self.padding = spin(0, 4, 0, "Rings of zeros added around the input")
        self.dilation = spin(1, 4, 1, "Spacing between the kernel's taps (1 = touching)")
        self.bias = float_spin(-99, 99, 0, "A number added to every output cell")
        self.randomize = QPushButton("Random input")
        self.randomize.setToolTip("Fill the input with random whole numbers from 0 to 4")
        size_row = QHBoxLayout()
        size_row.addWidget(self.rows)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.cols)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Input size", size_row)
        form.addRow("Kernel size", self.kernel_size)
        form.addRow("Kernel", self.preset)
        form.addRow("Stride", self.stride)
        form.addRow("Padding", self.padding)
        form.addRow("Dilation", self.dilation)
        form.addRow("Bias", self.bias)
        form.addRow(self.randomize)
        settings = QWidget()
        settings.setLayout(form)

        self.input_grid = GridView(editable=True)
        self.input_grid.setToolTip("Double-click a cell (or select it and type) to change its value")
        self.kernel_grid = GridView(editable=True)
        self.kernel_grid.setToolTip("Double-click a weight (or select it and type) to change it")
        self.output_grid = GridView()
        link_cell_sizes(self.input_grid, self.kernel_grid, self.output_grid)
        self.input_title, self.kernel_title, self.output_title = QLabel(), QLabel(), QLabel()
        self.grids = QHBoxLayout()
        self.grids.addWidget(titled(self.input_title, self.input_grid))
        self.grids.addWidget(titled(self.kernel_title, self.kernel_grid))
        self.grids.addWidget(titled(self.output_title, self.output_grid))

        self.arithmetic = MessageLabel()
        self.arithmetic.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.size_formula = MessageLabel()
        self.bar = AnimationBar(self.animator)

        top = QHBoxLayout()
        top.addWidget(settings, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(self.grids, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.arithmetic)
        layout.addWidget(self.size_formula)
        layout.addWidget(self.bar)

        for box in (self.rows, self.cols):
            box.valueChanged.connect(self._input_size_changed)
        self.kernel_size.valueChanged.connect(self._kernel_size_changed)
        for box in (self.stride, self.padding, self.dilation, self.bias):
            box.valueChanged.connect(lambda *_: self.recompute())
        self.preset.currentTextChanged.connect(self._preset_chosen)
        self.randomize.clicked.connect(self._randomize)
        self.input_grid.cell_edited.connect(self._input_edited)
        self.kernel_grid.cell_edited.connect(self._kernel_edited)

    # ---- edits ----------------------------------------------------------------------------------
    def _input_size_changed(self, *_):
        self.input = resized(self.input, self.rows.value(), self.cols.value())
        self.recompute()

    def _kernel_size_changed(self, size: int):
        self.kernel = resized(self.kernel, size, size)
        self._set_preset_silently(CUSTOM)
        self.recompute()

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

    def _randomize(self):
        self.input = np.random.default_rng().integers(0, 5, self.input.shape).astype(np.float64)
        self.recompute()

    def _input_edited(self, r: int, c: int, value: float):
        self.input[r, c] = value
        self.recompute()

    def _kernel_edited(self, r: int, c: int, value: float):
        self.kernel[r, c] = value
        self._set_preset_silently(CUSTOM)
        self.recompute()

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
        # widths in proportion to the columns, so the three grids share one cell size without gaps
        cols = (self.input_grid.values.shape[1], self.kernel.shape[1], self.output_grid.values.shape[1])
        for i, n in enumerate(cols):
            self.grids.setStretch(i, max(2, n))
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
        if result is None:
            self.arithmetic.show_text("")
            self.input_grid.set_overlay()
            return
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

    # ---- for other tabs and tests ---------------------------------------------------------------
    def output_map(self):
        """The full output map, or None while the settings are impossible."""
        return None if self.result is None else self.result.output.copy()
