"""Image folders streamed from disk: the same images, splits and batches as held in memory (order and content,
for the same seed), resumable mid-epoch, chosen automatically by size, and a file that vanishes mid-run is a
clear error naming the data set."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import load_dataset
from engine.data.folder_stream import is_lazy
from engine.training.batches import BatchSource
from engine.training.config import TrainConfig
from engine.training.devices import World
from engine.training.faults import DataSourceError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cat", "dog", "owl")):
        (root / cls).mkdir()
        for i in range(30):
            size = (18 + i % 7, 15 + i % 5)
            pixels = np.clip(rng.normal(60 + 60 * k, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def _load(folder, mode):
    return load_dataset("folder", root=folder, input_shape=(3, 12, 12), seed=5, data_mode=mode)


def test_streamed_and_in_memory_folders_hold_the_same_images_and_splits(folder):
    memory, stream = _load(folder, "memory"), _load(folder, "stream")
    assert not is_lazy(memory.train.images) and is_lazy(stream.train.images)
    for a, b in ((memory.train, stream.train), (memory.val, stream.val), (memory.test, stream.test)):
        assert torch.equal(a.labels, b.labels) and b.images.shape == a.images.shape
        torch.testing.assert_close(b.images[0:len(b)], a.images, rtol=0, atol=0)
    assert stream.class_names == memory.class_names == ("cat", "dog", "owl")
    assert torch.equal(stream.test.images[3], memory.test.images[3])


@pytest.mark.parametrize("skip", [0, 2])
def test_streamed_batches_equal_the_in_memory_batches_and_resume_mid_epoch(folder, skip):
    memory, stream = _load(folder, "memory"), _load(folder, "stream")
    config = TrainConfig(batch_size=8, seed=11, device="cpu")
    device = torch.device("cpu")
    resident = BatchSource(memory.train, device, config, World())
    streamed = BatchSource(stream.train, device, config, World())
    assert resident.resident and not streamed.resident
    for epoch in (0, 1):
        want = list(resident.batches(epoch))[skip:]
        got = list(streamed.batches(epoch, skip=skip))
        assert len(got) == len(want) == resident.steps_per_epoch - skip
        for (x1, y1), (x2, y2) in zip(want, got):
            assert torch.equal(y1, y2) and torch.equal(x1, x2)


def test_two_ranks_read_disjoint_halves_of_every_epoch(folder):
    stream = _load(folder, "stream")
    config = TrainConfig(batch_size=8, seed=2, device="cpu")
    ranks = [BatchSource(stream.train, torch.device("cpu"), config, World(rank=r, size=2)) for r in (0, 1)]
    paths = stream.train.images.paths
    for epoch in (0, 1, 2):
        shards = [set(paths[i] for i in r.shard(epoch).tolist()) for r in ranks]
        assert not shards[0] & shards[1] and len(shards[0]) == len(shards[1]) == len(paths) // 2
        assert len(shards[0] | shards[1]) == len(paths) - len(paths) % 2
    assert ranks[0].shard(0).tolist() != ranks[0].shard(1).tolist()   # reshuffled each epoch


def test_auto_streams_only_what_would_not_fit(folder, monkeypatch):
    import engine.memory_limit as memory_limit

    assert not is_lazy(_load(folder, "auto").train.images)
    monkeypatch.setattr(memory_limit, "current_limit", lambda: 1000)   # 90 images of 3×12×12 floats do not fit
    assert is_lazy(_load(folder, "auto").train.images)
    with pytest.raises(Exception, match="data mode is one of"):
        _load(folder, "sometimes")


def test_folder_images_behave_like_the_tensor_they_stand_for(folder):
    images = _load(folder, "stream").test.images
    n = len(images)
    assert images.shape == (n, 3, 12, 12) and images.dim() == 4 and images.nelement() == n * 3 * 12 * 12
    assert images[torch.tensor([2, 0])].shape == (2, 3, 12, 12) and images[1].shape == (3, 12, 12)
    assert torch.equal(images.take([4, 1])[0], images[4])
    again = pickle.loads(pickle.dumps(images))       # how it reaches the training process
    assert again.paths == images.paths and torch.equal(again[2], images[2])
    with pytest.raises(TypeError, match="read in batches"):
        images.to("cpu")


def test_an_image_that_vanishes_mid_run_names_the_data_set(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    stream = load_dataset("folder", root=copy, input_shape=(3, 12, 12), seed=5, data_mode="stream")
    for file in (copy / "dog").iterdir():
        file.write_bytes(b"gone bad")
    source = BatchSource(stream.train, torch.device("cpu"), TrainConfig(batch_size=64, seed=1, device="cpu"),
                         World(), name="Image folder")
    with pytest.raises(DataSourceError, match="“Image folder” could not be read during epoch 1.*dog"):
        list(source.batches(0))


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_streamed_test_set_is_evaluated_by_workers_with_the_in_memory_result(folder, in_thread):
    import threading

    from engine.compiler import compile_graph
    from engine.graph import chain
    from engine.training.evaluate import evaluate

    memory, stream = _load(folder, "memory"), _load(folder, "stream")
    torch.manual_seed(0)
    module = compile_graph(chain([("Input", {"channels": 3, "height": 12, "width": 12}), ("Flatten", {}),
                                  ("Linear", {"out_features": 3}), ("Output", {"classes": 3})]))
    want = evaluate(module, memory.test, memory.class_names, "cpu", batch_size=4)
    got = {}
    run = lambda: got.update(result=evaluate(module, stream.test, stream.class_names, "cpu", batch_size=4))  # noqa: E731
    if in_thread:   # as the app evaluates: in a background thread, where workers must not be forked
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    else:
        run()
    assert np.array_equal(got["result"].predictions, want.predictions)
    assert got["result"].loss == pytest.approx(want.loss, rel=1e-6)
