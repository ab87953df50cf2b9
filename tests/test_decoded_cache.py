"""The decoded cache of an image folder: the same images and batches as held in memory, read back without
decoding, rebuilt (never trusted) when damaged or stale, and nothing left behind by a cancelled build."""
from __future__ import annotations

import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import load_dataset
from engine.data import decoded_cache
from engine.data.base import DatasetError
from engine.data.folder_stream import is_lazy
from engine.training.batches import BatchSource
from engine.training.config import TrainConfig
from engine.training.devices import World

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_DESIGNER_DATA", str(tmp_path / "data"))
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cat", "dog", "owl")):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            size = (18 + i % 7, 15 + i % 5)
            pixels = np.clip(rng.normal(60 + 60 * k, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.jpg" if i % 2 else root / cls / f"{i}.png")
    return root


def _load(folder, mode, progress=None, unreadable="skip"):
    return load_dataset("folder", root=folder, input_shape=(3, 12, 12), seed=5, data_mode=mode, progress=progress,
                        unreadable=unreadable)


def _cache_dirs(folder):
    base = folder.parent / "data" / "decoded"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []


def test_cached_images_and_batches_equal_the_in_memory_ones(folder):
    memory, cached = _load(folder, "memory"), _load(folder, "cache")
    assert is_lazy(cached.train.images) and not is_lazy(memory.train.images)
    for a, b in ((memory.train, cached.train), (memory.val, cached.val), (memory.test, cached.test)):
        assert torch.equal(a.labels, b.labels)
        assert torch.equal(b.images[0:len(b)], a.images)
    config, device = TrainConfig(batch_size=8, seed=3, device="cpu"), torch.device("cpu")
    want = list(BatchSource(memory.train, device, config, World()).batches(1))
    got = list(BatchSource(cached.train, device, config, World()).batches(1))
    assert len(got) == len(want)
    for (xa, ya), (xb, yb) in zip(want, got):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    again = pickle.loads(pickle.dumps(cached.test.images))   # as a DataLoader worker receives it
    assert torch.equal(again[2:5], memory.test.images[2:5])
    entry = _cache_dirs(folder)[0]
    assert (entry / "images.u8").stat().st_size == 90 * 3 * 12 * 12   # one byte per value


def test_a_second_load_reads_the_cache_without_decoding(folder, monkeypatch):
    first = _load(folder, "cache")

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(decoded_cache, "decode_batches", no_decoding)
    second = _load(folder, "cache")
    assert torch.equal(second.train.images[0:len(second.train)], first.train.images[0:len(first.train)])


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "manifest", "missing manifest field"])
def test_a_damaged_cache_is_detected_and_rebuilt(folder, damage):
    want = _load(folder, "memory")
    _load(folder, "cache")
    entry = _cache_dirs(folder)[0]
    data, manifest = entry / "images.u8", entry / "manifest.json"
    if damage == "flip a byte":
        raw = bytearray(data.read_bytes())
        raw[1000] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        os.truncate(data, data.stat().st_size - 7)
    elif damage == "manifest":
        manifest.write_text("{not json")
    else:
        content = json.loads(manifest.read_text())
        del content["crc32"]
        manifest.write_text(json.dumps(content))
    messages = []
    got = _load(folder, "cache", progress=lambda fraction, text: messages.append(text))
    assert any(m.startswith("Rebuilding the decoded cache") for m in messages), messages
    assert torch.equal(got.train.images[0:len(got.train)], want.train.images)
    assert len(_cache_dirs(folder)) == 1


def test_a_changed_folder_gets_a_new_cache(folder):
    _load(folder, "cache")
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder / "cat" / "new.png")
    grown = _load(folder, "cache")
    assert len(grown.train) + len(grown.val) + len(grown.test) == 91
    assert len(_cache_dirs(folder)) == 2


def test_unreadable_files_are_listed_from_the_cache_too(folder):
    (folder / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    first = _load(folder, "cache")
    assert [p for p, _ in first.info.skipped] == [str(folder / "dog" / "broken.jpg")]
    again = _load(folder, "cache")
    assert again.info.skipped == first.info.skipped
    with pytest.raises(DatasetError, match="broken.jpg"):
        _load(folder, "cache", unreadable="stop")


def test_concurrent_loads_build_the_cache_once(folder, monkeypatch):
    import threading

    builds = []
    real = decoded_cache._build
    monkeypatch.setattr(decoded_cache, "_build", lambda *a, **k: builds.append(1) or real(*a, **k))
    results = []
    loaders = [threading.Thread(target=lambda: results.append(_load(folder, "cache"))) for _ in range(2)]
    for t in loaders:
        t.start()
    for t in loaders:
        t.join()
    assert len(results) == 2 and builds == [1]
    assert torch.equal(results[0].test.images[0:4], results[1].test.images[0:4])


def test_a_cancelled_build_leaves_nothing_behind(folder):
    class Cancelled(Exception):
        pass

    def cancel(fraction, text):
        if text.startswith("Decoding"):
            raise Cancelled()

    with pytest.raises(Cancelled):
        _load(folder, "cache", progress=cancel)
    assert _cache_dirs(folder) == []


def test_too_little_disk_space_is_said_before_writing(folder, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    with pytest.raises(DatasetError, match=r"needs 38.0 KB .* but only 100 bytes are free"):
        _load(folder, "cache")
    assert _cache_dirs(folder) == []
