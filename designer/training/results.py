"""Test results: accuracy, loss, per-class accuracy and the confusion matrix of a finished run."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from designer.training.confusion import ConfusionMatrixView

HINT = ("Rows: true class · columns: predicted · colour: share of the row (√ scale, so rare mistakes show). "
        "Hover a cell for its count; click it for its images.")
LOCALIZATION_HINT = ("Rows: true class · columns: predicted class, boxes aside. Click a cell for its images, the "
                     "worst box first: the true box on the left, the predicted one on the right.")
DETECTION_HINT = ("Objects: rows true class · columns what was found on them (IoU ≥ 0.5, at least 30% sure); "
                  "“nothing” counts missed objects (column) and detections of nothing (row). Click a cell for "
                  "its images.")
SEGMENTATION_HINT = ("Pixels: rows true class · columns predicted. Click a cell for the images with such pixels, "
                     "most first; each shows the image, its true mask and the predicted mask.")


class ResultsView(QWidget):
    evaluate_requested = Signal()          # "Evaluate current weights"
    cell_clicked = Signal(int, int)        # true class, predicted class

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None
        self.summary = QLabel("No results yet: they appear when a run finishes.")
        self.summary.setWordWrap(True)
        self.evaluate_button = QPushButton("Evaluate current weights")
        self.evaluate_button.setToolTip("Run the test set through the network with the weights it has now")
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.matrix = ConfusionMatrixView()
        self.matrix.cell_clicked.connect(self.cell_clicked)
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        # two lines, always: if hovering changed its height, the matrix would resize under the mouse
        self.hint.setFixedHeight(2 * self.hint.fontMetrics().lineSpacing() + 2)
        self._hint = HINT
        self.matrix.cell_hovered.connect(lambda text: self.hint.setText(f"<b>{text}</b>; click to see them"
                                                                        if text else self._hint))
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.evaluate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.matrix, 1)
        layout.addWidget(self.hint)

    def show_result(self, result, source: str) -> None:
        """result: an EvaluationResult on the test split; source says which weights produced it."""
        self.result = result
        self.matrix.set_matrix(result.confusion, result.class_names, getattr(result, "task", "") == "detection")
        task = getattr(result, "task", "classification")
        if task in ("localization", "detection"):
            self._show_boxes(result, source)
            return
        if task == "segmentation":
            iou = np.asarray(result.iou, dtype=np.float64)
            worst = int(np.nanargmin(iou)) if np.isfinite(iou).any() else None
            names = [html.escape(str(n)) for n in result.class_names]   # rich text; names may come from folders
            each = ", ".join(f"{n} {v:.2f}" for n, v in zip(names, iou) if v == v)
            self.summary.setText(f"<b>Test mean IoU {result.mean_iou:.3f}</b> (pixel accuracy {result.accuracy:.2%}) "
                                 f"on {result.count} images, loss {result.loss:.4f}; IoU per class: {each}"
                                 + (f"; hardest: {names[worst]}" if worst is not None else "")
                                 + f"<br><i>{html.escape(source)}</i>")
            self.hint.setText(SEGMENTATION_HINT)
            self._hint = SEGMENTATION_HINT
            return
        self._hint = HINT
        per_class = np.asarray(result.per_class_accuracy, dtype=np.float64)
        worst = int(np.nanargmin(per_class)) if np.isfinite(per_class).any() else None
        worst_text = (f"; hardest class: {html.escape(str(result.class_names[worst]))} ({per_class[worst]:.1%})"
                      if worst is not None else "")
        self.summary.setText(f"<b>Test accuracy {result.accuracy:.2%}</b> on {result.count} images, loss "
                             f"{result.loss:.4f}{worst_text}<br><i>{html.escape(source)}</i>")

    def _show_boxes(self, result, source: str) -> None:
        names = [html.escape(str(n)) for n in result.class_names]   # rich text; names may come from files
        if result.task == "localization":
            summary = result.summary()
            each = ", ".join(f"{n} {v:.0%}" for n, v in zip(names, result.per_class_accuracy) if v == v)
            text = (f"<b>Test box hits {result.accuracy:.1%}</b> (right class and IoU &gt; 0.5) on {result.count} "
                    f"images; mean box IoU {summary['mean_box_iou'] or 0:.3f}, class accuracy "
                    f"{summary['class_accuracy']:.1%}, loss {result.loss:.4f}; box hits per class: {each}")
            hint = LOCALIZATION_HINT
        else:
            each = ", ".join(f"{n} {v:.2f}" for n, v in zip(names, result.ap) if v == v)
            objects = int(result.confusion[:-1].sum())
            text = (f"<b>Test mAP@0.5 {result.map50:.3f}</b> on {result.count} images with {objects} objects; F1 "
                    f"{result.accuracy:.1%} (detections at least 30% sure), loss {result.loss:.4f}; AP per class: "
                    f"{each}")
            hint = DETECTION_HINT
        self.summary.setText(f"{text}<br><i>{html.escape(source)}</i>")
        self.hint.setText(hint)
        self._hint = hint

    def clear(self) -> None:
        self.result = None
        self._hint = HINT
        self.hint.setText(HINT)
        self.matrix.set_matrix(np.zeros((0, 0), np.int64), ())
        self.summary.setText("No results yet: they appear when a run finishes.")
