"""Start a new run from an earlier run's weights (transfer learning, or continuing with a changed design).

fit() can resume from a checkpoint. A warm start is such a checkpoint at epoch 0: the new design's
freshly initialised weights (seeded exactly as fit() seeds them), with every tensor whose name and shape
match taken from the earlier run, and a fresh optimizer state.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.compiler import compile_graph
from engine.graph import GraphSpec
from engine.module_paths import frozen_layers
from engine.training.checkpoint import save_checkpoint
from engine.training.config import TrainConfig
from engine.training.optim import build_optimizer


@dataclass(frozen=True)
class WarmStart:
    path: Path
    loaded: tuple     # state_dict keys taken from the earlier run
    skipped: tuple    # keys of the design that kept their fresh initial values

    def text(self) -> str:
        layers = sorted({k.rsplit(".", 1)[0] for k in self.loaded})
        fresh = sorted({k.rsplit(".", 1)[0] for k in self.skipped} - set(layers))
        out = f"weights for {len(layers)} layer(s): {', '.join(layers) or 'none'}"
        return out + (f"; freshly initialised: {', '.join(fresh)}" if fresh else "")


def write_warm_start(graph: GraphSpec, config: TrainConfig, weights: dict, path: str | os.PathLike[str]) -> WarmStart:
    """Write a checkpoint that fit(resume=path) starts from. Raises ValueError when nothing matches."""
    torch.manual_seed(config.seed)
    model = compile_graph(graph)
    state = model.state_dict()
    loaded, skipped = [], []
    for key, value in state.items():
        new = weights.get(key)
        new = torch.as_tensor(np.asarray(new)) if new is not None and not torch.is_tensor(new) else new
        if new is not None and tuple(new.shape) == tuple(value.shape):
            state[key] = new.to(value.dtype).clone()
            loaded.append(key)
        else:
            skipped.append(key)
    if not loaded:
        raise ValueError("none of the run's weights fit this design (no layer with the same id and shape); "
                         "train from scratch instead")
    model.load_state_dict(state)
    for nid in frozen_layers(graph, config.freeze, model)[0]:
        getattr(model, nid).requires_grad_(False)
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], config)
    save_checkpoint(Path(path), {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 0,
                                 "step_in_epoch": 0, "global_step": 0})
    return WarmStart(Path(path), tuple(loaded), tuple(skipped))
