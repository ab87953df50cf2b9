"""A decoded cache of an image folder (`--data-mode cache`): every image decoded once, at the Input's size, into
one uint8 file on disk that later epochs and later runs read back (positioned reads, served from the operating
system's page cache once read) instead of decoding JPEGs.

    <data root>/decoded/<key>/images.u8       N×C×H×W uint8, row-major
    <data root>/decoded/<key>/manifest.json   what it holds and a CRC-32 per block of images

The key is a hash of the folder's path, every file's name, size, modification time and class, and the Input's
shape: a changed folder or another size makes another cache. A cache is used only when its manifest matches
and every block's checksum is right; anything else (a crash while writing, a truncated or altered file) is
reported and rebuilt, never trusted. It is written in a temporary folder and renamed into place when complete.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from engine.data.base import DatasetError
from engine.data.folder import _first_few, decode_batches, unusable
from engine.data.folder_stream import LazyImages
from engine.units import format_bytes

FORMAT = "cnn-designer-decoded-cache"
VERSION = 1
BLOCK = 1024                    # images per checksum
MANIFEST_LIMIT = 64 * 1024 * 1024
VERIFY_REPORT_EVERY = 32        # blocks between progress reports while verifying

Progress = Callable[[float, str], None]


def cache_root() -> Path:
    from engine.data.registry import default_root

    return default_root() / "decoded"


def cache_key(root: Path, samples: Sequence[tuple], shape: Sequence[int]) -> str:
    """A hash of everything the decoded images depend on (see the module docstring)."""
    digest = hashlib.sha256(f"{FORMAT}/{VERSION}\n{Path(root).resolve()}\n{tuple(shape)}\n".encode())
    for path, label in samples:
        info = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}\0{info.st_size}\0{info.st_mtime_ns}\0{label}\n".encode())
    return digest.hexdigest()[:32]


def cached_folder(root: Path, samples: Sequence[tuple], shape: Sequence[int], progress: Progress | None,
                  unreadable: str) -> tuple[CachedImages, torch.Tensor, tuple]:
    """(images, labels, skipped) of the folder's usable images, from its cache, built first when missing or
    not trustworthy."""
    shape = tuple(int(s) for s in shape)
    try:
        key = cache_key(root, samples, shape)
    except OSError as exc:
        raise DatasetError(f"the images in {root} changed while they were being read ({exc.strerror or exc}); "
                           f"load the folder again") from None
    where = cache_root() / key
    with _only_one_builder(where):   # torchrun's ranks load at once: one builds, the others then read it
        found, why = _open(where, key, len(samples), shape, progress)
        if found is None:
            if progress and why:
                progress(0.0, f"Rebuilding the decoded cache of {root.name}: {why}")
            found = _build(root, where, key, samples, shape, progress, unreadable)
    kept, skipped = found
    if skipped and unreadable == "stop":
        raise DatasetError(f"{len(skipped):,} of the {len(samples):,} images in {root} cannot be used: "
                           f"{_first_few(skipped)}; remove or replace them, or let the load leave them out")
    if len(kept) < 2:
        raise DatasetError(f"none of the images in {root} can be used: {_first_few(skipped)}")
    labels = torch.tensor([samples[i][1] for i in kept], dtype=torch.long)
    return CachedImages(str(where / "images.u8"), len(kept), shape), labels, skipped


def cache_bytes(count: int, shape: Sequence[int]) -> int:
    """Disk space a cache of `count` images at `shape` takes (one byte per value)."""
    return count * int(np.prod(shape))


@contextlib.contextmanager
def _only_one_builder(where: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<key>.lock` beside the cache (where the platform has flock)."""
    try:
        import fcntl
    except ImportError:   # Windows: no lock; two builders each write a complete cache, the last rename wins
        yield
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"{where.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---- reading and checking -----------------------------------------------------------------------------
def _open(where: Path, key: str, listed: int, shape: tuple, progress: Progress | None) -> tuple:
    """((kept sample indices, skipped), "") for a cache that checks out, else (None, why it cannot be used)."""
    manifest_path, data_path = where / "manifest.json", where / "images.u8"
    if not manifest_path.exists():
        return None, ""
    try:
        if manifest_path.stat().st_size > MANIFEST_LIMIT:
            return None, "its manifest is too large"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        kept, skipped, sums = _checked_manifest(manifest, key, listed, shape)
        size = data_path.stat().st_size
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return None, f"its manifest cannot be used ({str(exc)[:120]})"
    if size != cache_bytes(len(kept), shape):
        return None, f"its image file has {size:,} bytes instead of {cache_bytes(len(kept), shape):,}"
    bad = _first_bad_block(data_path, len(kept), shape, sums, progress)
    if bad is not None:
        return None, f"block {bad} of its images does not match its checksum"
    return (kept, skipped), ""


def _checked_manifest(manifest: object, key: str, listed: int, shape: tuple) -> tuple[list, tuple, list]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError("not a decoded cache of this version")
    if manifest.get("key") != key or tuple(manifest.get("shape", ())) != shape:
        raise ValueError("made for other files or another size")
    kept, skipped, sums = manifest["kept"], manifest["skipped"], manifest["crc32"]
    if not (isinstance(kept, list) and all(isinstance(i, int) and 0 <= i < listed for i in kept)):
        raise ValueError("its list of images is damaged")
    if not (isinstance(skipped, list) and all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p)
                                              for p in skipped)):
        raise ValueError("its list of unusable images is damaged")
    if not (isinstance(sums, list) and len(sums) == -(-len(kept) // BLOCK) and all(isinstance(c, int) for c in sums)):
        raise ValueError("its checksums are damaged")
    return kept, tuple((p, r) for p, r in skipped), sums


def _first_bad_block(path: Path, count: int, shape: tuple, sums: list, progress: Progress | None) -> int | None:
    per_image = int(np.prod(shape))
    started = time.monotonic()
    with open(path, "rb") as f:
        for block, expected in enumerate(sums):
            data = f.read(min(BLOCK, count - block * BLOCK) * per_image)
            if zlib.crc32(data) != expected:
                return block
            if progress and block % VERIFY_REPORT_EVERY == VERIFY_REPORT_EVERY - 1:
                done = (block + 1) / len(sums)
                left = (time.monotonic() - started) * (1 - done) / done
                progress(done, f"Checking the decoded cache: {done:.0%}, about {left:.0f} s left")
    return None


# ---- writing --------------------------------------------------------------------------------------------
def _build(root: Path, where: Path, key: str, samples: Sequence[tuple], shape: tuple, progress: Progress | None,
           unreadable: str) -> tuple[list, tuple]:
    needed = cache_bytes(len(samples), shape)
    where.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(where.parent).free
    if needed > free:
        raise DatasetError(f"the decoded cache of {root} needs {format_bytes(needed)} in {where.parent}, but only "
                           f"{format_bytes(free)} are free; free some space, set CNN_DESIGNER_DATA to a larger "
                           f"disk, or stream the images (--data-mode stream)")
    tmp = where.parent / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        kept, failed, sums = _write_images(root, tmp / "images.u8", samples, shape, progress)
        skipped = unusable(root, samples, failed, shape[0], unreadable)
        manifest = {"format": FORMAT, "version": VERSION, "key": key, "shape": list(shape), "kept": kept,
                    "skipped": [list(p) for p in skipped], "crc32": sums, "folder": str(root)}
        with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        if where.exists():
            shutil.rmtree(where)
        os.replace(tmp, where)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # a failed or cancelled build leaves nothing behind
    return kept, skipped


def _write_images(root: Path, path: Path, samples: Sequence[tuple], shape: tuple,
                  progress: Progress | None) -> tuple[list, list, list]:
    """Decode every sample into `path`, in order: (kept indices, failed indices, CRC-32 per block)."""
    kept, failed, sums = [], [], []
    crc, in_block, position = 0, 0, 0
    with open(path, "wb") as f:
        for x, _y, bad in decode_batches(root, samples, shape, progress, scaled=False, verb="Decoding into the cache"):
            failed += bad
            bad_set = set(bad)
            batch_indices = [i for i in range(position, position + len(x) + len(bad)) if i not in bad_set]
            position += len(x) + len(bad)
            kept += batch_indices
            for image in x.numpy():
                data = image.tobytes()
                f.write(data)
                crc = zlib.crc32(data, crc)
                in_block += 1
                if in_block == BLOCK:
                    sums.append(crc)
                    crc, in_block = 0, 0
        if in_block:
            sums.append(crc)
        f.flush()
        os.fsync(f.fileno())
    return kept, failed, sums


# ---- the images as training reads them ----------------------------------------------------------------
class CachedImages(LazyImages):
    """A lazy image tensor over a decoded cache, indexed like the float32 N×C×H×W tensor it stands for (see
    engine.data.folder_stream); each process opens the file itself."""

    what = "a cached image folder"

    def __init__(self, path: str, count: int, shape: Sequence[int], rows: Sequence[int] | None = None) -> None:
        self.path, self.count, self.image_shape = path, int(count), tuple(int(s) for s in shape)
        self.rows = np.arange(self.count) if rows is None else np.asarray(rows, dtype=np.int64)
        self._map = self._file = None

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, indices: Sequence[int] | torch.Tensor) -> CachedImages:
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1).numpy()
        return CachedImages(self.path, self.count, self.image_shape, self.rows[idx])

    def _images(self, positions: list[int]) -> torch.Tensor:
        return self._read(self.rows[np.asarray(positions, dtype=np.int64)])

    def _read(self, rows: np.ndarray) -> torch.Tensor:
        try:
            values = self._positioned(rows) if hasattr(os, "pread") else self._mapped(rows)
        except (OSError, ValueError) as exc:
            raise OSError(f"the decoded cache {self.path} cannot be read any more: {exc}") from None
        # as torchvision's ToDtype(float32, scale=True) computes it, so the values equal the in-memory path's
        return torch.from_numpy(np.ascontiguousarray(values)).to(torch.float32).mul_(1.0 / 255)

    def _positioned(self, rows: np.ndarray) -> np.ndarray:
        """One read per image at its offset. The operating system's page cache keeps the file in memory; a
        memory map would count every page an epoch touches toward each worker's own resident memory."""
        if self._file is None:
            self._file = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        size = int(np.prod(self.image_shape))
        out = np.empty((len(rows), size), np.uint8)
        for i, row in enumerate(rows.tolist()):
            data = os.pread(self._file, size, row * size)
            if len(data) != size:
                raise OSError(f"image {row} is cut short (the file is shorter than its manifest says)")
            out[i] = np.frombuffer(data, np.uint8)
        return out.reshape(len(rows), *self.image_shape)

    def _mapped(self, rows: np.ndarray) -> np.ndarray:   # where there is no pread (Windows)
        if self._map is None:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r", shape=(self.count, *self.image_shape))
        return self._map[rows]

    def __getstate__(self) -> dict:
        return {"path": self.path, "count": self.count, "image_shape": self.image_shape, "rows": self.rows}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._map = self._file = None

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            os.close(self._file)
