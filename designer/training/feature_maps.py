"""Feature maps of the selected layer for a probe image, live during training, with a time-lapse over
epochs; clicking a map pixel outlines its receptive field on the probe image."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSlider, QSpinBox,
                               QVBoxLayout, QWidget)

from engine.insight.receptive import receptive_box
from designer.training.images import image_to_qimage, map_to_qimage
from designer.training.tiles import TileGrid


class ProbeView(QWidget):
    """The probe image, scaled up with crisp pixels, and an optional receptive-field box."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._image = None
        self.box = None  # engine.insight.receptive.Box
        self.setMinimumSize(80, 80)   # small enough for the bottom row of a 720-pixel-high window
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_image(self, image: np.ndarray | None) -> None:
        self._image = None if image is None else image_to_qimage(image)
        self.update()

    def set_box(self, box) -> None:
        self.box = box
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(180, 180)

    def paintEvent(self, _event):
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "No probe image yet: press Load in the Training panel's data set, or Start")
            return
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        target = QRect(int((self.width() - w * scale) / 2), int((self.height() - h * scale) / 2),
                       int(w * scale), int(h * scale))
        p.drawImage(target, self._image)
        if self.box is not None:
            b = self.box
            p.setPen(QPen(QColor("#ff2a2a"), 2))
            p.fillRect(QRect(target.x() + int(b.left * scale), target.y() + int(b.top * scale),
                             int(b.width * scale), int(b.height * scale)), QColor(255, 42, 42, 50))
            p.drawRect(QRect(target.x() + int(b.left * scale), target.y() + int(b.top * scale),
                             int(b.width * scale), int(b.height * scale)))
        p.end()


class FeatureMapsView(QWidget):
    """Shows one layer's activations as a grid of tiles, one per channel."""

    probe_index_changed = Signal(int)     # a test-set image was chosen as probe
    probe_file_requested = Signal()       # "From file…" clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph = None
        self.analysis = None
        self.node_id = ""
        self._why_empty = ""               # why the selected layer has no maps (e.g. "not connected")
        self._current = {}                 # node id -> array, what is on screen
        self._probe_image = None
        self._live = {}                    # latest live activations
        self._live_label = ""
        self._live_trained = True          # False: the live maps come from random, untrained weights
        self._epochs: list = []            # end-of-epoch snapshots for the time-lapse
        self._shown_label = ""             # which weights the tiles on screen come from
        self._render_pending = False       # new data arrived while this view was hidden
        self.title = QLabel("Select a layer on the canvas to see its feature maps.")
        self.title.setWordWrap(True)
        self.probe = ProbeView()
        self.rf_text = QLabel("Click a pixel of a feature map to outline what it sees on the input.")
        self.rf_text.setWordWrap(True)
        self.probe_index = QSpinBox()
        self.probe_index.setPrefix("test image #")
        self.probe_index.setRange(0, 0)
        self.probe_index.setToolTip("The test image fed through the network for these feature maps")
        self.probe_index.editingFinished.connect(lambda: self.probe_index_changed.emit(self.probe_index.value()))
        from_file = QPushButton("From file…")
        from_file.clicked.connect(self.probe_file_requested)
        self.timelapse = QSlider(Qt.Orientation.Horizontal)
        self.timelapse.setRange(0, 0)
        self.timelapse.setToolTip("Time-lapse: the feature maps at the end of each epoch; far right is live")
        self.timelapse.setMinimumWidth(120)   # in a narrow dock it shrank to its handle and could not be dragged
        self.timelapse.valueChanged.connect(self._timelapse_moved)
        # Which weights the tiles come from ("live: epoch 2, step 140"). It changes with every snapshot, so it
        # has a fixed width: a label that resizes would re-lay out and repaint the whole dock each time.
        self.timelapse_label = QLabel("live")
        self.timelapse_label.setFixedWidth(self.timelapse_label.fontMetrics().horizontalAdvance("m") * 14)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(32, 200)
        self.zoom.setValue(80)
        self.zoom.setToolTip("Tile size")
        self.zoom.setMaximumWidth(100)   # leave the width to the time-lapse slider
        self.grid = TileGrid(tile_size=80)
        self.grid.tile_clicked.connect(self._pixel_clicked)
        self.zoom.valueChanged.connect(self.grid.set_tile_size)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)

        left = QVBoxLayout()
        left.addWidget(QLabel("Probe image"))
        left.addWidget(self.probe, 1)
        left.addWidget(self.probe_index)
        left.addWidget(from_file)
        left.addWidget(self.rf_text)
        top = QHBoxLayout()
        top.addWidget(QLabel("Epoch"))
        top.addWidget(self.timelapse, 1)
        top.addWidget(self.timelapse_label)
        top.addSpacing(12)
        top.addWidget(QLabel("Size"))
        top.addWidget(self.zoom)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(top)
        right.addWidget(scroll, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(left, 1)
        layout.addLayout(right, 3)

    # ---- inputs ----------------------------------------------------------------------------------
    def set_graph(self, graph, analysis) -> None:
        """The graph the activations come from (a run's snapshot), for receptive-field mapping."""
        self.graph, self.analysis = graph, analysis
        self.probe.set_box(None)

    def set_probe_count(self, count: int) -> None:
        self.probe_index.setRange(0, max(0, count - 1))

    def set_node(self, node_id: str, why_empty: str = "") -> None:
        """Show `node_id`'s maps; `why_empty` (e.g. "not connected: …") shows instead of any maps held for
        that id, which may belong to another layer that had the same id."""
        self.node_id = node_id or ""
        self._why_empty = why_empty if self.node_id else ""
        self.probe.set_box(None)
        self.rf_text.setText("Click a pixel of a feature map to outline what it sees on the input.")
        self.grid.marker = None
        self._render()

    def show_live(self, activations: dict, probe_image, label: str, trained: bool = True) -> None:
        """New activations from training or from the current weights; shown unless scrubbing back in time.
        `trained=False`: they come from random starting weights, and the title says the layer is not trained."""
        self._live, self._live_label, self._live_trained = activations, label, trained
        if probe_image is not None:
            self._probe_image = probe_image
            self.probe.set_image(probe_image)
        if self.timelapse.value() == self.timelapse.maximum():
            self._current, self._shown_label = activations, label
            self._show_source(f"live: {label}")
            self._render()

    def add_epoch_snapshot(self, snapshot) -> None:
        """An end-of-epoch ActivationSnapshot for the time-lapse."""
        at_end = self.timelapse.value() == self.timelapse.maximum()
        self._epochs.append(snapshot)
        self.timelapse.blockSignals(True)
        self.timelapse.setRange(0, len(self._epochs))   # the last position is "live"
        if at_end:
            self.timelapse.setValue(len(self._epochs))
        self.timelapse.blockSignals(False)

    def clear(self) -> None:
        """Forget every map, the time-lapse and the probe image: another design is open."""
        self._live, self._live_label, self._current, self._shown_label = {}, "", {}, ""
        self._probe_image = None
        self.probe.set_image(None)
        self.graph = self.analysis = None
        self.clear_timelapse()
        self._show_source("live")
        self.set_node("")

    def shown_maps(self) -> dict:
        """node id -> activations that the tiles draw from now (tests and teaching panels read it)."""
        return dict(self._current)

    def clear_timelapse(self) -> None:
        self._epochs = []
        self.timelapse.blockSignals(True)
        self.timelapse.setRange(0, 0)
        self.timelapse.blockSignals(False)
        self.timelapse_label.setText("live")

    @property
    def epoch_snapshots(self) -> list:
        return list(self._epochs)

    # ---- rendering -------------------------------------------------------------------------------
    def _timelapse_moved(self, value: int) -> None:
        if value >= len(self._epochs):
            self._current, self._shown_label = self._live, self._live_label
            self._show_source(f"live: {self._live_label}" if self._live_label else "live")
        else:
            snap = self._epochs[value]
            self._current = snap.activations
            self._shown_label = f"end of epoch {snap.epoch + 1}"
            self._show_source(self._shown_label)
            if snap.probe_image is not None:
                self.probe.set_image(snap.probe_image)
        self._render()

    def _show_source(self, text: str) -> None:
        fm = self.timelapse_label.fontMetrics()
        self.timelapse_label.setText(fm.elidedText(text, Qt.TextElideMode.ElideRight, self.timelapse_label.width()))
        self.timelapse_label.setToolTip(f"Feature maps of the weights at {text}" if text != "live" else "")

    def showEvent(self, event):
        super().showEvent(event)
        if self._render_pending:
            self._render()

    def _render(self) -> None:
        # A hidden tab or dock draws nothing: converting maps to images would only steal CPU from training.
        if not self.isVisible():
            self._render_pending = True
            return
        self._render_pending = False
        node = self.node_id
        data = self._current.get(node) if node and not self._why_empty else None
        if not node:
            self.title.setText("Select a layer on the canvas to see its feature maps.")
            self.grid.set_tiles([])
            return
        if self._why_empty:
            self.title.setText(html.escape(f"{node}: {self._why_empty}"))  # ids and messages come from files
            self.grid.set_tiles([])
            return
        if data is None:
            self.title.setText(f"{node}: no feature maps yet. They appear once a data set is loaded (for the probe "
                               f"image) or training starts.")
            self.grid.set_tiles([])
            return
        a = np.asarray(data, dtype=np.float32)
        if a.ndim == 3:
            images = [map_to_qimage(ch) for ch in a]
            captions = [f"#{i}  {ch.min():.2g}…{ch.max():.2g}" for i, ch in enumerate(a)]
            tips = [f"channel {i}: min {ch.min():.4g}, max {ch.max():.4g}, mean {ch.mean():.4g}"
                    for i, ch in enumerate(a)]
            shape = f"{a.shape[0]} channels of {a.shape[1]}×{a.shape[2]}"
        else:
            flat = a.reshape(-1)
            side = int(np.ceil(np.sqrt(flat.size)))
            padded = np.full(side * side, np.nan, np.float32)
            padded[:flat.size] = flat
            images = [map_to_qimage(np.nan_to_num(padded.reshape(side, side), nan=float(flat.min())),
                                    float(flat.min()), float(flat.max()))]
            captions = [f"{flat.min():.2g}…{flat.max():.2g}"]   # the count is in the title; tiles are narrow
            tips = [f"{flat.size} values drawn row by row: min {flat.min():.4g}, max {flat.max():.4g}, "
                    f"mean {flat.mean():.4g}"]
            shape = f"{flat.size} values (flat)"
        self.grid.set_tiles(images, captions, tips)
        how = ("Each tile is one channel, coloured from its own minimum (dark) to maximum (yellow)." if a.ndim == 3
               else "A flat vector has no channels or positions: its values are drawn row by row in one tile, "
                    "from the minimum (dark) to the maximum (yellow).")
        live = self.timelapse.value() >= len(self._epochs)
        untrained = "<br><i>Not trained yet: these come from the random starting weights.</i>" \
            if live and not self._live_trained else ""
        self.title.setText(f"<b>{node}</b>: {shape}<br>{how}{untrained}")

    def _pixel_clicked(self, tile: int, row: int, col: int) -> None:
        a = self._current.get(self.node_id)
        if a is None or np.asarray(a).ndim != 3 or self.graph is None:
            return
        try:
            box = receptive_box(self.graph, self.node_id, row, col, self.analysis)
        except (ValueError, KeyError) as exc:
            self.rf_text.setText(str(exc))
            return
        self.probe.set_box(box)
        value = float(np.asarray(a)[tile, row, col])
        self.rf_text.setText(f"Channel {tile} at row {row}, column {col} (value {value:.3g}) sees input rows "
                             f"{box.top}–{box.bottom}, columns {box.left}–{box.right} "
                             f"({box.height}×{box.width} pixels).")
