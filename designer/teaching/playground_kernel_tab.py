"""What the playground's kernel tabs (step-by-step and transposed convolution) share: an editable input and
kernel beside an output grid, a settings form, the current step's arithmetic, the output-size formula and the
animation bar. A tab adds its own settings, computes in `recompute` and shows a step in `_show_position`."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from designer.teaching.playground_animation import AnimationBar, StepAnimator
from designer.teaching.playground_grid import GridView, link_cell_sizes
from designer.teaching.playground_widgets import MessageLabel, spin, titled


def resized(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """`values` cut or extended with zeros to rows × cols, keeping the top-left part."""
    out = np.zeros((rows, cols))
    r, c = min(rows, values.shape[0]), min(cols, values.shape[1])
    out[:r, :c] = values[:r, :c]
    return out


class KernelTab(QWidget):
    """See the module docstring. `random_high`: random inputs are whole numbers from 0 to it."""

    def __init__(self, input_values: np.ndarray, kernel: np.ndarray, max_input: int, max_kernel: int,
                 random_high: int, parent=None):
        super().__init__(parent)
        self.input = input_values.copy()
        self.kernel = kernel.copy()
        self.result = None
        self.random_high = random_high
        self.animator = StepAnimator(self)
        self.rows = spin(1, max_input, self.input.shape[0], "Input height (rows)")
        self.cols = spin(1, max_input, self.input.shape[1], "Input width (columns)")
        self.kernel_size = spin(1, max_kernel, self.kernel.shape[0], "Kernel height and width")
        self.randomize = QPushButton("Random input")
        self.randomize.setToolTip(f"Fill the input with random whole numbers from 0 to {random_high}")
        self.input_grid = GridView(editable=True)
        self.input_grid.setToolTip("Double-click a cell (or select it and type) to change its value")
        self.kernel_grid = GridView(editable=True)
        self.kernel_grid.setToolTip("Double-click a weight (or select it and type) to change it")
        self.output_grid = GridView()
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

    def lay_out(self, settings: list, recompute_on: tuple) -> None:
        """Build the tab: the settings form (label, widget) rows after the input and kernel sizes, then the
        Random input button; any change of the `recompute_on` boxes recomputes."""
        size_row = QHBoxLayout()
        for w in (self.rows, QLabel("×"), self.cols):
            size_row.addWidget(w)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for label, widget in [("Input size", size_row), ("Kernel size", self.kernel_size), *settings]:
            form.addRow(label, widget)
        form.addRow(self.randomize)
        box = QWidget()
        box.setLayout(form)
        top = QHBoxLayout()
        top.addWidget(box, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(self.grids, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        for w in (self.arithmetic, self.size_formula, self.bar):
            layout.addWidget(w)
        for box in (self.rows, self.cols):
            box.valueChanged.connect(self._input_size_changed)
        self.kernel_size.valueChanged.connect(self._kernel_size_changed)
        for box in recompute_on:
            box.valueChanged.connect(lambda *_: self.recompute())
        self.randomize.clicked.connect(self._randomize)
        self.input_grid.cell_edited.connect(self._input_edited)
        self.kernel_grid.cell_edited.connect(self._kernel_edited)
        self.animator.position_changed.connect(self._position_changed)

    # ---- edits ----------------------------------------------------------------------------------
    def _input_size_changed(self, *_):
        self.input = resized(self.input, self.rows.value(), self.cols.value())
        self.recompute()

    def _kernel_size_changed(self, size: int):
        self.kernel = resized(self.kernel, size, size)
        self.kernel_edited_by_hand()
        self.recompute()

    def _randomize(self):
        self.input = np.random.default_rng().integers(0, self.random_high + 1, self.input.shape).astype(np.float64)
        self.recompute()

    def _input_edited(self, r: int, c: int, value: float):
        self.input[r, c] = value
        self.recompute()

    def _kernel_edited(self, r: int, c: int, value: float):
        self.kernel[r, c] = value
        self.kernel_edited_by_hand()
        self.recompute()

    def kernel_edited_by_hand(self) -> None:
        """The kernel is no longer a named one (the step-by-step tab's presets)."""

    def set_grid_stretch(self) -> None:
        """Widths in proportion to the columns, so the three grids share one cell size without gaps."""
        cols = (self.input_grid.values.shape[1], self.kernel.shape[1], self.output_grid.values.shape[1])
        for i, n in enumerate(cols):
            self.grids.setStretch(i, max(2, n))

    def _position_changed(self, position: int) -> None:
        if self.result is None:   # impossible settings: nothing to step through
            self.arithmetic.show_text("")
            self.input_grid.set_overlay()
            return
        self._show_position(position)

    def recompute(self) -> None:
        raise NotImplementedError   # each tab computes its own operation

    def _show_position(self, position: int) -> None:
        raise NotImplementedError

    def output_map(self):
        """The output map, or None while the settings are impossible."""
        return None if self.result is None else self.result.output.copy()
