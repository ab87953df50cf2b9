"""Reading and writing weights without ever unpickling arbitrary objects.

safetensors is preferred (a flat header plus raw bytes); .pt/.pth state_dict files are read with
torch.load(weights_only=True), which only accepts tensors and plain containers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from engine.safe_files import MAX_WEIGHTS_BYTES, FileLimitError, check_regular_file


class WeightsError(ValueError):
    """A weights file that cannot be used; the message says why."""


def save_weights(state_dict: dict, path: str | os.PathLike[str]) -> Path:
    """Write `state_dict` as safetensors (by .safetensors suffix) or a plain torch state_dict file."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(_unshare(tensors), str(path))
    elif path.suffix in (".pt", ".pth", ".bin"):
        torch.save(tensors, path)
    else:
        raise WeightsError(f"choose .safetensors (recommended) or .pt for the weights file, not {path.suffix or 'no suffix'}")
    return path


def _unshare(tensors: dict) -> dict:
    """safetensors refuses tensors that share memory; give each its own copy."""
    seen, out = set(), {}
    for k, v in tensors.items():
        ptr = (v.untyped_storage().data_ptr(), v.storage_offset()) if v.numel() else None
        out[k] = v.clone() if ptr in seen else v
        if ptr:
            seen.add(ptr)
    return out


def load_weights(path: str | os.PathLike[str]) -> dict:
    """A flat dict of tensors from .safetensors or a .pt/.pth state_dict (checkpoint dicts are unwrapped)."""
    path = Path(path)
    if not os.path.lexists(path):
        raise WeightsError(f"no weights file at {path}")
    try:  # a FIFO or /dev/zero is refused by name, never opened
        check_regular_file(path, MAX_WEIGHTS_BYTES, "weights file")
    except FileLimitError as exc:
        raise WeightsError(str(exc)) from None
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path.name} is not a valid safetensors file: {exc}") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything but plain tensors; other errors for junk
        detail = _first_line(exc)
        if not any(ch.isalpha() for ch in detail):  # e.g. KeyError(174812789) for a file that is not PyTorch's
            detail = "it is not a PyTorch file"
        elif "weights only load failed" in detail.lower():  # torch's text advises unsafe loading, with ANSI codes
            detail = "it holds objects other than tensors, which are refused because loading them could run code"
        raise WeightsError(f"{path.name} cannot be read as plain weights ({detail}). Only files holding "
                           f"tensors are accepted; save with torch.save(model.state_dict(), ...) or as "
                           f".safetensors.") from None
    return flat_state_dict(data, path.name)


def flat_state_dict(data: Any, source: str = "the weights") -> dict:
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not data:
        raise WeightsError(f"{source} does not hold a state_dict (a dict of parameter name -> tensor)")
    out = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not out:
        raise WeightsError(f"{source} holds no tensors")
    return out


def match_keys(weights: dict, expected: set) -> dict:
    """Drop a 'module.' prefix (saved from DistributedDataParallel) when that makes the keys match."""
    if expected and not (set(weights) & expected) and all(k.startswith("module.") for k in weights):
        return {k[len("module."):]: v for k, v in weights.items()}
    return weights


def load_into(module: torch.nn.Module, weights: dict) -> None:
    """Load exactly: every key present with the right shape, or WeightsError listing what differs."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    wrong = sorted(k for k in set(own) & set(weights) if tuple(own[k].shape) != tuple(weights[k].shape))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} with another shape (e.g. {k}: file {tuple(weights[k].shape)}, "
                        f"network {tuple(own[k].shape)})")
    if problems:
        raise WeightsError("the weights do not fit this network: " + "; ".join(problems))
    module.load_state_dict(weights, strict=True)


def _first_line(exc) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
