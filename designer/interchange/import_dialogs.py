"""Dialogs for importing a model: a torchvision architecture by name, a class in a Python file (which runs its
code, so the person must tick a confirmation first), or an ONNX file (which brings its own weights). The first
two offer a weights file, and when some operations do not map every dialog lists them and asks whether to
keep what maps."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox, QWidget)

from designer import dialogs
from engine.interchange.fx_import import ImportFailedError, UnmappableModelError, unmapped_summary
from engine.interchange.sources import TORCHVISION_MODELS, SourceError, parse_kwargs
from engine.interchange.weights import WeightsError


class _ImportDialog(QDialog):
    def __init__(self, parent, title: str):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout(self)
        self.channels, self.height_, self.width_ = (self._spin(1, 64, 3), self._spin(1, 4096, 64), self._spin(1, 4096, 64))
        shape = QWidget()
        row = QHBoxLayout(shape)
        row.setContentsMargins(0, 0, 0, 0)
        for w, text in ((self.channels, "channels"), (self.height_, "height"), (self.width_, "width")):
            row.addWidget(w)
            row.addWidget(QLabel(text))
        self.shape_row = shape
        self.weights = QLineEdit()
        self.weights.setObjectName("weights_path")
        self.weights.setPlaceholderText("optional: .safetensors, .pt or .pth state_dict")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def _spin(self, low, high, value):
        s = QSpinBox()
        s.setRange(low, high)
        s.setValue(value)
        return s

    def _file_row(self, edit: QLineEdit, file_filter: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, file_filter))
        row.addWidget(browse)
        return box

    def _browse(self, edit, file_filter):
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(), file_filter)
        if path:
            edit.setText(path)

    def _finish_form(self, weights: bool = True):
        self.form.addRow("Input shape", self.shape_row)
        if weights:
            self.form.addRow("Weights file", self._file_row(self.weights, "Weights (*.safetensors *.pt *.pth *.bin)"))
        self.form.addRow(self.buttons)

    def input_shape(self) -> tuple:
        return (self.channels.value(), self.height_.value(), self.width_.value())

    def do_import(self, keep_partial: bool):
        raise NotImplementedError  # each dialog defines its source

    def run(self):
        """Show the dialog and import; None when cancelled or refused (after saying why)."""
        while self.exec() == QDialog.DialogCode.Accepted:
            result = self.try_import()
            if result is not False:
                return result
        return None

    def try_import(self):
        """The ImportedModel, None when the person declined a partial import, False to edit and retry."""
        try:
            return self._with_wait(False)
        except UnmappableModelError as exc:
            if not ask_keep_partial(self, exc.unmapped):
                return None
            try:
                return self._with_wait(True)
            except (ImportFailedError, SourceError, WeightsError) as again:
                dialogs.show_error(self, "Import failed", str(again))   # plain text, never HTML
                return False
        except (ImportFailedError, SourceError, WeightsError) as exc:
            dialogs.show_error(self, "Import failed", str(exc))
            return False

    def _with_wait(self, keep_partial):
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return self.do_import(keep_partial)
        finally:
            QGuiApplication.restoreOverrideCursor()


class TorchvisionImportDialog(_ImportDialog):
    def __init__(self, parent=None):
        super().__init__(parent, "Import a torchvision model")
        self.model = QComboBox()
        self.model.setObjectName("torchvision_model")
        for m in TORCHVISION_MODELS:
            self.model.addItem(f"{m.title} ({m.key})", m.key)
        self.model.currentIndexChanged.connect(self._model_changed)
        self.classes = self._spin(1, 100000, 1000)
        self.form.addRow(QLabel("Built with fresh weights (nothing is downloaded); choose a weights file to load "
                                "trained ones."))
        self.form.addRow("Architecture", self.model)
        self.form.addRow("Classes", self.classes)
        self._finish_form()
        self._model_changed()

    def _model_changed(self, *_):
        c, h, w = next(m.input_shape for m in TORCHVISION_MODELS if m.key == self.model.currentData())
        self.channels.setValue(c)
        self.height_.setValue(h)
        self.width_.setValue(w)

    def do_import(self, keep_partial):
        from engine.interchange.importing import import_torchvision
        return import_torchvision(self.model.currentData(), self.input_shape(), self.classes.value(),
                                  self.weights.text().strip() or None, keep_partial)


class PythonImportDialog(_ImportDialog):
    def __init__(self, parent=None):
        super().__init__(parent, "Import a PyTorch model from a Python file")
        self.path = QLineEdit()
        self.path.setObjectName("python_path")
        self.class_name = QLineEdit()
        self.class_name.setObjectName("class_name")
        self.kwargs = QLineEdit()
        self.kwargs.setPlaceholderText('constructor arguments as JSON, e.g. {"num_classes": 10}')
        self.trust = QCheckBox("I trust this file: importing runs its Python code on this computer")
        self.trust.setObjectName("trust_code")
        self.form.addRow("Python file", self._file_row(self.path, "Python (*.py)"))
        self.form.addRow("Class", self.class_name)
        self.form.addRow("Arguments", self.kwargs)
        self._finish_form()
        self.form.insertRow(self.form.rowCount() - 1, self.trust)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.trust.toggled.connect(ok.setEnabled)
        # Trust is given to one file: choosing another asks again.
        self.path.textChanged.connect(lambda _: self.trust.setChecked(False))

    def do_import(self, keep_partial):
        from engine.interchange.importing import import_python_class
        return import_python_class(self.path.text().strip(), self.class_name.text().strip(), self.input_shape(),
                                   confirmed=self.trust.isChecked(), kwargs=parse_kwargs(self.kwargs.text()),
                                   weights_path=self.weights.text().strip() or None, keep_partial=keep_partial)


class OnnxImportDialog(_ImportDialog):
    """An ONNX file: its weights come with it; the input size is the file's when it fixes one."""

    def __init__(self, parent=None):
        super().__init__(parent, "Import an ONNX model")
        self.path = QLineEdit()
        self.path.setObjectName("onnx_path")
        self.path.setPlaceholderText("a .onnx file")
        self.size_note = QLabel("Choose a file to see the input size it was made for.")
        self.size_note.setObjectName("onnx_size_note")
        self.size_note.setTextFormat(Qt.TextFormat.PlainText)   # it quotes the file's name
        self.size_note.setWordWrap(True)
        self.form.addRow("ONNX file", self._file_row(self.path, "ONNX models (*.onnx)"))
        self._finish_form(weights=False)
        self.form.insertRow(self.form.rowCount() - 1, self.size_note)
        self.path.editingFinished.connect(self.read_input_size)

    def _browse(self, edit, file_filter):
        super()._browse(edit, file_filter)
        self.read_input_size()

    def read_input_size(self) -> None:
        """Fill in the input size the chosen file fixes, or say that it fixes none."""
        from engine.interchange.onnx_import import declared_input_shape, read_onnx

        path = self.path.text().strip()
        if not path:
            return
        try:
            shape = declared_input_shape(read_onnx(path))
        except ImportFailedError as exc:
            self.size_note.setText(str(exc))
            return
        if shape is None:
            self.size_note.setText("The file does not fix its input's height and width: give the size to import at.")
            return
        for box, value in zip((self.channels, self.height_, self.width_), shape):
            box.setValue(value)
        self.size_note.setText(f"The file was made for inputs of {'×'.join(map(str, shape))}.")

    def do_import(self, keep_partial):
        from engine.interchange.onnx_import import import_onnx
        return import_onnx(self.path.text().strip(), self.input_shape(), keep_partial)


def ask_keep_partial(parent, unmapped) -> bool:
    box = QMessageBox(parent)
    box.setObjectName("unmapped_box")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Some operations do not map")
    box.setText(f"{len(unmapped)} operation(s) have no layer kind in CNN Designer. Import the layers that map, "
                f"with a placeholder marked as an error for each operation below, and replace those by hand?")
    # Grouped by operation, as the command line says it; rich text with every name escaped, so an op such
    # as torch.<lambda> shows as written. Show Details… lists every one with its module and line.
    groups = unmapped_summary(unmapped, limit=6).splitlines()
    shown = "<br>".join(html.escape(line.strip().removeprefix("- ").replace("  ... ", "… ")) for line in groups)
    box.setInformativeText(shown)
    box.setDetailedText("\n".join(str(u) for u in unmapped))
    keep = box.addButton("Import what maps", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is keep
