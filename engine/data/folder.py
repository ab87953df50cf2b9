"""Any folder of images with one sub-folder per class (torchvision's ImageFolder layout), decoded once,
resized to the network's input size and converted to its channel count."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from engine.data.base import DatasetError, split_off_test

TEST_FRACTION = 0.2
DEFAULT_SIZE = (3, 64, 64)
MAX_IMAGES = 200_000


def load_image_folder(root: Path, input_shape, seed: int, progress=None):
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as T

    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist; pass a folder with one sub-folder per class")
    channels, height, width = tuple(input_shape) if input_shape else DEFAULT_SIZE
    if channels not in (1, 3):
        raise DatasetError(f"image folders give grey (1) or colour (3) images, but the network's Input has "
                           f"{channels} channels; set the Input's channels to 1 or 3")
    transform = T.Compose([T.Grayscale() if channels == 1 else T.RGB(), T.PILToTensor(),
                           T.Resize((height, width), antialias=True), T.ToDtype(torch.float32, scale=True)])
    try:
        folder = tvd.ImageFolder(str(root), transform=transform, allow_empty=False)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DatasetError(f"{root} is not an image folder ({exc}); it needs one sub-folder per class, each "
                           f"holding .png/.jpg images") from None
    if len(folder.classes) < 2:
        raise DatasetError(f"{root} has only {len(folder.classes)} class folder(s); a classifier needs at least 2")
    if len(folder) > MAX_IMAGES:
        raise DatasetError(f"{root} holds {len(folder)} images; at most {MAX_IMAGES} are loaded into memory")
    # Decode in worker processes, in batches, once; training then batches from memory.
    loader = DataLoader(folder, batch_size=256, num_workers=min(4, torch.get_num_threads()),
                        persistent_workers=False)
    images, labels = [], []
    try:
        for i, (x, y) in enumerate(loader):
            images.append(x)
            labels.append(y)
            if progress:
                progress(min(1.0, (i + 1) * 256 / len(folder)), f"Reading images from {root}")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"an image in {root} cannot be read ({exc}); remove or replace it") from None
    images, labels = torch.cat(images), torch.cat(labels).long()
    pool, test = split_off_test(images, labels, TEST_FRACTION, seed)
    return pool, test, tuple(folder.classes)
