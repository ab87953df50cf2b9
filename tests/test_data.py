"""Data sets: every one yields tensors of the advertised shape, reproducibly, and problems become clear
DatasetErrors (offline without files, shape mismatches, broken folders)."""
import numpy as np
import pytest
import torch

from engine.data import DatasetError, list_datasets, load_dataset


def test_registry_lists_every_key_with_shape_and_classes():
    infos = {i.key: i for i in list_datasets()}
    assert list(infos)[0] == "generated_digits"
    assert set(infos) == {"generated_digits", "uci_digits", "generated_shapes", "scenes", "scene_objects",
                          "single_objects", "mnist", "fashion_mnist", "cifar10", "folder", "mask_folder", "box_folder",
                          "box_folder_single"}
    assert infos["scenes"].task == "segmentation" and infos["generated_digits"].task == "classification"
    assert infos["scene_objects"].task == infos["box_folder"].task == "detection"
    assert infos["single_objects"].task == infos["box_folder_single"].task == "localization"
    assert infos["generated_digits"].input_shape == (1, 28, 28) and len(infos["generated_digits"].classes) == 10
    assert infos["generated_shapes"].input_shape == (3, 32, 32)
    assert all(infos[k].offline for k in ("generated_digits", "uci_digits", "generated_shapes", "scenes",
                                          "scene_objects", "single_objects"))


@pytest.mark.parametrize("key, shape, classes", [("generated_digits", (1, 28, 28), 10),
                                                 ("generated_shapes", (3, 32, 32), 8)])
def test_generated_sets_have_advertised_shape_and_are_seeded(key, shape, classes):
    a = load_dataset(key, size=500, seed=3)
    b = load_dataset(key, size=500, seed=3)
    c = load_dataset(key, size=500, seed=4)
    assert a.input_shape == shape and a.num_classes == classes
    assert len(a.train) + len(a.val) + len(a.test) == 500
    for split in (a.train, a.val, a.test):
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.int64
        assert tuple(split.images.shape[1:]) == shape
        assert 0 <= float(split.images.min()) and float(split.images.max()) <= 1
        assert int(split.labels.max()) < classes
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.train.images, c.train.images)
    assert set(a.train.labels.tolist()) == set(range(classes))
    thumbs = a.sample_images(classes)
    assert thumbs.dtype == np.uint8 and thumbs.shape == (classes, shape[1], shape[2], shape[0])


def test_generated_digits_images_differ_within_a_class():
    d = load_dataset(size=200, seed=0)
    ones = d.train.images[d.train.labels == 1]
    assert len(ones) > 3 and not torch.allclose(ones[0], ones[1])
    assert float(ones.mean()) > 0.03  # something was drawn


def test_val_fraction_resplits_the_pool():
    d = load_dataset(size=400)
    d2 = d.with_val_fraction(0.25)
    assert len(d2.val) == round((len(d.train) + len(d.val)) * 0.25)
    assert len(d2.train) + len(d2.val) == len(d.train) + len(d.val)


def test_uci_digits_and_upscaling_fix():
    d = load_dataset("uci_digits")
    assert d.input_shape == (1, 8, 8) and len(d.train) + len(d.val) + len(d.test) == 1797
    with pytest.raises(DatasetError) as err:
        load_dataset("uci_digits", input_shape=(1, 28, 28))
    assert err.value.fixes == ("resize",) and "28×28" in str(err.value)
    big = load_dataset("uci_digits", input_shape=(3, 28, 28), fix="auto")
    assert big.input_shape == (3, 28, 28)
    assert torch.equal(big.test.images[:, 0], big.test.images[:, 2])  # grey copied to all channels
    with pytest.raises(DatasetError, match="channels"):
        load_dataset("generated_digits", size=50, input_shape=(4, 28, 28))


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("key, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_like_from_local_folder_in_torchvision_layout(tmp_path, key, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 12)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 2049)
    d = load_dataset(key, root=tmp_path, download=False)
    assert d.input_shape == (1, 28, 28) and len(d.test) == 12 and len(d.train) + len(d.val) == 30
    assert d.num_classes == 10


def test_cifar10_from_local_folder(tmp_path):
    import pickle

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": [0, 1, 2, 9]}
        (base / name).write_bytes(pickle.dumps(batch))
    names = [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                  "truck")]
    (base / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    d = load_dataset("cifar10", root=tmp_path, download=False)
    assert d.input_shape == (3, 32, 32) and len(d.test) == 4 and d.class_names[9] == "truck"


def test_cifar_reader_refuses_code_in_pickles(tmp_path):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (base / name).write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(DatasetError, match="refusing"):
        load_dataset("cifar10", root=tmp_path, download=False)


@pytest.mark.parametrize("key, folder", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")])
def test_offline_and_absent_gives_the_files_to_place(tmp_path, monkeypatch, key, folder):
    import urllib.error

    import engine.data.torchvision_sets as tvs

    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tvs.urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as err:
        load_dataset(key, root=tmp_path)
    text = str(err.value)
    assert "could not be downloaded" in text and "no network" in text
    assert str(tmp_path / folder) in text
    assert ("train-images-idx3-ubyte" in text) if key == "mnist" else ("data_batch_1" in text)


def test_image_folder_is_resized_to_the_input(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, colour in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
        (tmp_path / cls).mkdir()
        for i in range(5):
            size = (20 + i * 7, 15 + i * 3)
            img = np.clip(np.array(colour) + rng.integers(-20, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(tmp_path / cls / f"{i}.png")
    d = load_dataset("folder", root=tmp_path, input_shape=(3, 16, 24))
    assert d.input_shape == (3, 16, 24) and d.class_names == ("cats", "dogs")
    assert len(d.train) + len(d.val) + len(d.test) == 10
    grey = load_dataset("folder", root=tmp_path, input_shape=(1, 8, 8))
    assert grey.input_shape == (1, 8, 8)


def test_image_folder_problems_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("folder", root=tmp_path / "missing")
    with pytest.raises(DatasetError, match="needs a folder"):
        load_dataset("folder")
    (tmp_path / "only").mkdir()
    with pytest.raises(DatasetError):
        load_dataset("folder", root=tmp_path)
    with pytest.raises(DatasetError, match="unknown data set"):
        load_dataset("imagenet")


def test_unreadable_images_are_all_named_and_left_out_or_stop_the_load(tmp_path, monkeypatch):
    """Every file that cannot be used is named with its reason after reading all the others (not only the
    first); "stop" refuses naming the first few and counting the rest; progress says how far it is."""
    import engine.data.folder as folder
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.new("RGB", (9, 9), (40 * i, 10, 200 if cls == "b" else 0)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "a" / "text.png").write_bytes(b"not an image")
    (tmp_path / "b" / "empty.jpg").write_bytes(b"")
    (tmp_path / "b" / "cut.png").write_bytes((tmp_path / "a" / "1.png").read_bytes()[:40])
    messages = []
    d = load_dataset("folder", root=tmp_path, input_shape=(3, 8, 8), progress=lambda f, m: messages.append((f, m)))
    assert len(d.train) + len(d.val) + len(d.test) == 12
    skipped = dict(d.info.skipped)
    assert set(skipped) == {str(tmp_path / "a" / "text.png"), str(tmp_path / "b" / "empty.jpg"),
                            str(tmp_path / "b" / "cut.png")}
    assert all("not a readable image" in why for why in skipped.values())
    assert messages[-1][0] == 1.0 and "15 of 15" in messages[-1][1] and "(3 unreadable)" in messages[-1][1]
    monkeypatch.setattr(folder, "SCAN_REPORT_EVERY", 1)
    messages.clear()
    with pytest.raises(DatasetError) as err:
        load_dataset("folder", root=tmp_path, input_shape=(3, 8, 8), unreadable="stop",
                     progress=lambda f, m: messages.append(m))
    assert "3 of the 15 images" in err.value.message and "and 0 more" not in err.value.message
    assert any(m.startswith("Scanning") and "images found" in m for m in messages)
    with pytest.raises(DatasetError, match="skipped or stop"):
        load_dataset("folder", root=tmp_path, unreadable="maybe")
    for f in (tmp_path / "a").glob("*.png"):
        f.write_bytes(b"broken")
    for f in (tmp_path / "b").glob("*.png"):
        f.write_bytes(b"broken")
    with pytest.raises(DatasetError, match="none of the images .* can be used: .* and 12 more"):
        load_dataset("folder", root=tmp_path, input_shape=(3, 8, 8))
