"""Faults for runs in the training process: a 'Faulty' layer kind that the tests register in the child
(through engine.training.process.SETUP_HOOKS) and in this process (so the design analyses cleanly).

Across processes a test cannot share a threading.Event, so the layer signals through files: at training
step `at` it creates `entered`, then (when `hold`) waits until `release` exists, then raises `error`.
"""
from __future__ import annotations

import time
from pathlib import Path

from torch import nn

ERRORS = {"ValueError": lambda: ValueError("kernel exploded"), "MemoryError": MemoryError}


class FaultyLayer(nn.Module):
    def __init__(self, at: int, error: str, folder: str, hold: bool):
        super().__init__()
        self.at, self.error, self.folder, self.hold, self.steps = at, error, Path(folder), hold, 0

    def forward(self, x):
        if not self.training:
            return x
        self.steps += 1
        if self.steps == self.at:
            (self.folder / "entered").touch()
            while self.hold and not (self.folder / "release").exists():
                time.sleep(0.01)
            if self.error:
                raise ERRORS[self.error]()
        return x


def install(at: int = 0, error: str = "", folder: str = "", hold: bool = False) -> None:
    """Register (or re-register) the Faulty kind with this behaviour, in whichever process calls it."""
    from engine import registry

    registry.all_kinds()   # the registry loads the built-in kinds only while it is empty
    registry.REGISTRY["Faulty"] = registry.LayerKind(
        name="Faulty", category="Activation", help="test-only fault injector", params=(),
        infer=lambda p, ins: ins[0], emit=None, build=lambda p, ins: FaultyLayer(at, error, folder, hold))


def hold_training_step(at: int, folder: str) -> None:
    """In whichever process calls it: training step `at` of the next runs waits (after creating `entered`)
    until `release` exists in `folder`, so a test can act between two steps however slow the machine is.
    Steps are counted as training-mode forward calls of a compiled network (it has `node_order`)."""
    import torch

    state = {"steps": 0}
    folder_path = Path(folder)

    def pre_hook(module, _inputs):
        if not module.training or not hasattr(module, "node_order"):
            return
        state["steps"] += 1
        if state["steps"] == at:
            (folder_path / "entered").touch()
            while not (folder_path / "release").exists():
                time.sleep(0.01)

    old = getattr(torch.nn.modules.module, "_cnn_test_hold", None)
    if old is not None:
        old.remove()
    torch.nn.modules.module._cnn_test_hold = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
