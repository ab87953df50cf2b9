"""Checkpoints: everything needed to continue a run exactly, stored as tensors and plain data so that
torch.load(weights_only=True) can read them (no arbitrary unpickling)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.atomic_write import replacing
from engine.safe_files import MAX_WEIGHTS_BYTES, check_regular_file

CHECKPOINT_DIR = "checkpoints"


def checkpoint_path(run_dir: str | os.PathLike[str], which: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"{which}.pt"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically (temporary file, fsync, rename) so a stop, crash or power cut never leaves half a
    file; a failed write (disk full) leaves the previous checkpoint as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "wb") as f:   # via a Python file, a failed write is an OSError
        torch.save(state, f)


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a fit() checkpoint; ValueError with a readable message when it is missing or not one."""
    path = Path(path)
    if path.is_dir():  # a run folder: continue from its last checkpoint
        path = checkpoint_path(path, "last")
    if not path.is_file():
        if os.path.lexists(path):   # a FIFO, a device or a link to one: say so, never open it
            check_regular_file(path, MAX_WEIGHTS_BYTES, "checkpoint")
        raise ValueError(f"checkpoint {path} does not exist")
    check_regular_file(path, MAX_WEIGHTS_BYTES, "checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {path}: {unreadable_reason(exc)}") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise ValueError(f"{path} is not a CNN Designer training checkpoint")
    model, config = state["model"], state.get("config")
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in model.items()) or \
            not (config is None or isinstance(config, dict)):
        raise ValueError(f"{path} is damaged: its weights or settings are not what CNN Designer saves there")
    return state


def unreadable_reason(exc: BaseException) -> str:
    """One short sentence for a torch.load failure. torch's own text for a refused (non-tensor) file is a
    page long and advises weights_only=False, which is exactly what must not be done with foreign files."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if "weights only load failed" in str(exc).lower():
        return ("it is not a PyTorch weights file, or it holds objects other than tensors, which are refused "
                "for safety (only tensors and plain data are loaded)")
    first = str(exc).strip().splitlines()
    return f"it is damaged or not a PyTorch file ({first[0] if first else type(exc).__name__})"


def state_dict_mismatch(expected: dict, got: dict) -> str:
    """Which parameter names or shapes differ between a network's state_dict and loaded weights."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    shapes = [f"{k} {tuple(got[k].shape)} instead of {tuple(v.shape)}" for k, v in expected.items()
              if k in got and tuple(got[k].shape) != tuple(v.shape)]
    parts = ([f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}"] if missing else []) + \
            ([f"unknown {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}"] if extra else []) + \
            ([f"wrong shape {'; '.join(shapes[:3])}"] if shapes else [])
    return "; ".join(parts) or "the weights do not fit"
