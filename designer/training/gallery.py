"""The test images of one confusion-matrix cell, with true and predicted class, the top-3 probabilities
and a saliency overlay (Grad-CAM for a chosen layer, or input-gradient saliency) showing where the
network looked. Saliency runs on the GUI thread, so the gallery shows at most MAX_IMAGES images."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QSlider, QVBoxLayout, QWidget)

from designer.plain_text import plain_tooltip
from designer.training.box_drawing import box_panels
from designer.training.images import image_to_qimage, mask_colour, mask_panels, overlay_to_qimage, pixmap
from engine.insight.saliency import grad_cam, input_gradient_saliency, top_k
from engine.training.boxes import SHOW_SCORE

MAX_IMAGES = 60
ICON_SIZE = 112
METHODS = ("Grad-CAM", "Input gradient", "No overlay")


class ErrorGallery(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._module = None
        self._images = np.zeros((0, 1, 1, 1), np.float32)
        self.indices = np.zeros(0, np.int64)
        self._true = self._pred = np.zeros(0, np.int64)
        self._probs = np.zeros((0, 0), np.float32)
        self._names: tuple = ()
        self._masks = None   # segmentation: the image | truth | prediction panels shown
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setToolTip("Grad-CAM: which regions of the chosen layer's feature maps raised the predicted "
                               "score. Input gradient: which pixels change the score most.")
        self.layer = QComboBox()
        self.layer.setToolTip("The layer Grad-CAM explains (usually the last convolution)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setToolTip("Overlay strength")
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setGridSize(QSize(ICON_SIZE + 64, ICON_SIZE + 64))  # room for three top-3 entries
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        for w in (self.method, self.layer):
            w.currentIndexChanged.connect(self.refresh)
        self.opacity.sliderReleased.connect(self.refresh)
        self.saliency_bar = QWidget()
        bar = QHBoxLayout(self.saliency_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Where it looked:"))
        bar.addWidget(self.method)
        bar.addWidget(self.layer)
        bar.addWidget(QLabel("Overlay"))
        bar.addWidget(self.opacity)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.saliency_bar)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)

    def show_cell(self, true_class: int, pred_class: int, result, images, module, layers) -> None:
        """Fill the gallery with every test image whose true class is `true_class` and prediction `pred_class`.

        result: EvaluationResult on the test split; images: the test split's images (N×C×H×W);
        module: the trained network (eval mode); layers: node ids Grad-CAM may explain, last preferred.
        """
        task = getattr(result, "task", "classification")
        if task == "segmentation":
            self._show_masks(true_class, pred_class, result, images)
            return
        if task in ("localization", "detection"):
            self._show_boxes(true_class, pred_class, result, images)
            return
        self._masks = None
        self.saliency_bar.setVisible(True)
        targets, preds = np.asarray(result.targets), np.asarray(result.predictions)
        members = np.flatnonzero((targets == true_class) & (preds == pred_class))
        self.indices = members
        shown = members[:MAX_IMAGES]
        imgs = images[shown] if len(shown) else images[:0]
        self._images = imgs.numpy() if hasattr(imgs, "numpy") else np.asarray(imgs)
        self._true, self._pred = targets[shown], preds[shown]
        self._probs = np.asarray(result.probabilities)[shown]
        self._names = tuple(result.class_names)
        self._module = module
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(list(layers))
        if layers:
            self.layer.setCurrentIndex(len(layers) - 1)
        self.layer.blockSignals(False)
        names = tuple(html.escape(str(n)) for n in self._names)   # rich text; class names may come from folders
        verdict = "correctly classified" if true_class == pred_class else f"predicted as {names[pred_class]}"
        more = f" (showing the first {MAX_IMAGES})" if len(members) > MAX_IMAGES else ""
        self.title.setText(f"<b>{len(members)} test images of class {names[true_class]} {verdict}</b>{more}")
        self.refresh()

    def _show_masks(self, true_class: int, pred_class: int, result, images) -> None:
        """Segmentation: the images with pixels of `true_class` predicted as `pred_class`, most such pixels first,
        each as image | true mask | predicted mask."""
        t, p = np.asarray(result.targets), np.asarray(result.predictions)
        counts = ((t == true_class) & (p == pred_class)).reshape(len(t), -1).sum(axis=1)
        members = np.flatnonzero(counts)
        members = members[np.argsort(-counts[members], kind="stable")]
        self.indices = members
        shown = members[:MAX_IMAGES]
        imgs = images[shown] if len(shown) else images[:0]
        imgs = imgs.numpy() if hasattr(imgs, "numpy") else np.asarray(imgs)
        self._masks = [mask_panels(imgs[i], t[k], p[k]) for i, k in enumerate(shown)]
        names = tuple(html.escape(str(n)) for n in result.class_names)   # class names may come from folders
        self.saliency_bar.setVisible(False)   # the masks say where: no saliency overlay here
        what = (f"{names[true_class]} pixels labelled correctly" if true_class == pred_class
                else f"{names[true_class]} pixels labelled {names[pred_class]}")
        more = f" (showing the first {MAX_IMAGES})" if len(members) > MAX_IMAGES else ""
        legend = " ".join(f"<span style='color:{mask_colour(c)}'>■</span> {n}" for c, n in enumerate(names))
        self.title.setText(f"<b>{len(members)} test images with {what}</b>, most first{more}: image · true mask · "
                           f"prediction<br>{legend}")
        self.status.setText("")
        self.list.clear()
        image_iou = result.image_iou if result.image_iou is not None else np.full(len(t), np.nan)
        for k, panels in zip(shown, self._masks):
            text = f"#{k}: {counts[k]} px, IoU {image_iou[k]:.2f}"
            item = QListWidgetItem(QIcon(pixmap(image_to_qimage(panels), 3 * ICON_SIZE + 2, ICON_SIZE)), text)
            item.setToolTip(plain_tooltip(f"test image {k}\n{counts[k]} pixels: {html.unescape(what)}\nmean IoU of "
                                          f"this image: {image_iou[k]:.3f}"))
            item.setData(Qt.ItemDataRole.UserRole, int(k))
            self.list.addItem(item)
        self.list.setIconSize(QSize(3 * ICON_SIZE, ICON_SIZE))
        metrics = self.list.fontMetrics()
        self.list.setGridSize(QSize(3 * ICON_SIZE + 16, ICON_SIZE + metrics.lineSpacing() + 16))

    def _show_boxes(self, true_class: int, pred_class: int, result, images) -> None:
        """Localization and detection: the images with an object of `true_class` found as `pred_class` (for
        detection, the last class is "nothing"), worst image first, each as truth | prediction."""
        pairs = np.asarray(result.pairs, dtype=np.int64).reshape(-1, 3)
        chosen = pairs[(pairs[:, 1] == true_class) & (pairs[:, 2] == pred_class), 0]
        members, counts = np.unique(chosen, return_counts=True)
        score = np.asarray(result.image_iou, dtype=np.float64)
        members = members[np.lexsort((-counts, score[members]))]   # the worst box IoU (or F1) first
        self.indices = members
        shown = members[:MAX_IMAGES]
        imgs = images[shown] if len(shown) else images[:0]
        imgs = imgs.numpy() if hasattr(imgs, "numpy") else np.asarray(imgs)
        truth, preds = np.asarray(result.objects_true), np.asarray(result.objects_pred)
        detection = result.task == "detection"
        if detection:
            preds = preds[preds[:, 2] >= SHOW_SCORE]
        names = tuple(result.class_names)
        self._masks = [box_panels(imgs[i], truth[truth[:, 0] == k][:, 1:], preds[preds[:, 0] == k][:, 1:], names)
                       for i, k in enumerate(shown)]
        self.saliency_bar.setVisible(False)   # the boxes say where
        escaped = tuple(html.escape(str(n)) for n in names)   # class names may come from files
        if detection:
            nothing = len(names) - 1
            what = (f"{escaped[true_class]} objects missed" if pred_class == nothing else
                    f"detections of {escaped[pred_class]} where there is nothing" if true_class == nothing else
                    f"{escaped[true_class]} objects found" if true_class == pred_class else
                    f"{escaped[true_class]} objects found as {escaped[pred_class]}")
        else:
            what = (f"class {escaped[true_class]}, classified right" if true_class == pred_class
                    else f"class {escaped[true_class]} classified as {escaped[pred_class]}")
        more = f" (showing the first {MAX_IMAGES})" if len(members) > MAX_IMAGES else ""
        self.title.setText(f"<b>{len(members)} test images with {what}</b>, worst first{more}: true boxes · "
                           f"predicted boxes{' (at least 30% sure)' if detection else ''}")
        self.status.setText("")
        self.list.clear()
        measure = "F1" if detection else "box IoU"
        for k, panel in zip(shown, self._masks):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(panel)), f"#{k}: {measure} {score[k]:.2f}")
            item.setToolTip(plain_tooltip(f"test image {k}\n{measure} of this image: {score[k]:.3f}"))
            item.setData(Qt.ItemDataRole.UserRole, int(k))
            self.list.addItem(item)
        size = self._masks[0].size() if self._masks else QSize(2 * ICON_SIZE, ICON_SIZE)
        self.list.setIconSize(size)
        metrics = self.list.fontMetrics()
        self.list.setGridSize(QSize(size.width() + 16, size.height() + metrics.lineSpacing() + 16))

    @property
    def shown_indices(self) -> list:
        return [int(i) for i in self.indices[:MAX_IMAGES]]

    def refresh(self, *_):
        if self._masks is not None:
            return   # segmentation panels do not change with the saliency settings
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.layer.setEnabled(self.method.currentText() == "Grad-CAM")
        heat = self._saliency()
        idx, probs = top_k(self._probs, 3) if len(self._probs) else (np.zeros((0, 3), int), None)
        self.list.clear()
        alpha = self.opacity.value() / 100.0
        texts = []
        for i, test_index in enumerate(self.indices[:MAX_IMAGES]):
            img = overlay_to_qimage(self._images[i], heat[i], alpha) if heat is not None else image_to_qimage(self._images[i])
            top3 = "  ".join(f"{self._names[c]} {p:.0%}" for c, p in zip(idx[i], probs[i]))
            # one probability a line: on one line, class names longer than a digit were cut
            text = f"#{test_index}: {self._names[self._true[i]]} → {self._names[self._pred[i]]}\n" + \
                "\n".join(f"{self._names[c]} {p:.0%}" for c, p in zip(idx[i], probs[i]))
            texts.append(text)
            item = QListWidgetItem(QIcon(pixmap(img, ICON_SIZE, ICON_SIZE)), text)
            item.setToolTip(plain_tooltip(f"test image {test_index}\ntrue class: {self._names[self._true[i]]}\n"
                                          f"predicted: {self._names[self._pred[i]]}\ntop 3: {top3}"))
            item.setData(Qt.ItemDataRole.UserRole, int(test_index))
            self.list.addItem(item)
        metrics = self.list.fontMetrics()
        widest = max((metrics.horizontalAdvance(line) for t in texts for line in t.split("\n")), default=0)
        lines = max((t.count("\n") + 1 for t in texts), default=1)
        self.list.setGridSize(QSize(max(ICON_SIZE, widest) + 16, ICON_SIZE + lines * metrics.lineSpacing() + 16))

    def _saliency(self):
        method = self.method.currentText()
        if method == "No overlay" or self._module is None or not len(self._images):
            self.status.setText("")
            return None
        try:
            if method == "Grad-CAM":
                layer = self.layer.currentText()
                if not layer:
                    self.status.setText("Grad-CAM needs a layer with feature maps; this network has none.")
                    return None
                heat = grad_cam(self._module, self._images, layer, self._pred)
                self.status.setText(f"Grad-CAM of {layer} for the predicted class: red regions raised its score.")
            else:
                heat = input_gradient_saliency(self._module, self._images, self._pred)
                self.status.setText("Input-gradient saliency for the predicted class: bright pixels change its "
                                    "score the most.")
        except (ValueError, RuntimeError) as exc:
            self.status.setText(f"Cannot compute {method}: {exc}")
            return None
        return heat


class GalleryDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Test images")
        self.gallery = ErrorGallery()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.gallery)
        layout.addWidget(buttons)
        self.resize(760, 560)
