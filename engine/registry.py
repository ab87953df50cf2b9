"""The layer registry: one declarative entry per layer kind.

Each `LayerKind` carries everything the rest of the program needs to know about a kind: its parameter
schema (which drives the inspector and file validation), how many inputs it takes, its shape rule, its
cost rules, how to build the PyTorch module and how to write it as source code. Adding a kind means
adding one `register(LayerKind(...))` call in `engine/layers/`; no GUI code changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence


class ShapeError(Exception):
    """A shape rule's refusal. `fix` is an optional `Fix` the GUI can apply in one step."""

    def __init__(self, message: str, fix: Any = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer kind.

    kind is one of: "int", "float", "bool", "choice", "pair" (two ints, height and width),
    "padding" (a pair, or the word "same"), "text" (plain words, read-only in the inspector), "shape" (1-3 sizes).
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: tuple = ()
    label: str = ""
    # Added after files of its kind existed: written only when not at its default, so those files and the
    # releases that wrote them still read each other's designs.
    added_later: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """Return `value` in canonical form, or raise ValueError saying what is wrong."""
        if self.kind == "int":
            return self._bounded(_as_int(value, self.name))
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{self.name} must be a number, not {_brief(value)}")
            if not math.isfinite(value if isinstance(value, float) else 0.0) or abs(value) > 1e300:
                raise ValueError(f"{self.name} must be a finite number, not {_num(value)}")
            return self._bounded(float(value))
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, not {_brief(value)}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {_brief(value)}")
            return value
        if self.kind == "text":
            return _text(value, self.name, int(self.maximum or TEXT_LIMIT))
        if self.kind == "shape":
            return _shape(value, self.name)
        if self.kind == "padding" and value == "same":
            return "same"
        if self.kind in ("pair", "padding"):
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise ValueError(f"{self.name} must be one number or a pair [height, width]; "
                                     f"got {_brief(list(value))}")
                pair = (_as_int(value[0], self.name), _as_int(value[1], self.name))
            else:
                pair = (_as_int(value, self.name),) * 2
            return tuple(self._bounded(v) for v in pair)
        raise ValueError(f"unknown parameter type {self.kind!r}")

    def _bounded(self, v):
        if self.minimum is not None and v < self.minimum:
            raise ValueError(f"{self.name} must be at least {_num(self.minimum)}; got {_num(v)}")
        if self.maximum is not None and v > self.maximum:
            raise ValueError(f"{self.name} must be at most {_num(self.maximum)}; got {_num(v)}")
        return v

    def to_json(self, value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value


TEXT_LIMIT = 300          # characters of a "text" parameter (names and reasons recorded by an import)
SHAPE_SIDE_LIMIT = 1 << 20


def _text(value, name: str, limit: int) -> str:
    """Plain, printable, bounded text: it comes from files and is shown in panels."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {_brief(value)}")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value):,} characters long; at most {limit} are allowed")
    return "".join(ch if ch.isprintable() else " " for ch in value)


def _shape(value, name: str) -> tuple:
    """A per-sample tensor shape: 1 to 3 positive whole numbers (features, or channels×height×width)."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
        raise ValueError(f"{name} must be a list of 1 to 3 sizes, not {_brief(value)}")
    sides = tuple(_as_int(v, name) for v in value)
    if any(v < 1 or v > SHAPE_SIDE_LIMIT for v in sides):
        raise ValueError(f"{name} sizes must be from 1 to {SHAPE_SIDE_LIMIT:,}; got {_brief(list(sides))}")
    return sides


def _as_int(value, name):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or isinstance(value, float) and not value.is_integer()):  # also NaN and infinity
        raise ValueError(f"{name} must be a whole number, not {_brief(value)}")
    return int(value)


def _num(v):
    """A number as people write it: 2 rather than 2.0; a huge one (from a hostile file) as ~1e400."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v if abs(v) < 10**15 else f"{'-' if v < 0 else ''}~1e{int((abs(v).bit_length() - 1) * 0.30103)}"
    return int(v) if v.is_integer() and abs(v) < 1e15 else v


def _brief(value) -> str:
    """repr() cut to a readable length: a message must stay short whatever a file put in the value."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(_num(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Receptive:
    """How a layer changes the receptive field, per axis: `kernel` input positions seen by one output (the
    effective kernel of a window), `stride` input positions between neighbouring outputs, and `upsample`
    outputs per input position for layers that enlarge the map (transposed convolution, upsampling), which
    put neighbouring outputs a fraction of a step apart.

    `global_` marks layers after which every output sees the whole input (Flatten, global pooling).
    """

    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    global_: bool = False
    upsample: tuple = (1, 1)


IDENTITY_RF = Receptive()


def _no_macs(params, in_shapes, out_shape) -> int:
    return 0


def _identity_rf(params, in_shapes) -> Receptive:
    return IDENTITY_RF


@dataclass(frozen=True)
class LayerKind:
    """A registry entry. See the module docstring."""

    name: str                      # "Conv2d": shown to people, stored in files
    category: str                  # palette group
    help: str                      # one line, used as tooltip
    params: tuple                  # ParamSpec, ...
    infer: Callable                # (params, in_shapes) -> out_shape, or raise ShapeError
    build: Optional[Callable]      # (params, in_shapes) -> nn.Module; None for Input/Output
    emit: Optional[Callable]       # (params, in_shapes) -> constructor source using `nn.`
    min_inputs: int = 1
    max_inputs: Optional[int] = 1  # None: any number (Add, Concat)
    macs: Callable = _no_macs      # (params, in_shapes, out_shape) -> multiply-accumulates per sample
    receptive: Callable = _identity_rf  # (params, in_shapes) -> Receptive
    # Layers that enlarge the map: (params, in_shapes, (top, left, bottom, right) output indices) -> the input
    # indices they read, within the input (receptive fields of one position); None: the kernel/stride window.
    receptive_box: Optional[Callable] = None
    emit_forward: Optional[Callable] = None  # (arg_names) -> expression; None: call the submodule
    summary: Optional[Callable] = None  # (params) -> short text such as "5×5, 16, s1 p2"
    glyph: str = "■"
    teaching: str = ""             # a paragraph for teaching mode
    id_prefix: str = ""
    # Stands in for an operation an import could not map: never in the palette, always an error in the
    # analysis, and the network it sits in cannot be trained or exported until it is replaced.
    placeholder: bool = False
    # Classes of engine.modules its emitted code uses; their source is written once into exported files,
    # which then need nothing but torch.
    emit_classes: tuple = ()
    # The name of its one weight tensor, when the layer can stand for a bare nn.Parameter of an imported model:
    # a named layer of this kind stores that tensor under its module path itself (engine.module_paths).
    bare_parameter: str = ""
    # (params, out_shape, the Input's (height, width)) -> None, or raise ShapeError: a rule that needs the image
    # size (a segmentation Output must label every input pixel)
    check_image_size: Optional[Callable] = None
    emit_bare: Optional[Callable] = None   # (params, in_shapes) -> source of that bare nn.Parameter

    @property
    def prefix(self) -> str:
        return self.id_prefix or self.name.lower()

    @property
    def has_outputs(self) -> bool:
        return self.name != "Output"

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def normalize(self, params: dict) -> dict:
        """Fill defaults and coerce every value; raise ValueError naming the bad parameter."""
        known = {p.name for p in self.params}
        for name in params:
            if name not in known:
                raise ValueError(f"{self.name} has no parameter {_brief(name)}; it has "
                                 f"{', '.join(sorted(known)) or 'none'}")
        return {p.name: p.coerce(params.get(p.name, p.default)) for p in self.params}

    def describe(self, params: dict) -> str:
        return self.summary(params) if self.summary else ""


REGISTRY: dict = {}
CATEGORIES = ("Input/Output", "Convolution", "Activation", "Pooling", "Upsampling", "Normalization",
              "Regularization", "Fully connected", "Branches", "Imported")


def register(kind: LayerKind) -> LayerKind:
    if kind.name in REGISTRY:
        raise ValueError(f"layer kind {kind.name} registered twice")
    if kind.category not in CATEGORIES:
        raise ValueError(f"{kind.name}: unknown category {kind.category}")
    REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> LayerKind:
    _load_builtin_kinds()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown layer kind {name!r}") from None


def all_kinds() -> Sequence[LayerKind]:
    _load_builtin_kinds()
    return list(REGISTRY.values())


def kinds_by_category() -> dict:
    _load_builtin_kinds()
    out = {c: [] for c in CATEGORIES}
    for k in REGISTRY.values():
        if not k.placeholder:   # made by imports only
            out[k.category].append(k)
    return {c: ks for c, ks in out.items() if ks}


def _load_builtin_kinds():
    if not REGISTRY:
        import engine.layers  # noqa: F401  (registers on import)
