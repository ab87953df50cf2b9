"""Data-set picker with sample images and class names, and the augmentation settings with a live preview."""
from __future__ import annotations

import threading
import time

import numpy as np
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from designer import dialogs
from engine.data import DatasetError, list_datasets, load_dataset
from engine.data.folder import unreadable_summary
from engine.training.augment import augment_batch
from engine.training.config import Augmentation
from designer.training.background import BackgroundCall
from designer.training.images import image_to_qimage
from designer.training.tiles import TileGrid

PREVIEW_COUNT = 8


FOLDER_SETS = ("folder", "mask_folder", "box_folder", "box_folder_single")   # read from a folder the person chooses
_CLASSES_FROM = {"mask_folder": "from classes.txt, or numbered", "box_folder": "from classes.txt, or boxes.csv",
                 "box_folder_single": "from classes.txt, or boxes.csv"}
_FOLDER_TITLE = {"mask_folder": "Folder with images/ and masks/", "box_folder": "Folder with images/ and boxes.csv",
                 "box_folder_single": "Folder with images/ and boxes.csv"}


class LoadCancelled(Exception):
    """Raised inside a load's progress report once the load was cancelled (Cancel, or the window closing)."""


PROGRESS_EVERY = 0.25   # seconds between progress messages of a load


class DatasetPanel(QWidget):
    """Choose and load a data set; `dataset` holds the loaded one (read-only from then on)."""

    dataset_loaded = Signal(object)   # engine.data.Dataset
    load_failed = Signal(str)         # the message (also sent through status)
    status = Signal(str)
    progress_text = Signal(str)       # from the loading thread: how far the load is (for the Training panel)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dataset = None
        self._sample_tiles = ([], [])  # (images, labels) of the loaded set, shown while it is chosen
        self.folder = ""
        self.input_shape = None        # the design's Input (C,H,W), for adapting the images
        self._loader = BackgroundCall(self)
        self._loader.finished.connect(self._loaded)
        self._loader.failed.connect(self._load_failed)
        self._pending_key = None
        self._cancelled = threading.Event()   # of the load running now; a new load gets a new one
        self._closing = False
        self.choice = QComboBox()
        for info in list_datasets():
            suffix = "" if info.offline else " (needs download)"
            self.choice.addItem(info.title + suffix, info.key)
        self.choice.setToolTip("The images to train on")
        self.choice.currentIndexChanged.connect(self._choice_changed)
        self.size = QSpinBox()
        self.size.setRange(100, 1_000_000)
        self.size.setSingleStep(1000)
        self.size.setValue(10_000)
        self.size.setToolTip("How many images to generate (generated data sets only)")
        self.adapt = QCheckBox("Fit images to the network's Input")
        self.adapt.setChecked(True)
        self.adapt.setToolTip("Resize the images and convert grey/colour when they do not match the Input layer")
        self.folder_button = QPushButton("Folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.data_mode = QComboBox()
        self.data_mode.setObjectName("data_mode")
        for text, mode in (("Memory or disk, as they fit", "auto"), ("Hold the images in memory", "memory"),
                           ("Read them from disk while training", "stream"),
                           ("Decode once into a cache on disk", "cache")):
            self.data_mode.addItem(text, mode)
        self.data_mode.setToolTip("Images held in memory train fastest; read from disk batch by batch, memory stays "
                                  "flat however large the folder. The first streams only when they would not fit "
                                  "the memory limit. The cache decodes every image once into a file on disk (one "
                                  "byte per value) that later epochs and runs read without decoding.")
        self.stop_unreadable = QCheckBox("Stop at images that cannot be read")
        self.stop_unreadable.setToolTip("Unticked, images that cannot be read are left out and listed after the "
                                        "load; ticked, the load stops and names them")
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self._load_clicked)
        self.left_out = QPushButton()
        self.left_out.setObjectName("left_out_files")
        self.left_out.setFlat(True)
        self.left_out.setStyleSheet("QPushButton { text-align: left; text-decoration: underline; }")
        self.left_out.setToolTip("Show which files were left out, and why")
        self.left_out.clicked.connect(self.show_left_out)
        self.left_out.hide()
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.samples = TileGrid(tile_size=48)
        # Two rows so the panel fits a narrow side dock without a horizontal scroll bar.
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(14)
        row = QHBoxLayout()
        row.addWidget(self.size, 1)
        row.addWidget(self.folder_button)
        row.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.choice)
        layout.addLayout(row)
        layout.addWidget(self.adapt)
        layout.addWidget(self.data_mode)
        layout.addWidget(self.stop_unreadable)
        layout.addWidget(self.description)
        layout.addWidget(self.left_out)
        # self.samples is placed by the dashboard, below all the settings (see TrainingDashboard._build_widgets)
        self._choice_changed()

    @property
    def key(self) -> str:
        return self.choice.currentData()

    @property
    def loading(self) -> bool:
        return self._loader.busy

    def select(self, key: str) -> None:
        i = self.choice.findData(key)
        if i >= 0:
            self.choice.setCurrentIndex(i)

    def _choice_changed(self, *_):
        info = {i.key: i for i in list_datasets()}.get(self.key)
        generated = info is not None and info.default_size is not None
        self.size.setVisible(generated)
        if generated:
            self.size.setValue(info.default_size)
        self.folder_button.setVisible(self.key in FOLDER_SETS)
        self.stop_unreadable.setVisible(self.key in FOLDER_SETS)
        self.data_mode.setVisible(self.key == "folder")
        if info is not None:
            classes = ", ".join(info.classes) if info.classes else _CLASSES_FROM.get(self.key, "one per sub-folder")
            self.description.setText(f"{info.description}<br><b>Classes:</b> {classes}")
        # The grid shows the loaded set's images; after choosing another set they would mislead.
        loaded = self.dataset is not None and self.dataset.key == self.key
        self.samples.set_tiles(*(self._sample_tiles if loaded else ([], [])))
        self.samples.setToolTip("" if loaded else "Press Load to see sample images of this data set")
        self.left_out.setVisible(loaded and bool(self.dataset.info.skipped))

    def _choose_folder(self):
        title = _FOLDER_TITLE.get(self.key, "Folder with one sub-folder of images per class")
        path = QFileDialog.getExistingDirectory(self, title)
        if path:
            self.folder = path

    def _load_clicked(self) -> None:
        if self._loader.busy:
            self.cancel_load()
        else:
            self.load()

    def load(self) -> None:
        """Load the chosen data set in a background thread; dataset_loaded follows. While it runs, the Load
        button cancels it."""
        if self._loader.busy or self._closing:   # nothing new once the window closes: it would outlive it
            return
        key, size = self.key, self.size.value() if self.size.isVisible() else None
        root = self.folder or None
        shape, fix = self.input_shape, ("auto" if self.adapt.isChecked() else None)
        unreadable = "stop" if self.stop_unreadable.isChecked() else "skip"
        data_mode = self.data_mode.currentData() if key == "folder" else "auto"
        self._pending_key = key
        self.load_button.setText("Cancel")
        self.load_button.setToolTip("Stop loading this data set")
        self.status.emit(f"Loading {self.choice.currentText()}…")
        cancelled = self._cancelled = threading.Event()
        last = [0.0]

        def progress(_fraction, message):
            # Runs in the loading thread: a cancelled load stops at its next report, and at most a few
            # messages a second reach the window (signals cross threads safely).
            if cancelled.is_set():
                raise LoadCancelled()
            now = time.monotonic()
            if message and now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                self.progress_text.emit(message)

        self._loader.start(lambda: load_dataset(key, size=size, root=root, input_shape=shape, fix=fix,
                                                progress=progress, unreadable=unreadable, data_mode=data_mode))

    def cancel_load(self) -> None:
        """Stop the running load at its next progress report (generated sets, downloads and image folders
        report often; an import of scikit-learn cannot be interrupted)."""
        self._cancelled.set()
        self.load_button.setEnabled(False)   # until the load has stopped

    def cancel(self) -> None:
        """The window is closing: stop the running load and start no other."""
        self._closing = True
        self._cancelled.set()

    def wait(self) -> None:
        self._loader.wait()

    def set_dataset(self, dataset) -> None:
        """Use an already loaded data set (tests, the benchmark, or a caller that loaded it itself)."""
        self.select(dataset.key)
        if dataset.info.default_size is not None:
            self.size.setValue(len(dataset.train) + len(dataset.val) + len(dataset.test))
        self._loaded(dataset)

    def _ready_to_load(self) -> None:
        self.load_button.setText("Load")
        self.load_button.setToolTip("")
        self.load_button.setEnabled(True)

    def _loaded(self, dataset):
        self._ready_to_load()
        self.dataset = dataset
        samples = dataset.sample_images(2 * len(dataset.class_names) if len(dataset.class_names) <= 10 else 24)
        labels = [_label_of(dataset, s) for s in range(len(samples))]
        self._sample_tiles = ([image_to_qimage(s) for s in samples], labels)
        self.samples.set_tiles(*self._sample_tiles)
        self.samples.setToolTip("")
        skipped = dataset.info.skipped
        self.left_out.setText(f"{len(skipped):,} image(s) could not be read and were left out…")
        self.left_out.setVisible(bool(skipped))
        left_out = f"; {len(skipped):,} image(s) that could not be read were left out" if skipped else ""
        if getattr(dataset.train.images, "lazy", False):
            left_out += "; read from disk while training"
        self.status.emit(f"{dataset.info.title}: {len(dataset.train)} training, {len(dataset.val)} validation, "
                         f"{len(dataset.test)} test images of {'×'.join(map(str, dataset.input_shape))}{left_out}")
        self.dataset_loaded.emit(dataset)

    def show_left_out(self) -> None:
        """Every file the loaded image folder left out, with the reason."""
        skipped = self.dataset.info.skipped if self.dataset is not None else ()
        if skipped:
            dialogs.show_details(self, "Images left out",
                                 f"{len(skipped):,} image(s) in the folder could not be read and were left out of "
                                 f"the data set. Remove or replace them, or tick “Stop at images that cannot be "
                                 f"read” to be stopped by them.", unreadable_summary(skipped, shown=len(skipped)))

    def _load_failed(self, exc):
        self._ready_to_load()
        if isinstance(exc, LoadCancelled):
            if not self._closing:   # Cancel pressed (when the window closes, nobody waits for this any more)
                self.status.emit("Loading cancelled.")
            return
        message = exc.message if isinstance(exc, DatasetError) else f"Could not load the data set: {exc}"
        self.status.emit(message)
        self.load_failed.emit(message)


def _label_of(dataset, i):
    # sample_images cycles through the classes in order, so image i shows class i mod classes
    names = dataset.class_names
    return names[i % len(names)] if names else ""


class AugmentationPanel(QGroupBox):
    """Augmentation settings and a preview of the same samples augmented with them, redrawn on change."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Augmentation (training images only)", parent)
        self._source = None        # float N×C×H×W tensor of preview images
        self._seed = 0
        self.crop_padding = _spin(QSpinBox(), 0, 16, 1, "Pad and randomly crop back (pixels)")
        self.hflip = QCheckBox("Mirror left–right")
        self.rotation = _spin(QDoubleSpinBox(), 0, 180, 5, "Random rotation, ± degrees")
        self.translate = _spin(QDoubleSpinBox(), 0, 0.5, 0.05, "Random shift, ± fraction of the size")
        self.scale = _spin(QDoubleSpinBox(), 0, 0.9, 0.05, "Random zoom, ± fraction")
        self.jitter = _spin(QDoubleSpinBox(), 0, 1, 0.05, "Random brightness/contrast/saturation, ± fraction")
        self.erasing = _spin(QDoubleSpinBox(), 0, 1, 0.1, "Probability of erasing a random rectangle")
        form = QFormLayout()
        form.addRow("Crop padding", self.crop_padding)
        form.addRow("", self.hflip)
        form.addRow("Rotation (°)", self.rotation)
        form.addRow("Shift", self.translate)
        form.addRow("Zoom", self.scale)
        form.addRow("Colour jitter", self.jitter)
        form.addRow("Erasing", self.erasing)
        self.preview = TileGrid(tile_size=48)
        again = QPushButton("New random draw")
        again.clicked.connect(self._reseed)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Preview:"))
        layout.addWidget(self.preview)
        layout.addWidget(again)
        for w in (self.crop_padding, self.rotation, self.translate, self.scale, self.jitter, self.erasing):
            w.valueChanged.connect(self._changed)
        self.hflip.toggled.connect(self._changed)

    def augmentation(self) -> Augmentation:
        return Augmentation(self.crop_padding.value(), self.hflip.isChecked(), self.rotation.value(),
                            self.translate.value(), self.scale.value(), self.jitter.value(), self.erasing.value())

    def set_augmentation(self, aug: Augmentation) -> None:
        for w, v in ((self.crop_padding, aug.crop_padding), (self.rotation, aug.rotation),
                     (self.translate, aug.affine_translate), (self.scale, aug.affine_scale),
                     (self.jitter, aug.color_jitter), (self.erasing, aug.erasing)):
            w.setValue(v)
        self.hflip.setChecked(aug.hflip)

    def set_source_images(self, images) -> None:
        """Preview images: float N×C×H×W in 0..1 (a few test images)."""
        self._source = torch.as_tensor(np.asarray(images[:PREVIEW_COUNT], dtype=np.float32))
        self.refresh()

    def _reseed(self):
        self._seed += 1
        self.refresh()

    def _changed(self, *_):
        self.refresh()
        self.changed.emit()

    def refresh(self) -> None:
        if self._source is None or not len(self._source):
            return
        gen = torch.Generator().manual_seed(self._seed)
        with torch.no_grad():
            out = augment_batch(self._source.clone(), self.augmentation(), gen).numpy()
        self.preview.set_tiles([image_to_qimage(x) for x in out])


def _spin(w, lo, hi, step, tip):
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setToolTip(tip)
    return w
