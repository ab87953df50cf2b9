"""MNIST, Fashion-MNIST and CIFAR-10 in torchvision's folder layout.

Files are used from `root` when present (downloaded earlier, or copied there by hand); otherwise they are
downloaded from torchvision's mirrors with a progress report and checked against torchvision's MD5 sums.
Offline and absent, a DatasetError says exactly which files to place where. Nothing is ever unpickled
freely: the CIFAR-10 batches are read with an unpickler that only rebuilds numpy arrays and plain data.
"""
from __future__ import annotations

import gzip
import io
import pickle
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.base import DatasetError, Split
from engine.units import format_bytes

DOWNLOAD_TIMEOUT = 20


@dataclass(frozen=True)
class TorchvisionSet:
    key: str
    title: str
    folder: str        # relative to root
    files: tuple       # files that must be present (relative to folder)
    downloads: tuple   # (url candidates tuple, archive name, md5)
    source: str


def _tvd():
    """torchvision.datasets, imported when a set is downloaded or read: importing torchvision pulls in
    torch._dynamo and SymPy, seconds the app's window would otherwise wait for just to list the sets."""
    import torchvision.datasets

    return torchvision.datasets


# Where each set's files live under the root and which must be there, and where they come from: what
# listing the data sets needs, written out so that listing them does not import torchvision (see _tvd).
# tests/test_torchvision_sets_layout.py checks that it still matches torchvision's own classes.
LAYOUT = {   # key: (folder relative to root, files that must be present, source)
    "mnist": ("MNIST/raw", ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"), "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion_mnist": ("FashionMNIST/raw", ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    "cifar10": ("cifar-10-batches-py", ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                        "data_batch_5", "test_batch", "batches.meta"),
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
}


def _mnist_like(key, title, cls) -> TorchvisionSet:
    raw = f"{cls.__name__}/raw"
    downloads = tuple((tuple(m + name for m in cls.mirrors), name, md5) for name, md5 in cls.resources)
    files = tuple(name[:-3] for name, _ in cls.resources)  # without .gz
    return TorchvisionSet(key, title, raw, files, downloads, cls.mirrors[0])


_SETS: dict = {}


def torchvision_sets() -> dict:
    """key -> TorchvisionSet, with the mirrors and MD5 sums from torchvision's dataset classes."""
    if not _SETS:
        tvd = _tvd()
        _SETS.update({
            "mnist": _mnist_like("mnist", "MNIST", tvd.MNIST),
            "fashion_mnist": _mnist_like("fashion_mnist", "Fashion-MNIST", tvd.FashionMNIST),
            "cifar10": TorchvisionSet(
                "cifar10", "CIFAR-10", tvd.CIFAR10.base_folder,
                tuple(n for n, _ in tvd.CIFAR10.train_list + tvd.CIFAR10.test_list) + ("batches.meta",),
                (((tvd.CIFAR10.url,), tvd.CIFAR10.filename, tvd.CIFAR10.tgz_md5),), tvd.CIFAR10.url),
        })
    return _SETS


def __getattr__(name):
    # TORCHVISION_SETS stays importable by name, built on first use rather than at import
    if name == "TORCHVISION_SETS":
        return torchvision_sets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def source(key: str) -> str:
    return LAYOUT[key][2]


def files_present(key: str, root: Path) -> bool:
    folder_name, files, _ = LAYOUT[key]
    folder = Path(root) / folder_name
    return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in files)


def _missing_message(spec: TorchvisionSet, root: Path, why: str) -> str:
    folder = Path(root) / spec.folder
    if spec.key == "cifar10":
        tvd = _tvd()
        place = (f"extract {tvd.CIFAR10.filename} (from {tvd.CIFAR10.url}) into {Path(root)} so that "
                 f"{folder} holds {', '.join(spec.files)}")
    else:
        place = f"place {', '.join(spec.files)} (or the same names ending in .gz, from {spec.source}) in {folder}"
    return (f"{spec.title} is not on this computer and could not be downloaded ({why}). To use it offline, "
            f"{place}; or pick a built-in data set such as generated_digits.")


def _download(spec: TorchvisionSet, root: Path, progress) -> None:
    """Fetch each archive (trying every mirror), check its MD5, unpack it into the torchvision layout."""
    from torchvision.datasets.utils import check_integrity, extract_archive

    folder = Path(root) / spec.folder
    target_dir = folder if spec.key != "cifar10" else Path(root)
    target_dir.mkdir(parents=True, exist_ok=True)
    for i, (urls, name, md5) in enumerate(spec.downloads):
        archive = target_dir / name
        if not check_integrity(str(archive), md5):
            errors = []
            for url in urls:
                try:
                    _fetch(url, archive, progress, f"Downloading {spec.title} ({i + 1}/{len(spec.downloads)})")
                    break
                except (urllib.error.URLError, OSError, TimeoutError) as exc:
                    errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
            else:
                raise DatasetError(_missing_message(spec, root, "; ".join(errors)))
            if not check_integrity(str(archive), md5):
                archive.unlink(missing_ok=True)
                raise DatasetError(f"the download of {name} was corrupted (MD5 mismatch); try again")
        if progress:
            progress(1.0, f"Unpacking {name}")
        extract_archive(str(archive), str(target_dir if spec.key == "cifar10" else folder))


def _fetch(url: str, dest: Path, progress, label: str) -> None:
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done / total if total else 0.0, f"{label}: {format_bytes(done)}")
    tmp.replace(dest)


def load_torchvision_set(key: str, root: Path, progress: Callable[[float, str], None] | None = None,
                         download: bool = True) -> tuple[Split, Split, tuple[str, ...]]:
    spec = torchvision_sets()[key]
    if not files_present(key, root):
        if not download:
            raise DatasetError(_missing_message(spec, root, "downloading is switched off"))
        _download(spec, root, progress)
    if progress:
        progress(1.0, f"Reading {spec.title}")
    try:
        if key == "cifar10":
            return _read_cifar(Path(root) / spec.folder)
        return _read_mnist_like(key, Path(root))
    except DatasetError:
        raise
    except Exception as exc:  # truncated or foreign files: say which set and where
        raise DatasetError(f"the {spec.title} files in {Path(root) / spec.folder} cannot be read ({exc}); "
                           f"delete them to download again, or replace them with the original files") from None


def _read_mnist_like(key: str, root: Path):
    spec = torchvision_sets()[key]
    folder = root / spec.folder
    for f in spec.files:  # torchvision reads the unpacked files; unpack any that were placed as .gz
        if not (folder / f).is_file():
            with gzip.open(folder / f"{f}.gz", "rb") as src, open(folder / f, "wb") as dst:
                shutil.copyfileobj(src, dst)
    tvd = _tvd()
    cls = tvd.MNIST if key == "mnist" else tvd.FashionMNIST
    train, test = cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)

    def split(ds):
        return Split(ds.data.unsqueeze(1).float().div_(255), ds.targets.long())

    return split(train), split(test), tuple(train.classes) if key == "fashion_mnist" else tuple(str(i) for i in range(10))


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and plain containers only; any other class in the file is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _load_batch(path: Path) -> dict:
    with open(path, "rb") as f:
        data = _ArrayUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in data.items()}


def _read_cifar(folder: Path):
    def read(names):
        xs, ys = [], []
        for name in names:
            batch = _load_batch(folder / name)
            xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.extend(int(v) for v in batch.get("labels", batch.get("fine_labels", [])))
        images = torch.from_numpy(np.concatenate(xs)).float().div_(255)
        return Split(images, torch.tensor(ys, dtype=torch.long))

    meta = _load_batch(folder / "batches.meta")
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"])
    tvd = _tvd()
    train = read([n for n, _ in tvd.CIFAR10.train_list])
    test = read([n for n, _ in tvd.CIFAR10.test_list])
    return train, test, names
