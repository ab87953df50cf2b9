"""Training settings: one frozen, JSON-serializable TrainConfig shared by the GUI, the command line and
exported scripts. Every field is validated on construction, so a bad value fails with a clear message
before any training starts."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_FREEZE = 20000   # as many as a design has layers (engine.graph_io.MAX_NODES)


def _check_number(name, value, low=None, high=None, integer=False, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{name} must be {kind}, got {_shown(value)}")
    # isfinite() of a 400-digit integer raises OverflowError; a whole number is finite, only its size matters
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if isinstance(value, int) and abs(value) > 2**63:
        raise ValueError(f"{name} must be at most {high if high is not None else 2**63}, got {_shown(value)}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'greater than' if low_open else 'at least'} {low}, got {_shown(value)}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be at most {high}, got {_shown(value)}")


def _shown(value) -> str:
    """A value from a file, for a message: never 400 digits or a page of text."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to each training batch (never to validation or test data).

    crop_padding: pad by this many pixels, then crop back at a random position (0 = off).
    hflip: mirror left-right with probability 0.5 (wrong for digits, right for most photos).
    rotation: random rotation in degrees, +/- this value. affine_translate: random shift as a fraction
    of the image size. affine_scale: random zoom, +/- this fraction. color_jitter: random brightness,
    contrast and saturation, +/- this fraction. erasing: probability of erasing a random rectangle.
    """

    crop_padding: int = 0
    hflip: bool = False
    rotation: float = 0.0
    affine_translate: float = 0.0
    affine_scale: float = 0.0
    color_jitter: float = 0.0
    erasing: float = 0.0

    def __post_init__(self):
        _check_number("augmentation.crop_padding", self.crop_padding, 0, 64, integer=True)
        if not isinstance(self.hflip, bool):
            raise ValueError(f"augmentation.hflip must be true or false, got {_shown(self.hflip)}")
        _check_number("augmentation.rotation", self.rotation, 0, 180)
        _check_number("augmentation.affine_translate", self.affine_translate, 0, 0.5)
        _check_number("augmentation.affine_scale", self.affine_scale, 0, 0.9)
        _check_number("augmentation.color_jitter", self.color_jitter, 0, 1)
        _check_number("augmentation.erasing", self.erasing, 0, 1)

    @property
    def enabled(self) -> bool:
        return any((self.crop_padding, self.hflip, self.rotation, self.affine_translate, self.affine_scale,
                    self.color_jitter, self.erasing))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "Augmentation":
        return _from_dict(cls, data, "augmentation")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a network is trained.

    device "auto" picks CUDA, then Apple MPS, then the CPU. mixed_precision applies on CUDA only.
    grad_clip 0 and early_stopping_patience 0 mean off. freeze lists node ids whose parameters stay
    fixed (transfer learning). snapshot_every: steps between activation snapshots (0 = automatic,
    a negative value = never). report_every: steps between StepMetrics events (0 = automatic).
    data_size: number of images for generated data sets (None = the data set's default).
    dice_weight: segmentation only; adds dice_weight × (1 − soft Dice score, averaged over the classes) to the
    per-pixel cross-entropy, which helps small classes that cross-entropy counts by their few pixels (0 = off).
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int = 1
    gamma: float = 0.5
    batch_size: int = 64
    epochs: int = 3
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    grad_clip: float = 0.0
    early_stopping_patience: int = 0
    augmentation: Augmentation = field(default_factory=Augmentation)
    freeze: tuple = ()
    snapshot_every: int = 0
    data_size: int | None = None
    report_every: int = 0
    dice_weight: float = 0.0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {_shown(self.optimizer)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {_shown(self.schedule)}")
        if not isinstance(self.device, str) or not (self.device in DEVICES or re.fullmatch(r"(cuda|mps):\d{1,3}",
                                                                                            self.device)):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {_shown(self.device)}")
        _check_number("lr (learning rate)", self.lr, 0, 10, low_open=True)
        _check_number("momentum", self.momentum, 0, 1)
        _check_number("weight_decay", self.weight_decay, 0, 1)
        _check_number("step_size", self.step_size, 1, 10000, integer=True)
        _check_number("gamma", self.gamma, 0, 1, low_open=True)
        _check_number("batch_size", self.batch_size, 1, 65536, integer=True)
        _check_number("epochs", self.epochs, 1, 100000, integer=True)
        _check_number("val_fraction", self.val_fraction, 0, 0.9)
        _check_number("seed", self.seed, 0, 2**63 - 1, integer=True)
        _check_number("grad_clip", self.grad_clip, 0)
        _check_number("early_stopping_patience", self.early_stopping_patience, 0, 10000, integer=True)
        _check_number("snapshot_every", self.snapshot_every, integer=True)
        _check_number("report_every", self.report_every, 0, integer=True)
        _check_number("dice_weight", self.dice_weight, 0, 10)
        if self.data_size is not None:
            _check_number("data_size", self.data_size, 10, 10_000_000, integer=True)
        if not isinstance(self.mixed_precision, bool):
            raise ValueError(f"mixed_precision must be true or false, got {_shown(self.mixed_precision)}")
        if isinstance(self.augmentation, dict):
            object.__setattr__(self, "augmentation", Augmentation.from_dict(self.augmentation))
        if not isinstance(self.augmentation, Augmentation):
            raise ValueError("augmentation must be an Augmentation or a dict of its fields")
        if (isinstance(self.freeze, str) or len(self.freeze) > MAX_FREEZE
                or not all(isinstance(n, str) and len(n) <= 250 for n in self.freeze)):
            raise ValueError(f"freeze must be a list of at most {MAX_FREEZE} layer ids or module paths, got "
                             f"{_shown(self.freeze)}")
        object.__setattr__(self, "freeze", tuple(self.freeze))

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["augmentation"] = self.augmentation.to_dict()
        d["freeze"] = list(self.freeze)
        return d

    @classmethod
    def from_dict(cls, data: object) -> "TrainConfig":
        return _from_dict(cls, data, "training config")


def _from_dict(cls, data, what):
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known, key=str)
    if unknown:
        raise ValueError(f"{what} has unknown field(s) {_shown(', '.join(map(str, unknown)))}; known fields: "
                         f"{', '.join(sorted(known))}")
    values = dict(data)
    if "freeze" in values and isinstance(values["freeze"], list):
        values["freeze"] = tuple(values["freeze"])
    # JSON has no int/float distinction for whole floats such as 1.0; accept them for float fields.
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{what}: {exc}") from None
