"""Device choice and the torchrun/DistributedDataParallel plumbing fit() needs."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_world() -> World:
    """The process group fit() runs in: a single process unless torch.distributed is initialized."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return World()


def init_from_torchrun(device: str = "auto") -> World:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL on CUDA, gloo on the CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return World()
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return current_world()


def resolve_device(requested: str, world: World = World()) -> torch.device:
    """"auto" picks CUDA, then Apple MPS, then the CPU. Raises ValueError when the requested one is absent."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", world.local_rank % torch.cuda.device_count())
        return torch.device("mps") if mps_ok and not world.distributed else torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} was requested but no CUDA GPU is available; use device auto or cpu")
        index = int(requested.split(":")[1]) if ":" in requested else world.local_rank % torch.cuda.device_count()
        return torch.device("cuda", index)
    if requested.startswith("mps"):
        if not mps_ok:
            raise ValueError("device 'mps' was requested but Apple MPS is not available; use device auto or cpu")
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def all_reduce_sum(values: list, device: torch.device, world: World) -> list:
    """Sum a few floats across ranks (one collective); identity in a single process."""
    if not world.distributed:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                     device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.tolist()
