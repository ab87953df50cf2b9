"""Image folders too large for memory: `FolderImages` stands where a split's image tensor would, holds only the
file paths, and decodes images when they are asked for, at the network's input size. Training reads it in
batches through DataLoader worker processes (engine.training.batches), so memory stays flat however large the
folder is; evaluation, previews and probes decode the few images they show.

It indexes like the float32 N×C×H×W tensor it stands for: `images[i]` is one C×H×W image, `images[a:b]`,
`images[index_tensor]` and `images.index_select(0, idx)` are batches; `take(idx)` is the lazy subset a split
is cut with. It cannot be moved to a device whole (`to` refuses): nothing copies a streamed set.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.data.folder import read_image


class LazyImages:
    """What code that handles image tensors asks of them, for image sets read from disk on demand. A subclass
    sets `image_shape` and defines __len__ and _images(positions) -> float32 batch."""

    lazy = True
    dtype = torch.float32
    image_shape: tuple = ()
    what = "an image set read from disk"

    def __len__(self) -> int:
        raise NotImplementedError

    def _images(self, positions: list[int]) -> torch.Tensor:
        raise NotImplementedError

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.image_shape))

    def dim(self) -> int:
        return 4

    def element_size(self) -> int:
        return 4

    def nelement(self) -> int:
        return len(self) * int(np.prod(self.image_shape))

    numel = nelement

    def to(self, *args: object, **kwargs: object) -> LazyImages:
        raise TypeError(f"{self.what} is read in batches; it cannot be copied to a device whole")

    def index_select(self, dim: int, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        if dim != 0:
            raise ValueError("images are selected along the first dimension only")
        return self._images(torch.as_tensor(indices, dtype=torch.long).reshape(-1).tolist())

    def __getitem__(self, key: int | slice | Sequence[int] | torch.Tensor) -> torch.Tensor:
        if isinstance(key, (int, np.integer)) or torch.is_tensor(key) and key.dim() == 0:
            return self._images([int(key)])[0]
        if isinstance(key, slice):
            return self._images(list(range(len(self)))[key])
        return self.index_select(0, key)


class FolderImages(LazyImages):
    """A lazy image tensor over files; see the module docstring."""

    what = "a streamed image folder"

    def __init__(self, paths: Sequence[str], shape: Sequence[int]):
        import torchvision.transforms.v2  # noqa: F401  (imported here, DataLoader workers forked later inherit it)

        self.paths = tuple(paths)
        self.image_shape = tuple(int(s) for s in shape)
        self._transform = None

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: Sequence[int] | torch.Tensor) -> FolderImages:
        """The images at `indices`, still on disk."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1).tolist()
        return FolderImages([self.paths[i] for i in idx], self.image_shape)

    def _images(self, positions: list[int]) -> torch.Tensor:
        return self._decode(positions)

    # ---- decoding ---------------------------------------------------------------------------------
    def _decode(self, indices: list) -> torch.Tensor:
        if self._transform is None:
            import torchvision.transforms.v2 as T

            c, h, w = self.image_shape
            self._transform = T.Compose([T.PILToTensor(), T.Resize((h, w), antialias=True),
                                         T.ToDtype(torch.float32, scale=True)])
        out = torch.empty((len(indices), *self.image_shape), dtype=torch.float32)
        for row, i in enumerate(indices):
            try:
                out[row] = self._transform(read_image(self.paths[i], self.image_shape[0], self.image_shape[1:]))
            except ValueError as exc:
                raise OSError(f"the image {self.paths[i]} cannot be read any more: {exc}") from None
        return out

    def __getstate__(self) -> dict:   # the transform is rebuilt where it is used (a worker, the training process)
        return {"paths": self.paths, "image_shape": self.image_shape}

    def __setstate__(self, state: dict) -> None:
        self.paths, self.image_shape, self._transform = state["paths"], state["image_shape"], None


def is_lazy(images: object) -> bool:
    """Whether `images` is read from disk on demand rather than held in memory."""
    return bool(getattr(images, "lazy", False))
