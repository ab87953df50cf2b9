"""The hyper-parameters of TrainConfig as a form, with TrainConfig's own defaults."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget)

from engine.training.config import DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig


class ConfigForm(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.optimizer = _combo(OPTIMIZERS, "sgd: plain gradient descent with momentum; adam/adamw: adaptive steps")
        self.lr = _double(1e-6, 10, 5, 1e-4, "Learning rate: the size of each step")
        self.momentum = _double(0, 1, 3, 0.05, "SGD momentum")
        self.weight_decay = _double(0, 1, 5, 1e-4, "L2 penalty on the weights (regularization)")
        self.schedule = _combo(SCHEDULES, "How the learning rate changes during training")
        self.step_size = _int(1, 10000, "step schedule: epochs between learning-rate cuts")
        self.gamma = _double(0.01, 1, 3, 0.05, "step schedule: factor applied at each cut")
        self.batch_size = _int(1, 65536, "Images per training step")
        self.epochs = _int(1, 100000, "Passes over the training images")
        self.val_fraction = _double(0, 0.9, 2, 0.05, "Share of the training images held out for validation")
        self.seed = _int(0, 2**31 - 1, "Random seed: the same seed repeats the same run")
        self.device = _combo(DEVICES, "auto: GPU when there is one, else the CPU")
        self.mixed_precision = QCheckBox("Mixed precision (GPU only)")
        self.grad_clip = _double(0, 1000, 2, 0.5, "Clip the gradient norm to this value (0 = off)")
        self.dice_weight = _double(0, 10, 2, 0.25, "Segmentation only: add this much of the soft Dice loss to the "
                                                   "per-pixel cross-entropy; helps classes with few pixels (0 = off)")
        self.patience = _int(0, 10000, "Stop when validation loss has not improved for this many epochs (0 = off)")
        self.snapshot_every = _int(-1, 1_000_000, "Steps between live feature-map snapshots (0 = automatic, "
                                                  "-1 = never)")
        self.freeze = QLineEdit()
        self.freeze.setPlaceholderText("layer ids or module paths, e.g. conv2d_1, layer1")
        self.freeze.setToolTip("Layers whose weights stay fixed (transfer learning)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # fields go under labels in a narrow dock
        for label, w in (("Optimizer", self.optimizer), ("Learning rate", self.lr), ("Momentum", self.momentum),
                         ("Weight decay", self.weight_decay), ("LR schedule", self.schedule),
                         ("Step every (epochs)", self.step_size), ("Step factor", self.gamma),
                         ("Batch size", self.batch_size), ("Epochs", self.epochs),
                         ("Validation share", self.val_fraction), ("Seed", self.seed), ("Device", self.device),
                         ("", self.mixed_precision), ("Gradient clip", self.grad_clip),
                         ("Dice weight", self.dice_weight),
                         ("Early stopping", self.patience), ("Snapshot every", self.snapshot_every),
                         ("Freeze", self.freeze)):
            form.addRow(label, w)
        self.schedule.currentTextChanged.connect(self._schedule_changed)
        self.optimizer.currentTextChanged.connect(lambda t: self.momentum.setEnabled(t == "sgd"))
        self.set_config(TrainConfig())

    def _schedule_changed(self, text):
        self.step_size.setEnabled(text == "step")
        self.gamma.setEnabled(text == "step")

    def set_config(self, c: TrainConfig) -> None:
        self.optimizer.setCurrentText(c.optimizer)
        self.lr.setValue(c.lr)
        self.momentum.setValue(c.momentum)
        self.weight_decay.setValue(c.weight_decay)
        self.schedule.setCurrentText(c.schedule)
        self.step_size.setValue(c.step_size)
        self.gamma.setValue(c.gamma)
        self.batch_size.setValue(c.batch_size)
        self.epochs.setValue(c.epochs)
        self.val_fraction.setValue(c.val_fraction)
        self.seed.setValue(min(c.seed, 2**31 - 1))
        self.device.setCurrentText(c.device if c.device in DEVICES else "auto")
        self.mixed_precision.setChecked(c.mixed_precision)
        self.grad_clip.setValue(c.grad_clip)
        self.dice_weight.setValue(c.dice_weight)
        self.patience.setValue(c.early_stopping_patience)
        self.snapshot_every.setValue(max(-1, c.snapshot_every))
        self.freeze.setText(", ".join(c.freeze))
        self._schedule_changed(c.schedule)
        self.momentum.setEnabled(c.optimizer == "sgd")

    def config(self, base: TrainConfig | None = None) -> TrainConfig:
        """The TrainConfig the form describes; raises ValueError with TrainConfig's message when invalid."""
        freeze = tuple(s.strip() for s in self.freeze.text().replace(";", ",").split(",") if s.strip())
        return replace(base or TrainConfig(), optimizer=self.optimizer.currentText(), lr=self.lr.value(),
                       momentum=self.momentum.value(), weight_decay=self.weight_decay.value(),
                       schedule=self.schedule.currentText(), step_size=self.step_size.value(),
                       gamma=self.gamma.value(), batch_size=self.batch_size.value(), epochs=self.epochs.value(),
                       val_fraction=self.val_fraction.value(), seed=self.seed.value(),
                       device=self.device.currentText(), mixed_precision=self.mixed_precision.isChecked(),
                       grad_clip=self.grad_clip.value(), early_stopping_patience=self.patience.value(),
                       dice_weight=self.dice_weight.value(),
                       snapshot_every=self.snapshot_every.value(), freeze=freeze)


def _combo(items, tip):
    w = QComboBox()
    w.addItems(list(items))
    w.setToolTip(tip)
    return w


def _double(lo, hi, decimals, step, tip):
    w = QDoubleSpinBox()
    w.setDecimals(decimals)
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setToolTip(tip)
    return w


def _int(lo, hi, tip):
    w = QSpinBox()
    w.setRange(lo, hi)
    w.setToolTip(tip)
    return w
