"""Running source that the PyTorch-code export wrote, as a user's script would."""
from __future__ import annotations

import torch


def exported_network(code: str, class_name: str, state: dict | None = None) -> torch.nn.Module:
    """An instance (eval mode) of `class_name` defined by exported `code`, without running its demo block;
    with `state`, loaded strictly."""
    namespace: dict = {}
    exec(compile(code.split('if __name__ == "__main__":')[0], "exported.py", "exec"), namespace)
    network = namespace[class_name]().eval()
    if state is not None:
        network.load_state_dict(state, strict=True)
    return network
