"""Hostile files: nothing the app opens may run code, write outside its folders or exhaust memory.

- Pickle payloads (a __reduce__ that creates a marker file) as weights, checkpoints, CIFAR batches and bundle
  members, through every loader (import, eval, export, resume, warm start): refused with a clear message, and
  the marker never appears. A control test proves the payload does create the marker when unpickled freely.
- Bundles with path traversal, absolute paths, links, zip bombs and thousands of members: refused before
  anything is extracted, and nothing appears outside.
- Labels, names and descriptions crafted to break out of comments and docstrings in the exported PyTorch
  source and training script: the exported code parses to the same program as with harmless text, runs in a
  fresh interpreter without creating the marker, and gives the compiled network's outputs.
"""
from __future__ import annotations

import ast
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli import run_command_line
from engine.codegen import export_python
from engine.compiler import compile_graph
from engine.data.base import DatasetError
from engine.data.torchvision_sets import load_torchvision_set
from engine.graph import LayerSpec
from engine.graph_io import save_graph
from engine.interchange import bundle as bundle_module
from engine.interchange.bundle import Bundle, BundleError, load_bundle, save_bundle
from engine.interchange.exporters import export_source
from engine.interchange.importing import import_torchvision
from engine.interchange.train_script import export_training_script
from engine.interchange.weights import WeightsError, load_weights
from engine.templates import TEMPLATE_DIR, load_template
from engine.training.checkpoint import load_checkpoint
from engine.training.config import TrainConfig
from engine.training.run_record import RunRecord, RunRecordError, load_weights_file

ROOT = Path(__file__).resolve().parent.parent


class Payload:
    """Unpickling this calls open(marker, "w"), which creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PAYLOAD_RAN"
    yield path
    assert not path.exists(), "a hostile file ran code"


# ---- pickle payloads ------------------------------------------------------------------------------------

def poisoned_files(folder: Path, marker: Path) -> dict:
    """The ways a pickle can hide in a weights or checkpoint file."""
    real = {k: v for k, v in compile_graph(load_template("lenet5")).state_dict().items()}
    files = {}

    def put(name, writer):
        files[name] = folder / name
        writer(files[name])

    put("state_dict.pt", lambda p: torch.save({**real, "conv2d_1.weight": Payload(marker)}, p))
    put("checkpoint.pt", lambda p: torch.save({"model": {**real, "x": Payload(marker)}, "epoch": 1}, p))
    put("legacy.pt", lambda p: torch.save({"w": Payload(marker)}, p, _use_new_zipfile_serialization=False))
    put("plain_pickle.pth", lambda p: p.write_bytes(pickle.dumps({"w": Payload(marker)})))
    put("whole_object.pt", lambda p: p.write_bytes(pickle.dumps(Payload(marker))))
    put("pickle.safetensors", lambda p: p.write_bytes(pickle.dumps(Payload(marker))))
    return files


def test_the_payload_really_runs_when_unpickled_freely(tmp_path):
    # The control: without the protections, these files do create the marker.
    marker = tmp_path / "control"
    files = poisoned_files(tmp_path, marker)
    torch.load(files["state_dict.pt"], weights_only=False)
    assert marker.exists()
    marker.unlink()
    pickle.loads(files["plain_pickle.pth"].read_bytes())
    assert marker.exists()


LOADERS = {
    "import weights": (load_weights, WeightsError),
    "load weights into a run / warm start": (load_weights_file, RunRecordError),
    "resume from checkpoint": (load_checkpoint, ValueError),
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_weight_loaders_refuse_pickles(tmp_path, marker, loader):
    load, error = LOADERS[loader]
    for path in poisoned_files(tmp_path, marker).values():
        with pytest.raises(error) as info:
            load(path)
        message = str(info.value)
        assert path.name in message or str(path) in message, message
        assert "weights_only=False" not in message and "\x1b[" not in message  # no advice to load unsafely


def test_torchvision_import_with_poisoned_weights(tmp_path, marker):
    path = poisoned_files(tmp_path, marker)["state_dict.pt"]
    with pytest.raises(WeightsError, match="refused because loading them could run code"):
        import_torchvision("squeezenet1_1", num_classes=3, weights_path=path)


def test_run_folder_with_poisoned_weights_is_refused(tmp_path, marker):
    graph = load_template("lenet5")
    run = RunRecord(graph=graph, config=TrainConfig(epochs=1), dataset_key="generated_digits",
                    weights=compile_graph(graph).state_dict())
    run_dir = run.save(tmp_path / "run")
    (run_dir / "weights.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    assert RunRecord.load(run_dir, load_weights=False).weights is None   # listing a run reads no weights
    with pytest.raises(RunRecordError, match="weights.safetensors"):
        RunRecord.load(run_dir)


@pytest.mark.parametrize("command", ["eval", "export", "train --resume"])
def test_command_line_refuses_poisoned_weights(tmp_path, marker, capsys, command):
    design = str(TEMPLATE_DIR / "lenet5.json")
    bad = str(poisoned_files(tmp_path, marker)["checkpoint.pt"])
    argv = {"eval": ["eval", design, "--weights", bad],
            "export": ["export", design, "--format", "py", "--weights", bad, "--out", str(tmp_path / "n.py")],
            "train --resume": ["train", design, "--data", "generated_digits", "--size", "64", "--epochs", "1",
                               "--resume", bad, "--out", str(tmp_path / "run")]}[command]
    assert run_command_line(argv) != 0
    err = capsys.readouterr().err
    assert "checkpoint.pt" in err and ("refused" in err or "other than tensors" in err), err
    assert "Traceback" not in err


def write_cifar(root: Path, meta, batch) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch))
    return root


@pytest.mark.parametrize("where", ["meta", "data batch", "inside a numpy object array"])
def test_cifar_batches_are_never_unpickled_freely(tmp_path, marker, where):
    images = {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}
    meta, batch = {"label_names": [b"a", b"b"]}, images
    if where == "meta":
        meta = {"label_names": Payload(marker)}
    elif where == "data batch":
        batch = {**images, "labels": Payload(marker)}
    else:
        batch = {**images, "extra": np.array([Payload(marker)], dtype=object)}
    root = write_cifar(tmp_path / "data", meta, batch)
    with pytest.raises(DatasetError, match=r"cannot be read \(refusing to load io.open"):
        load_torchvision_set("cifar10", root, download=False)


def test_clean_cifar_batches_still_load(tmp_path):
    # The restricted reader must still read real CIFAR-10 batches (numpy arrays, bytes, lists).
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), b"labels": [3, 1]}
    root = write_cifar(tmp_path / "data", {b"label_names": [b"cat", b"dog"]}, batch)
    train, test, names = load_torchvision_set("cifar10", root, download=False)
    assert names == ("cat", "dog") and len(train.labels) == 10 and train.images.shape[1:] == (3, 32, 32)


# ---- bundles: pickles, traversal, links, bombs ------------------------------------------------------------

def bundle_with(tmp_path, extra: dict, infos=()) -> Path:
    """A real bundle plus extra members (name -> bytes) and raw ZipInfo members ((info, bytes) pairs)."""
    good = save_bundle(Bundle(load_template("lenet5")), tmp_path / "good.cnnd")
    path = tmp_path / "hostile.cnnd"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        for name, data in extra.items():
            dst.writestr(name, data)
        for info, data in infos:
            dst.writestr(info, data)
    return path


def nothing_written_outside(name: str, tmp_path: Path) -> bool:
    """Where a traversal name would land from the extraction folder or the current folder: nothing there."""
    bases = [Path(tempfile.gettempdir()) / "cnnd-x", tmp_path / "a" / "b", Path.cwd()]
    leaf = name.replace("\\", "/").rstrip("/").split("/")[-1]
    candidates = [Path(os.path.normpath(b / name)) for b in bases] + [Path("/") / leaf, Path(name)]
    return not any(c.exists() and c.name == leaf for c in candidates)


@pytest.mark.parametrize("name", [
    "../../evil_5f1c.json", "../evil_5f1c.json", "runs/../../evil_5f1c.json", "/tmp/evil_5f1c.json",
    "//server/share/evil_5f1c.json", "C:/evil_5f1c.json", "C:\\evil_5f1c.json", "..\\..\\evil_5f1c.json",
    "runs/./evil_5f1c.json", "runs//evil_5f1c.json", "evil\x00_5f1c.json", "runs/x/../../../evil_5f1c.json"])
def test_bundle_path_traversal_is_refused(tmp_path, name):
    path = bundle_with(tmp_path, {name: b'{"a": 1}'})
    with pytest.raises(BundleError, match="refused without extracting anything|Refused"):
        load_bundle(path)  # (zipfile itself cuts a name at a NUL byte: 'evil', an unexpected member)
    assert nothing_written_outside(name, tmp_path)


def symlink(name: str, target: str):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize("name,target", [("graph.json", "/etc/passwd"), ("runs/x.json", "../../../../etc/passwd"),
                                         ("runs", "/tmp")])
def test_bundle_links_are_refused(tmp_path, name, target):
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(bundle_with(tmp_path, {}, [symlink(name, target)]))


@pytest.mark.parametrize("name", ["runs/r/checkpoints/last.pt", "weights.pkl", "model.pth", "x.npy", "a.joblib"])
def test_bundle_pickle_members_are_refused_unread(tmp_path, marker, name):
    with pytest.raises(BundleError, match="pickle-based file"):
        load_bundle(bundle_with(tmp_path, {name: pickle.dumps(Payload(marker))}))


def test_bundle_pickle_posing_as_json_or_weights_is_refused(tmp_path, marker):
    payload = pickle.dumps(Payload(marker))
    for members in ({"graph.json": payload}, {"manifest.json": payload}):
        path = tmp_path / "p.cnnd"
        with zipfile.ZipFile(path, "w") as zf:
            for name in ("manifest.json", "graph.json"):
                zf.writestr(name, members.get(name) or json.dumps(
                    {"format": "cnn-designer-bundle", "version": 1, "weights": None}))
        with pytest.raises(BundleError, match="not valid JSON|not UTF-8"):
            load_bundle(path)
    path = bundle_with(tmp_path, {})
    manifest_says_weights = {"format": "cnn-designer-bundle", "version": 1, "weights": "weights.safetensors"}
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("weights.safetensors", payload)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["manifest.json"] = json.dumps(manifest_says_weights).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    with pytest.raises(BundleError, match="not a valid safetensors file"):
        load_bundle(path)


def test_zip_bomb_by_compression_ratio_is_refused(tmp_path):
    bomb = b'{"format": "cnn-designer-graph", "version": 1, "nodes": []' + b" " * 50_000_000 + b"}"
    path = tmp_path / "bomb.cnnd"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("manifest.json", json.dumps({"format": "cnn-designer-bundle", "version": 1}))
        zf.writestr("graph.json", bomb)
    assert path.stat().st_size < 200_000   # 50 MB in well under 1 MB
    with pytest.raises(BundleError, match="zip bombs"):
        load_bundle(path)


def test_zip_bomb_by_declared_size_is_refused_before_extraction(tmp_path):
    path = bundle_with(tmp_path, {})
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x01\x02")                           # the first central directory entry
    raw[at + 24:at + 28] = (0xFFFFFFF0).to_bytes(4, "little")  # uncompressed size: 4 GB
    path.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="Refused before extraction"):
        load_bundle(path)


def test_many_members_and_huge_totals_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "many.cnnd"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(bundle_module.MAX_MEMBERS + 1):
            zf.writestr(f"runs/r/{i}.json", b"{}")
    with pytest.raises(BundleError, match="at most 5000"):
        load_bundle(path)
    monkeypatch.setattr(bundle_module, "MAX_TOTAL", 3_000_000)  # the 8 GB limit, scaled down
    with pytest.raises(BundleError, match="would unpack to more than"):
        load_bundle(bundle_with(tmp_path, {f"runs/r/{i}.csv": os.urandom(1_200_000) for i in range(3)}))


def test_run_folder_names_in_the_manifest_cannot_traverse(tmp_path):
    for folder in ("runs/../../", "/etc/", "runs/a/../"):
        path = tmp_path / "m.cnnd"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("manifest.json", json.dumps({"format": "cnn-designer-bundle", "version": 1,
                                                     "runs": [folder]}))
            zf.writestr("graph.json", (TEMPLATE_DIR / "lenet5.json").read_text())
        with pytest.raises(BundleError):
            load_bundle(path)


# ---- code injection into exported source -----------------------------------------------------------------

def hostile_texts(marker: Path) -> list:
    m = str(marker)
    return [f'"""\nimport os; os.system("touch {m}")\n"""', f"x\ropen({m!r}, 'w')", f"x\x00y\nopen({m!r}, 'w')",
            f"a\u2028open({m!r}, 'w')", f"b\u2029open({m!r}, 'w')", f"c\x85open({m!r}, 'w')",
            f"d\x0bopen({m!r}, 'w')\x0c", f"\\\nopen({m!r}, 'w')", f"'''\nopen({m!r}, 'w')\n'''", '"',
            "# -*- coding: rot13 -*-", f"<img src=x onerror=alert(1)>\n{{open({m!r}, 'w')}}", "\t\\", "\ud7ff\ufeff"]


def hostile_graph(marker, name=True):
    graph = load_template("lenet5")
    texts = hostile_texts(marker)
    nodes = tuple(replace(n, label=texts[i % len(texts)]) for i, n in enumerate(graph.nodes))
    graph = replace(graph, nodes=nodes)
    return replace(graph, name=texts[0], description=texts[-5] + texts[1]) if name else graph


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node):
        return ast.Constant("") if isinstance(node.value, str) else node


def program(source: str) -> str:
    """The parsed program with docstrings and other string constants blanked: what the code does."""
    return ast.dump(_BlankStrings().visit(ast.parse(source)))


def test_labels_only_ever_reach_comments(marker):
    clean = load_template("lenet5")
    hostile = hostile_graph(marker, name=False)
    assert ast.dump(ast.parse(export_python(hostile))) == ast.dump(ast.parse(export_python(clean)))
    assert ast.dump(ast.parse(export_training_script(hostile, TrainConfig()))) == \
        ast.dump(ast.parse(export_training_script(clean, TrainConfig())))


def test_names_and_descriptions_only_reach_comments_and_docstrings(marker):
    clean, hostile = load_template("lenet5"), hostile_graph(marker)
    assert program(export_python(hostile, "Net")) == program(export_python(clean, "Net"))
    assert program(export_training_script(hostile, TrainConfig(), class_name="Net")) == \
        program(export_training_script(clean, TrainConfig(), class_name="Net"))


@pytest.mark.parametrize("class_name", ["Net:\n    import os", "os.system('x')", "torch", "class", "", None])
def test_class_names_that_are_not_plain_identifiers_are_not_used(marker, class_name):
    source = export_training_script(hostile_graph(marker), TrainConfig(), class_name=class_name)
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    model = next(n.value.id for n in tree.body if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], "id", "") == "MODEL_CLASS")
    assert model in classes and model.isidentifier() and model not in ("torch", "nn")
    assert sum(1 for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))) == \
        sum(1 for n in ast.parse(export_training_script(load_template("lenet5"), TrainConfig())).body
            if isinstance(n, (ast.Import, ast.ImportFrom)))


@pytest.mark.parametrize("bad_id", ["conv2d_1\nimport os", "conv2d_1; import os", "x_1 = __import__('os')#_1"])
def test_node_ids_that_are_not_identifiers_are_refused_by_every_exporter(bad_id):
    graph = load_template("lenet5")
    nodes = tuple(replace(n, id=bad_id) if n.id == "conv2d_2" else n for n in graph.nodes)
    edges = tuple(replace(e, source=bad_id if e.source == "conv2d_2" else e.source,
                          target=bad_id if e.target == "conv2d_2" else e.target) for e in graph.edges)
    graph = replace(graph, nodes=nodes, edges=edges)
    with pytest.raises(ValueError, match="not a safe identifier"):
        export_python(graph)
    with pytest.raises(ValueError, match="not a safe identifier"):
        export_training_script(graph, TrainConfig())


CHECK_EXPORTS = """
import runpy, sys, torch
weights, sample, *scripts = sys.argv[1:]
state = torch.load(weights, weights_only=True)
x, expected = torch.load(sample, weights_only=True)
for path in scripts:
    namespace = runpy.run_path(path, run_name="exported")  # a training script's main() is not run
    cls = namespace.get("MODEL_CLASS") or next(v for k, v in namespace.items()
                                               if isinstance(v, type) and issubclass(v, torch.nn.Module)
                                               and v.__module__ == "exported")
    model = cls()
    model.load_state_dict(state)
    with torch.no_grad():
        print(float((model.eval()(x) - expected).abs().max()))
"""


def test_exported_code_runs_without_running_the_payload_and_matches(tmp_path, marker):
    graph = hostile_graph(marker)
    torch.manual_seed(0)
    module = compile_graph(graph).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = module(x)
    torch.save(module.state_dict(), tmp_path / "w.pt")
    torch.save((x, expected), tmp_path / "sample.pt")
    export_source(graph, tmp_path / "net.py")
    (tmp_path / "train.py").write_text(export_training_script(graph, TrainConfig()), encoding="utf-8")
    save_graph(graph, tmp_path / "hostile.json")  # the design file itself is data, but check it stays so
    done = subprocess.run([sys.executable, "-c", CHECK_EXPORTS, str(tmp_path / "w.pt"), str(tmp_path / "sample.pt"),
                           str(tmp_path / "net.py"), str(tmp_path / "train.py")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    differences = [float(v) for v in done.stdout.split()]
    assert len(differences) == 2 and max(differences) < 1e-5


def test_ids_from_files_are_validated_before_anything_uses_them(tmp_path):
    # The file format is the first line of defence: an id that is not name_123 never enters a design.
    text = (TEMPLATE_DIR / "lenet5.json").read_text().replace('"conv2d_1"', '"conv2d_1; import os"')
    (tmp_path / "bad.json").write_text(text)
    from engine.graph_io import GraphFileError, load_graph
    with pytest.raises(GraphFileError, match="is not valid; ids look like"):
        load_graph(tmp_path / "bad.json")
    assert LayerSpec("x_1", "ReLU").id == "x_1"  # (constructing specs in code stays possible)


def test_weights_are_written_without_pickle(tmp_path):
    # What the app writes is safe to hand on: safetensors, and checkpoints that weights_only=True reads.
    graph = load_template("lenet5")
    path = save_bundle(Bundle(graph, weights=compile_graph(graph).state_dict()), tmp_path / "b.cnnd")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert all(n.endswith((".json", ".csv", ".safetensors")) for n in names)
        assert not any(zf.read(n).startswith(b"\x80") for n in names)   # no pickle stream anywhere
    buffer = io.BytesIO(zipfile.ZipFile(path).read("weights.safetensors"))
    assert int.from_bytes(buffer.read(8), "little") < 1_000_000        # a safetensors header, not a pickle
