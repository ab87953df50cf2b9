"""The UCI optical handwritten digits (1,797 images, 8×8 grey) that ship inside scikit-learn: real
handwriting with no download. Upscale them to a network's input with load_dataset(..., fix="resize")."""
from __future__ import annotations

import torch

from engine.data.base import Split, split_off_test

TEST_FRACTION = 0.2


def load_uci_digits(seed: int) -> tuple[Split, Split, tuple[str, ...]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().div_(16.0).unsqueeze(1).contiguous()  # values are 0..16
    labels = torch.from_numpy(bunch.target).long()
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(str(d) for d in range(10))
