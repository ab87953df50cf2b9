"""The inspector: a form generated from the selected layer's parameter schema, plus its analysis."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from designer.param_widgets import FloatEditor, make_editor
from engine.registry import get_kind
from engine.summary import human_bytes, human_count, shape_text

SEVERITY_WORDS = {"error": "Error", "warning": "Warning", "todo": "Next step"}


def _small(text: str, role: str = "help") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", role)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class Inspector(QScrollArea):
    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_id = ""
        self.editors: dict = {}
        self.error_labels: dict = {}
        self._session = 0   # edits within one session of one field merge into one undo step
        self.setWidgetResizable(True)
        self.setMinimumWidth(260)
        # Never scroll sideways: help text cut off at the right edge is unreadable. The form wraps instead,
        # and show_node widens the panel when a form cannot get narrower.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        document.params_changed.connect(self._on_params_changed)
        document.analysis_changed.connect(self._on_analysis_changed)
        document.node_removed.connect(self._on_node_removed)
        self.show_node("")

    # ---- building the form ----------------------------------------------------------------------
    def show_node(self, node_id: str) -> None:
        self._session += 1
        self.node_id = node_id if node_id and self.document.graph.has_node(node_id) else ""
        self.editors, self.error_labels = {}, {}
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(10, 8, 10, 8)
        if not self.node_id:
            outer.addWidget(_small("Select a layer on the canvas to edit its parameters.\n\nDrag layers from the "
                                   "palette on the left; connect an output port (right side of a layer) to an "
                                   "input port (left side)."))
            outer.addStretch(1)
            self.setWidget(page)
            self.label_edit = None
            self.analysis_labels = {}
            return
        spec = self.document.graph.node(self.node_id)
        kind = get_kind(spec.kind)
        heading = QLabel(f"{kind.glyph}  {kind.name}")
        heading.setProperty("role", "heading")
        outer.addWidget(heading)
        outer.addWidget(_small(kind.help))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Id", QLabel(spec.id))
        if spec.name:   # an imported layer: where its weights live in the original (and in every export)
            path = QLabel(spec.name)
            path.setTextFormat(Qt.TextFormat.PlainText)
            path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            path.setToolTip("The module path this layer had in the imported model. Its weights are stored under it "
                            "(e.g. layer1.0.conv1.weight), so they load into the original model, and the exported "
                            "code uses the same structure.")
            form.addRow("Module", path)
        self.label_edit = QLineEdit(spec.label)
        self.label_edit.setPlaceholderText(spec.id)
        self.label_edit.setMaxLength(80)
        self.label_edit.setToolTip("A name of your own for this layer, shown on the canvas")
        self.label_edit.textEdited.connect(lambda text: self.document.set_label(self.node_id, text))
        self.label_edit.editingFinished.connect(self._end_session)
        form.addRow("Label", self.label_edit)
        for p in kind.params:
            editor = make_editor(p)
            editor.set_value(spec.params[p.name])
            editor.committed.connect(lambda value, name=p.name: self._commit(name, value))
            editor.finished.connect(self._end_session)
            error = _small("", "error")
            error.hide()
            if isinstance(editor, FloatEditor):
                editor.refused.connect(lambda msg, lbl=error: self._show_error(lbl, msg))
            box = QWidget()
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(1)
            col.addWidget(editor)
            col.addWidget(error)
            col.addWidget(_small(p.help))
            form.addRow(p.title, box)
            self.editors[p.name] = editor
            self.error_labels[p.name] = error
        outer.addLayout(form)
        outer.addWidget(self._analysis_box())
        outer.addStretch(1)
        self.setWidget(page)
        self._on_analysis_changed(self.document.analysis)
        self._fit_width(page)

    def _fit_width(self, page) -> None:
        """Grow (never shrink, so the canvas does not jump on every selection) to fit the form's narrowest
        layout beside a vertical scroll bar."""
        needed = page.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        if needed > self.minimumWidth():
            self.setMinimumWidth(needed)

    def _analysis_box(self) -> QGroupBox:
        group = QGroupBox("Analysis")
        form = QFormLayout(group)
        self.analysis_labels = {}
        for key, title in (("shape", "Output shape"), ("inputs", "Input shapes"), ("params", "Parameters"),
                           ("macs", "MACs"), ("memory", "Activation memory"), ("rf", "Receptive field")):
            label = QLabel("—")
            label.setWordWrap(True)  # a Concat's input shapes can be a long list
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(title, label)
            self.analysis_labels[key] = label
        self.issue_label = _small("", "error")
        self.fix_button = QPushButton()
        self.fix_button.clicked.connect(self._apply_fix)
        form.addRow(self.issue_label)
        form.addRow(self.fix_button)
        self._fix = None
        return group

    # ---- edits ----------------------------------------------------------------------------------------
    def _commit(self, name, value):
        if not self.node_id:
            return
        message = self.document.set_params(self.node_id, {name: value}, merge_field=f"{name}#{self._session}")
        self._show_error(self.error_labels.get(name), message)
        if message:  # refused: show the value still in use
            self.editors[name].set_value(self.document.graph.node(self.node_id).params[name])

    def _end_session(self):
        self._session += 1

    def _show_error(self, label, message):
        if label is not None:
            label.setText(message)
            label.setVisible(bool(message))

    def _apply_fix(self):
        if self._fix is not None:
            self.document.apply_fix(self._fix)

    # ---- updates from the document --------------------------------------------------------------------
    def _on_node_removed(self, node_id):
        if node_id == self.node_id:
            self.show_node("")

    def _on_params_changed(self, node_id):
        if node_id != self.node_id or not self.document.graph.has_node(node_id):
            return
        spec = self.document.graph.node(node_id)
        for name, editor in self.editors.items():
            editor.set_value(spec.params[name])
        if self.label_edit is not None and not self.label_edit.hasFocus():
            self.label_edit.setText(spec.label)

    def _on_analysis_changed(self, analysis):
        if not self.node_id or not self.analysis_labels:
            return
        info = analysis.nodes.get(self.node_id)
        if info is None:
            return
        rf = info.receptive_field
        values = {"shape": shape_text(info.shape),
                  "inputs": ", ".join(shape_text(s) for s in info.in_shapes) or "—",
                  "params": f"{info.params:,} ({human_count(info.params)})",
                  "macs": f"{info.macs:,} ({human_count(info.macs)})",
                  "memory": human_bytes(info.memory),
                  "rf": "—" if rf is None else f"{rf[0]}×{rf[1]} input pixels"}
        for key, text in values.items():
            self.analysis_labels[key].setText(text)
        issues = analysis.issues_for(self.node_id)
        issue = next((i for i in issues if i.severity == "error"), issues[0] if issues else None)
        self.issue_label.setText("" if issue is None else
                                 f"{SEVERITY_WORDS.get(issue.severity, 'Warning')}: {issue.message}")
        self.issue_label.setVisible(issue is not None)
        role = "help" if issue is not None and issue.severity == "todo" else "error"   # a next step is not red
        if self.issue_label.property("role") != role:
            self.issue_label.setProperty("role", role)
            self.issue_label.style().unpolish(self.issue_label)
            self.issue_label.style().polish(self.issue_label)
        self._fix = issue.fix if issue is not None else None
        self.fix_button.setVisible(self._fix is not None)
        if self._fix is not None:
            self.fix_button.setText(f"Fix: {self._fix.label}")
