"""Image folders read from disk: the engine's streaming path, and its decoded cache, against torchvision's
ImageFolder + DataLoader with the same workers and the same decode-and-resize, on generated folders of JPEGs,
and the peak memory of each as the folder grows tenfold. Prints a table and ratios; never part of the tests.

    python bench/data.py [--sizes 5000 50000] [--side 128] [--input 64] [--workers N] [--keep DIR]

Each measurement runs in a fresh process (peak resident memory of that process and its DataLoader workers, from
getrusage); each reads one epoch of the training split in batches of 64, the work training waits for.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLASSES = 8


def make_folder(root: Path, count: int, side: int) -> None:
    """`count` JPEGs of side×side in CLASSES class folders: a coloured disc or square on noise, seeded."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(count)
    yy, xx = np.mgrid[:side, :side]
    for c in range(CLASSES):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        c = i % CLASSES
        img = rng.integers(0, 80, (side, side, 3), dtype=np.uint8)
        cy, cx, r = rng.integers(side // 4, 3 * side // 4, 2).tolist() + [int(rng.integers(side // 8, side // 4))]
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r if c % 2 else (abs(yy - cy) < r) & (abs(xx - cx) < r)
        img[mask] = (40 * c % 256, 255 - 30 * c, 120)
        Image.fromarray(img).save(root / f"class{c}" / f"{i}.jpg", quality=90)


def engine_epoch(folder: str, size: int, workers: int, mode: str = "stream") -> dict:
    import torch

    from engine.data import load_dataset
    from engine.training import batches
    from engine.training.batches import BatchSource
    from engine.training.config import TrainConfig
    from engine.training.devices import World

    batches._workers = lambda: workers   # the same number of workers as the baseline
    built = 0.0
    if mode == "cache":   # the first load decodes into the cache; the epoch reads a later load's cache
        t = time.perf_counter()
        load_dataset("folder", root=folder, input_shape=(3, size, size), data_mode="cache")
        built = time.perf_counter() - t
    data = load_dataset("folder", root=folder, input_shape=(3, size, size), data_mode=mode)
    source = BatchSource(data.train, torch.device("cpu"), TrainConfig(batch_size=64, device="cpu"), World())
    start, n = time.perf_counter(), 0
    for x, _ in source.batches(0):
        n += len(x)
    return {"images": n, "seconds": time.perf_counter() - start, "build_seconds": built}


def torchvision_epoch(folder: str, size: int, workers: int) -> dict:
    import torch
    import torchvision.transforms.v2 as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    transform = T.Compose([T.PILToTensor(), T.Resize((size, size), antialias=True),
                           T.ToDtype(torch.float32, scale=True)])
    data = ImageFolder(folder, transform=transform)
    # the same share as the engine's training split (80 % after the test split, 90 % of that)
    subset = torch.utils.data.Subset(data, torch.randperm(len(data))[:int(len(data) * 0.8 * 0.9)].tolist())
    loader = DataLoader(subset, batch_size=64, shuffle=True, num_workers=workers)
    start, n = time.perf_counter(), 0
    for x, _ in loader:
        n += len(x)
    return {"images": n, "seconds": time.perf_counter() - start}


def measure(which: str, folder: str, size: int, workers: int) -> dict:
    """Run one measurement in a fresh process; add its peak memory (itself and its workers)."""
    out = subprocess.run([sys.executable, __file__, "--child", which, folder, str(size), str(workers)],
                         capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(which: str, folder: str, size: str, workers: str) -> None:
    import torch

    torch.set_num_threads(1)
    if which == "torchvision":
        result = torchvision_epoch(folder, int(size), int(workers))
    else:
        result = engine_epoch(folder, int(size), int(workers), "cache" if which == "cache" else "stream")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({**result, "peak_mb": own / 1024, "worker_peak_mb": kids / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--side", type=int, default=128, help="side of the generated JPEGs")
    parser.add_argument("--input", type=int, default=64, help="side of the network's input")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--keep", help="a folder to keep the generated images in (made once, reused)")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cnn-data-bench-"))
    os.environ["CNN_DESIGNER_DATA"] = str(Path(tempfile.mkdtemp(prefix="cnn-data-bench-cache-")))  # a fresh cache
    rows = {}
    for count in args.sizes:
        folder = base / f"jpeg{count}"
        if not folder.exists():
            t = time.perf_counter()
            make_folder(folder, count, args.side)
            print(f"made {count:,} JPEGs of {args.side}×{args.side} in {time.perf_counter() - t:.0f} s", flush=True)
        rows[count] = {w: measure(w, str(folder), args.input, args.workers) for w in ("torchvision", "engine", "cache")}
        tv, en, ca = rows[count]["torchvision"], rows[count]["engine"], rows[count]["cache"]
        print(f"{count:>7,} images: torchvision {tv['images'] / tv['seconds']:7.0f} img/s, peak {tv['peak_mb']:5.0f} MB "
              f"(+ workers {tv['worker_peak_mb']:4.0f}); engine {en['images'] / en['seconds']:7.0f} img/s, peak "
              f"{en['peak_mb']:5.0f} MB (+ workers {en['worker_peak_mb']:4.0f}); engine/torchvision "
              f"{(en['images'] / en['seconds']) / (tv['images'] / tv['seconds']):.2f}×", flush=True)
        print(f"{'':>16s}from the decoded cache {ca['images'] / ca['seconds']:7.0f} img/s, peak {ca['peak_mb']:5.0f} MB "
              f"(+ workers {ca['worker_peak_mb']:4.0f}), cache/torchvision "
              f"{(ca['images'] / ca['seconds']) / (tv['images'] / tv['seconds']):.2f}×; building it took "
              f"{ca['build_seconds']:.0f} s ({count * 3 * args.input ** 2 / 1e6:.0f} MB on disk)", flush=True)
    if len(args.sizes) >= 2:
        small, large = rows[min(args.sizes)]["engine"], rows[max(args.sizes)]["engine"]
        print(f"engine peak memory, {max(args.sizes):,} against {min(args.sizes):,} images: "
              f"{large['peak_mb'] / small['peak_mb']:.2f}× (workers {large['worker_peak_mb'] / small['worker_peak_mb']:.2f}×)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
