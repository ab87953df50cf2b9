"""Tab 2 of the playground: a real image, a kernel (hand-made or learned by the design's first convolution)
and the feature map it produces, side by side."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.teaching.playground_grid import GridView
from designer.teaching.playground_image_view import ImageMapView
from designer.teaching.playground_widgets import MessageLabel, spin, titled
from engine.teaching.kernels import apply_kernel, first_conv, preset_description, preset_kernel, preset_names
from engine.teaching.playground import format_number

LEARNED = "learned"


class ImageTab(QWidget):
    """`image` is the chosen image (C×H×W), `feature_map` the kernel's output on it (2-D) or None."""

    map_changed = Signal()

    def __init__(self, training=None, parent=None):
        super().__init__(parent)
        self.training = training   # the training dashboard (probe image, data set, learned filters), or None
        self.image = None
        self.feature_map = None
        self._fallback = None        # generated digits, made once when no data set is loaded
        self._build()

    def _build(self):
        self.source = QComboBox()
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.source.setToolTip("Where the image comes from: the Training dashboard's probe image or data set "
                               "(load one there), or a few generated digits")
        self.index = spin(0, 0, 0, "Which image of the set")
        self.index.setPrefix("image #")
        self.kernel_choice = QComboBox()
        self.kernel_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for name in preset_names():
            self.kernel_choice.addItem(name, name)
        self.kernel_choice.setCurrentText("Sobel: vertical")
        self.filter_index = spin(0, 0, 0, "Which filter of the first convolution")
        self.filter_index.setPrefix("filter #")
        self.kernel_choice.setToolTip("A hand-made kernel, or a filter the design's first convolution learned")
        self.stride = spin(1, 8, 1, "How many pixels the kernel moves at each step")
        self.padding = spin(0, 8, 1, "Rings of zeros added around the image")
        bar = QHBoxLayout()
        for label, w in (("Image", self.source), ("", self.index), ("Kernel", self.kernel_choice),
                         ("", self.filter_index), ("Stride", self.stride), ("Padding", self.padding)):
            if label:
                bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addStretch(1)
        self.image_view = ImageMapView()
        self.kernel_grid = GridView()
        self.map_view = ImageMapView()
        self.image_title, self.kernel_title, self.map_title = QLabel("Image"), QLabel("Kernel"), QLabel("Feature map")
        views = QHBoxLayout()
        views.addWidget(titled(self.image_title, self.image_view), 3)
        views.addWidget(titled(self.kernel_title, self.kernel_grid), 2)
        views.addWidget(titled(self.map_title, self.map_view), 3)
        self.info = MessageLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(views, 1)
        layout.addWidget(self.info)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.index.valueChanged.connect(lambda *_: self.refresh())
        self.kernel_choice.currentIndexChanged.connect(self._kernel_changed)
        for box in (self.filter_index, self.stride, self.padding):
            box.valueChanged.connect(lambda *_: self.refresh())

    # ---- what the training dashboard offers ----------------------------------------------------------
    def _dashboard(self):
        return self.training

    def _dataset(self):
        dash = self._dashboard()
        return getattr(getattr(dash, "data", None), "dataset", None) if dash is not None else None

    def update_sources(self) -> None:
        """List the images at hand (the dashboard's probe and data set, else generated digits) and whether
        the design has a first convolution to borrow filters from."""
        keep = self.source.currentData()
        options = []
        dash, data = self._dashboard(), self._dataset()
        if dash is not None and dash.current_probe() is not None:
            options.append(("Probe image", "probe"))
        if data is not None and len(data.test):
            options.append((f"Test set: {data.info.title}", "dataset"))
        if data is None:
            options.append(("Sample digits", "digits"))
        self.source.blockSignals(True)
        self.source.clear()
        for text, key in options:
            self.source.addItem(text, key)
        i = self.source.findData(keep)
        self.source.setCurrentIndex(i if i >= 0 else 0)
        self.source.blockSignals(False)
        self._update_learned_entry()
        self._source_changed()

    def _update_learned_entry(self):
        conv = self._learned_conv()
        i = self.kernel_choice.findData(LEARNED)
        if conv is None:
            if i >= 0:
                if self.kernel_choice.currentData() == LEARNED:
                    self.kernel_choice.setCurrentText("Sobel: vertical")
                self.kernel_choice.removeItem(i)
            return
        text = f"Learned by {conv.name}"
        if i < 0:
            self.kernel_choice.addItem(text, LEARNED)
        else:
            self.kernel_choice.setItemText(i, text)
        self.filter_index.setMaximum(conv.filters - 1)

    def _learned_conv(self):
        dash = self._dashboard()
        module = dash.current_module() if dash is not None else None
        if module is None:
            return None
        try:
            return first_conv(module)
        except ValueError:
            return None

    def _source_changed(self, *_):
        key, data = self.source.currentData(), self._dataset()
        count = {"dataset": len(data.test) if data is not None else 1, "digits": 8}.get(key, 1)
        self.index.blockSignals(True)
        self.index.setMaximum(max(0, count - 1))
        self.index.blockSignals(False)
        self.index.setVisible(key in ("dataset", "digits"))
        self.refresh()

    def _kernel_changed(self, *_):
        learned = self.kernel_choice.currentData() == LEARNED
        self.filter_index.setVisible(learned)
        if learned:  # start from the layer's own stride and padding, so the map is the one the network makes
            conv = self._learned_conv()
            if conv is not None:
                for box, value in ((self.stride, conv.stride[0]), (self.padding, conv.padding[0])):
                    box.blockSignals(True)
                    box.setValue(value)
                    box.blockSignals(False)
        self.refresh()

    def current_image(self):
        key, i = self.source.currentData(), self.index.value()
        if key == "probe":
            return self._dashboard().current_probe()
        if key == "dataset":
            data = self._dataset()
            return data.test.images[min(i, len(data.test) - 1)].numpy() if data is not None else None
        if self._fallback is None:
            from engine.teaching.kernels import sample_digits
            self._fallback = sample_digits(8)
        return self._fallback[min(i, len(self._fallback) - 1)]

    # ---- computing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the feature map of the chosen kernel on the chosen image and show all three."""
        self.filter_index.setVisible(self.kernel_choice.currentData() == LEARNED)
        self.image = self.current_image()
        if self.image is None:
            self._fail("No image yet: load a data set in the Training dashboard.")
            return
        c, h, w = self.image.shape
        self.image_view.set_image(self.image)
        self.image_title.setText(f"Image {h}×{w}" + (f", {c} channels (shown in colour; hand-made kernels "
                                                     f"read their mean)" if c > 1 else ""))
        try:
            kernel, bias, dilation, shown, note = self._kernel()
            fmap = apply_kernel(self.image, kernel, self.stride.value(), self.padding.value(), dilation, bias)
        except ValueError as exc:
            self._fail(str(exc)[0].upper() + str(exc)[1:])
            return
        self.kernel_grid.set_values(shown)
        self.kernel_title.setText(f"Kernel {shown.shape[0]}×{shown.shape[1]}")
        self.feature_map = fmap
        self.map_view.set_map(fmap)
        self.map_title.setText(f"Feature map {fmap.shape[0]}×{fmap.shape[1]}")
        negative = float((fmap < 0).mean())
        self.info.show_text(f"{note} The feature map ranges from {format_number(fmap.min())} to "
                            f"{format_number(fmap.max())}; {negative:.0%} of its cells are negative "
                            f"(blue), which a following ReLU would set to zero.")
        self.map_changed.emit()

    def _kernel(self):
        """(kernel to apply, bias, dilation, 2-D kernel to show, a sentence about it)."""
        choice = self.kernel_choice.currentData()
        if choice != LEARNED:
            k = preset_kernel(choice)
            return k, 0.0, 1, k, f"{choice}: {preset_description(choice)}."
        conv = self._learned_conv()
        if conv is None:
            raise ValueError("the design has no convolution to borrow a filter from, or it has errors")
        i = min(self.filter_index.value(), conv.filters - 1)
        weight, bias = conv.weight[i], (0.0 if conv.bias is None else float(conv.bias[i]))
        trained = self._dashboard().has_trained_weights()
        state = "trained" if trained else "untrained (random: train the design to see what it learns)"
        channels = (f" The grid shows the mean of its {weight.shape[0]} input-channel kernels; the map uses all "
                    f"of them." if weight.shape[0] > 1 else "")
        return weight, bias, conv.dilation, weight.mean(axis=0), (f"Filter #{i} of {conv.name}, {state}, bias "
                                                   f"{format_number(bias, 3)}.{channels}")

    def _fail(self, text: str):
        self.feature_map = None
        self.map_view.clear("No feature map")
        self.info.show_text(text, error=True)
        self.map_changed.emit()

    def showEvent(self, event):
        super().showEvent(event)
        self.update_sources()  # the data set, probe or design may have changed while hidden
