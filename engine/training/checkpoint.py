"""Checkpoints: everything needed to continue a run exactly, stored as tensors and plain data so that
torch.load(weights_only=True) can read them (no arbitrary unpickling)."""
from __future__ import annotations

from pathlib import Path

import torch

CHECKPOINT_DIR = "checkpoints"


def checkpoint_path(run_dir, which: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"{which}.pt"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically (temporary file, then rename) so a stop or crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path) -> dict:
    """Read a fit() checkpoint; ValueError with a readable message when it is missing or not one."""
    path = Path(path)
    if path.is_dir():  # a run folder: continue from its last checkpoint
        path = checkpoint_path(path, "last")
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise ValueError(f"{path} is not a CNN Designer training checkpoint")
    return state
