"""The memory limit that keeps a typo (a Linear with 1,000,000 outputs) from freezing the machine.

A network's need is its weights plus every layer's output for one image, both float32: what compiling it
and running one image through it (feature maps, export checks) allocate. The analysis reports a network over
the limit as an error on its biggest layer, and the compiler refuses it before building any module, so the
memory is never requested.

The default is 4 GB, or a quarter of the physical memory on machines with less than 16 GB. That keeps
room for the operating system and the app, and for training, which holds about three more copies of the
weights (gradients and the optimizer's state) plus the outputs of a whole batch. The largest classic CNNs
fit well under it (VGG-19: 0.55 GB of weights and 0.1 GB of outputs at 224×224), while the usual typos
need tens of gigabytes (AlexNet with 1,000,000 outputs in its first Linear: 37 GB).

Change it with $CNN_DESIGNER_MAX_MEMORY or --max-memory ("2GB", "512MB", "none"), or in the app
(Edit → Memory limit…).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.registry import get_kind
from engine.units import GB, MB, format_bytes

if TYPE_CHECKING:
    import argparse

    from engine.analysis import Analysis
    from engine.graph import GraphSpec

DEFAULT_CAP = 4 * GB
MAX_LIMIT = 1 << 50    # 1,048,576 GB: a larger number is a typo, and would overflow on conversion
BYTES_PER_WEIGHT = 4   # float32
ENV = "CNN_DESIGNER_MAX_MEMORY"
NO_LIMIT = 0
HOW_TO_RAISE = "Edit → Memory limit… in the app, --max-memory or $CNN_DESIGNER_MAX_MEMORY on the command line"


class ResourceLimitError(ValueError):
    """A network too large for the memory limit; raised before anything is allocated."""

    def __init__(self, node_id: str, message: str, needed: int, limit: int):
        self.node_id, self.needed, self.limit = node_id, needed, limit
        super().__init__(f"{node_id} {message}")


@dataclass(frozen=True)
class LimitProblem:
    node_id: str
    message: str    # reads after the node id: "would need 37.0 GB for its weights ..."
    needed: int     # bytes, the whole network
    limit: int


def physical_memory() -> int | None:
    """Bytes of RAM, where the platform tells (Linux, macOS); None elsewhere."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def default_limit() -> int:
    ram = physical_memory()
    return min(DEFAULT_CAP, ram // 4) if ram else DEFAULT_CAP


def parse_size(text: str) -> int:
    """Bytes from "4GB", "1.5 G", "512MB", "4" (gigabytes) or "none"/"off"/"0" (no limit).
    ValueError with the accepted forms otherwise."""
    value = str(text).strip().lower().replace(" ", "")
    if value in ("none", "off", "unlimited", "0"):
        return NO_LIMIT
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)(gb|g|gib|mb|m|mib)?", value)
    shown = str(text) if len(str(text)) <= 30 else str(text)[:27] + "..."
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{shown!r} is not a memory size; write it like 4GB, 1.5GB or 512MB (or 'none' for no limit)")
    unit = MB if (match.group(2) or "g").startswith("m") else GB
    size = float(match.group(1)) * unit   # inf for 400 digits: refused below, never int(inf)
    if not size <= MAX_LIMIT:
        raise ValueError(f"{shown!r} is more memory than any computer has; give at most {MAX_LIMIT // GB:,}GB, "
                         f"or 'none' for no limit")
    return max(MB, int(size))


def format_size(n: float) -> str:
    """'37.0 GB', '512 MB': as format_bytes, but a limit below 1 GB in whole megabytes, as it is typed."""
    return format_bytes(n) if n >= GB else f"{max(1, round(n / MB))} MB"


def _from_environment():
    value = os.environ.get(ENV, "").strip()
    if not value:
        return default_limit(), "default"
    try:
        return parse_size(value), "environment"
    except ValueError:
        return default_limit(), "default"  # an unreadable variable must not stop the app from starting


_limit, _source = _from_environment()


def current_limit() -> int:
    """Bytes a network may need (weights + outputs for one image); 0 = no limit."""
    return _limit


def limit_source() -> str:
    """Where the limit came from: default, environment, command line or preferences."""
    return _source


def set_limit(value: int | str, source: str = "preferences") -> None:
    """Set the limit in bytes (or a size text such as "2GB"); 0 or "none" removes it."""
    global _limit, _source
    _limit = parse_size(value) if isinstance(value, str) else max(0, int(value))
    _source = source


def limit_text(limit: int | None = None) -> str:
    limit = _limit if limit is None else limit
    return "no limit" if limit == NO_LIMIT else format_size(limit)


def find_problem(infos: dict, specs: dict, limit: int | None = None) -> LimitProblem | None:
    """The network's need against the limit, from an analysis's NodeInfo per node id and the LayerSpecs;
    None when it fits. Plain arithmetic on the analysis: nothing is built or allocated."""
    limit = _limit if limit is None else limit
    if limit == NO_LIMIT:
        return None
    total, worst, worst_need = 0, None, -1
    for nid, info in infos.items():
        need = info.params * BYTES_PER_WEIGHT + info.memory
        total += need
        if need > worst_need:  # the first of equals: a layer rather than the activation right after it
            worst, worst_need = nid, need
    if total <= limit or worst is None:
        return None
    info, spec = infos[worst], specs[worst]
    weights = info.params * BYTES_PER_WEIGHT
    if weights >= info.memory:
        what = f"would need {format_size(weights)} for its weights ({info.params:,} parameters)"
    else:
        what = f"would need {format_size(info.memory)} for its output ({_shape(info.shape)} values per image)"
    return LimitProblem(worst, f"{what}; the network needs {format_size(total)} in all, over the memory limit "
                               f"of {format_size(limit)}. {_remedy(spec, info, weights >= info.memory)} or raise "
                               f"the limit ({HOW_TO_RAISE}).", total, limit)


def check_memory(graph: GraphSpec, analysis: Analysis, limit: int | None = None) -> None:
    """Raise ResourceLimitError when the analysed network needs more than the limit."""
    problem = find_problem(analysis.nodes, graph.node_map(), limit)
    if problem is not None:
        raise ResourceLimitError(problem.node_id, problem.message, problem.needed, problem.limit)


def add_option(parser: argparse.ArgumentParser) -> None:
    """--max-memory SIZE for a command that builds networks (train, eval, export, analyze)."""
    parser.add_argument("--max-memory", metavar="SIZE", type=_size_argument,
                        help=f"largest network to build: weights plus layer outputs for one image, e.g. 8GB or "
                             f"512MB, 'none' for no limit (default: ${ENV}, else {limit_text(default_limit())} "
                             f"on this machine)")


def apply_option(args: argparse.Namespace) -> None:
    """Use the --max-memory given on the command line, if any."""
    value = getattr(args, "max_memory", None)
    if value is not None:
        set_limit(value, "command line")


def _size_argument(text) -> int:
    import argparse

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _remedy(spec, info, weights_dominate: bool) -> str:
    """Name the setting to change: the layer's own size (out channels, out features) when that is what makes
    it big, else what feeds it."""
    sizes = [p for p in get_kind(spec.kind).params
             if p.kind == "int" and info.shape and spec.params[p.name] == info.shape[0]]
    inputs = info.in_shapes[0] if info.in_shapes and info.in_shapes[0] else None
    smaller_input = f"make its input smaller (now {_shape(inputs)}: pool, or use fewer channels before it)"
    if not sizes:
        return smaller_input[0].upper() + smaller_input[1:] if inputs else "Make the network smaller"
    own = spec.params[sizes[0].name]
    remedy = f"Reduce its {sizes[0].title.lower()} (now {own:,})"
    if weights_dominate and inputs and _numel(inputs) > own:  # the weights grow with the input too
        remedy += f" or {smaller_input}"
    return remedy


def _shape(shape) -> str:
    return "×".join(f"{s:,}" for s in shape) if shape else "?"


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
