"""Activation snapshots: the output of every node for one probe image, plus the convolution filters.

Forward hooks are attached only for the snapshot's single forward pass and removed right after, so
normal training steps run the plain compiled module with no hooks at all.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def capture(module: nn.Module, probe: torch.Tensor, node_ids: Iterable[str]) -> tuple:
    """(activations, filters) for `probe` (1×C×H×W on the module's device), in eval mode."""
    outputs: dict = {}
    handles = []
    named = dict(module.named_children())
    for nid in node_ids:
        sub = named.get(nid)
        if sub is None:
            continue

        def hook(_m, _inputs, out, nid=nid):
            if isinstance(out, torch.Tensor):
                outputs[nid] = np.ascontiguousarray(out[0].detach().float().cpu().numpy(), dtype=np.float32)

        handles.append(sub.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    try:
        module(probe)
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    filters = {nid: named[nid].weight.detach().float().cpu().numpy().copy()
               for nid in node_ids if isinstance(named.get(nid), nn.Conv2d)}
    return outputs, filters
