"""Feature maps of every layer for one image, with a network's current or saved weights."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from engine.compiler import compile_graph
from engine.graph import GraphSpec


def module_with_weights(graph: GraphSpec, weights: dict | None = None) -> nn.Module:
    """Compile `graph` and load `weights` (a state_dict of numpy arrays or tensors) into it, in eval mode.

    Raises ValueError saying which keys or shapes do not fit when the weights belong to another design.
    """
    module = compile_graph(graph)
    if weights:
        state = {k: torch.as_tensor(np.asarray(v)) if not torch.is_tensor(v) else v for k, v in weights.items()}
        own = module.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                 if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or wrong:
            parts = []
            if missing:
                parts.append("no weights for " + ", ".join(missing[:4]))
            if unexpected:
                parts.append("weights for layers not in the design: " + ", ".join(unexpected[:4]))
            if wrong:
                parts.append("shapes differ: " + ", ".join(wrong[:4]))
            raise ValueError("These weights do not fit the design (" + "; ".join(parts) + ")")
        module.load_state_dict(state)
    return module.eval()


@torch.no_grad()
def layer_outputs(module: nn.Module, image: ArrayLike, node_ids: Iterable[str] | None = None) -> dict:
    """{node id: float32 numpy array (C,H,W) or (F,)} for one image (C×H×W), all layers by default."""
    names = list(node_ids) if node_ids is not None else list(getattr(module, "node_order", []))
    captured, handles = {}, []
    for name in names:
        sub = module.get_submodule(name)
        handles.append(sub.register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out[0].detach().float().cpu().numpy().copy())))
    was_training = module.training
    module.eval()
    try:
        x = torch.as_tensor(np.asarray(image, dtype=np.float32)).unsqueeze(0)
        module(x)
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return captured
