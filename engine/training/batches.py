"""Where training batches come from.

Small data sets are copied to the training device once and batched there by index, with batch-wise
augmentation on the device: no DataLoader, no per-sample Python work. Data too large for the device
streams through a DataLoader (worker processes, pinned memory, non-blocking copies). Both give every
rank of a torchrun job its own equal-sized shard of the same seeded permutation.
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from engine.data.base import Split
from engine.training.augment import augment_batch, augmentation_pipeline
from engine.training.config import Augmentation, TrainConfig
from engine.training.devices import World
from engine.training.faults import DataSourceError, is_out_of_memory

RESIDENT_LIMIT_BYTES = 1 << 30   # keep at most 1 GiB of training images on an accelerator


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The same order on every rank and on resume: seeded by (seed, epoch) only."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class BatchSource:
    """Batches of one split for fit(). name: the data set's title, for error messages."""

    def __init__(self, split, device: torch.device, config: TrainConfig, world: World, name: str = "training"):
        self.device, self.config, self.world, self.name = device, config, world, name
        self.per_rank = len(split) // world.size  # equal shards, so every rank runs the same number of steps
        self.steps_per_epoch = max(1, math.ceil(self.per_rank / config.batch_size))
        # images streamed from disk are never copied whole: workers read and decode them batch by batch
        self.resident = not getattr(split.images, "lazy", False) and keeps_resident(
            device, split.images.element_size() * split.images.nelement())
        self.split = split
        self.aug = config.augmentation if config.augmentation.enabled else None
        self.gen = torch.Generator(device=device if device.type != "mps" else "cpu")
        self.gen.manual_seed(config.seed + 1)
        if self.resident:
            self.images = split.images.to(device)
            self.labels = split.labels.to(device)

    def shard(self, epoch: int) -> torch.Tensor:
        perm = epoch_permutation(len(self.split), self.config.seed, epoch)
        return perm[self.world.rank::self.world.size][:self.per_rank]

    def batches(self, epoch: int, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (images, labels) on the device for one epoch, starting after `skip` batches."""
        order = self.shard(epoch)
        b = self.config.batch_size
        chunks = [order[i:i + b] for i in range(skip * b, len(order), b)]
        if self.resident:
            order_dev = order.to(self.device)
            for i in range(skip * b, len(order), b):
                idx = order_dev[i:i + b]
                x, y = self.images.index_select(0, idx), self.labels.index_select(0, idx)
                if self.aug is not None:   # masks and boxes move with their images
                    x, y = augment_labelled(x, y, self.aug, self._aug_gen(x))
                yield x, y
            return
        loader = DataLoader(_IndexedBatches(self.split, self.aug, tuple(self.split.images.shape[1:])),
                            sampler=chunks, batch_size=None, num_workers=_workers(),
                            pin_memory=self.device.type == "cuda", persistent_workers=False)
        batches = iter(loader)
        for number in range(skip + 1, skip + len(chunks) + 1):
            try:
                x, y = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                if is_out_of_memory(exc):
                    raise
                raise DataSourceError(
                    f"The data set “{self.name}” could not be read during epoch {epoch + 1} (batch "
                    f"{number}): {_root_cause(exc)}. Its images may have been moved, deleted or damaged; reload "
                    f"the data set and start again.") from exc
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _aug_gen(self, x):
        return self.gen if self.gen.device == x.device else None

    # The augmentation generator's state goes into checkpoints so a resumed run draws the same numbers.
    def state(self) -> torch.Tensor:
        return self.gen.get_state()

    def set_state(self, state: torch.Tensor | None) -> None:
        if state is not None:
            self.gen.set_state(state.to(self.gen.get_state().device))


def evaluation_batches(split: Split, indices: torch.Tensor, batch_size: int, device: torch.device,
                       name: str = "evaluation") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) on `device` for the samples at `indices`, in order, without augmentation. Images read
    from disk are decoded by DataLoader workers, as training reads them, not one by one in this thread."""
    chunks = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    if not getattr(split.images, "lazy", False) or len(chunks) <= 2:   # in memory, or too few to pay for workers
        for idx in chunks:
            yield (split.images[idx].to(device, non_blocking=True), split.labels[idx].to(device, non_blocking=True))
        return
    # Forking a process that runs other threads (the app, which evaluates in a background thread) is unsafe.
    threaded = threading.current_thread() is not threading.main_thread() or threading.active_count() > 1
    loader = DataLoader(_IndexedBatches(split, None, tuple(split.images.shape[1:])), sampler=chunks,
                        batch_size=None, num_workers=min(_workers(), len(chunks)),
                        multiprocessing_context="spawn" if threaded else None,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    try:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise
        raise DataSourceError(f"The {name} images could not be read: {_root_cause(exc)}. They may have been moved, "
                              f"deleted or damaged; reload the data set and start again.") from exc


class _IndexedBatches(torch.utils.data.Dataset):
    """A batch per index list, so workers slice whole batches (and augment them per image with v2)."""

    def __init__(self, split, aug, shape):
        self.split, self.aug = split, aug
        self.transform = augmentation_pipeline(aug, shape) if aug is not None else None

    def __len__(self):
        return len(self.split)

    def __getitem__(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.long)
        x, y = self.split.images.index_select(0, idx), self.split.labels.index_select(0, idx)
        if self.aug is not None and y.is_floating_point():   # boxes: moved batch-wise, as on the device
            return augment_labelled(x, y, self.aug, None)
        if self.transform is not None and y.dim() > 1:   # masks move with their images (v2 knows a Mask)
            from torchvision import tv_tensors

            pairs = [self.transform(img, tv_tensors.Mask(m)) for img, m in zip(x, y)]
            return torch.stack([p[0] for p in pairs]), torch.stack([p[1].as_subclass(torch.Tensor) for p in pairs])
        if self.transform is not None:
            x = torch.stack([self.transform(img) for img in x])
        return x, y


def augment_labelled(x: torch.Tensor, y: torch.Tensor, aug: Augmentation,
                     gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch; masks (int N×H×W) and boxes (float labels, engine.training.boxes) move with the images."""
    if y.is_floating_point():
        return augment_batch(x, aug, gen, boxes=y)
    if y.dim() > 1:
        return augment_batch(x, aug, gen, masks=y)
    return augment_batch(x, aug, gen), y


def keeps_resident(device: torch.device, nbytes: int) -> bool:
    """True when a split of `nbytes` is copied to the device whole; False to stream it through a DataLoader."""
    return device.type == "cpu" or nbytes <= _device_budget(device)


def _root_cause(exc: BaseException) -> str:
    """The original error's last line: a DataLoader worker's error arrives wrapped in a page of traceback."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if "Original Traceback" in str(exc) and lines:
        return lines[-1]
    return f"{type(exc).__name__}{': ' + lines[0] if lines else ''}"


def _device_budget(device: torch.device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return min(RESIDENT_LIMIT_BYTES, free // 4)
    return RESIDENT_LIMIT_BYTES


def _workers() -> int:
    return min(4, max(1, (os.cpu_count() or 2) - 1))
