"""Hostile and broken files, round 2 (issue 16): every byte read is bounded and validated, every failure is
one clear line (exit code 2 on the command line), and nothing half-written or broken is left behind.

Each class of break is tested with several members, through the engine and the command line; the app's side
is in tests/gui/test_hostile_files_round2_gui.py."""
from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import zipfile

import pytest
import torch

from designer.training.run_store import RunStore
from engine.cli import run_command_line
from engine.compiler import compile_graph
from engine.graph_io import graph_to_json, load_graph, save_graph
from engine.interchange.bundle import Bundle, BundleError, load_bundle, save_bundle
from engine.safe_files import FileLimitError, check_write_target, loads_json, read_regular_file
from engine.templates import TEMPLATE_DIR, load_template
from engine.training.config import TrainConfig
from engine.training.run_record import RunRecord, RunRecordError

LENET = str(TEMPLATE_DIR / "lenet5.json")
POSIX = pytest.mark.skipif(os.name == "nt", reason="FIFOs and /dev/zero are POSIX")


def make_run(graph=None, name="run 1", seed=1) -> RunRecord:
    graph = graph or load_template("lenet5")
    torch.manual_seed(seed)
    run = RunRecord(graph=graph, config=TrainConfig(epochs=2, seed=seed), dataset_key="generated_digits",
                    name=name, seed=seed, weights={k: v.clone() for k, v in compile_graph(graph).state_dict().items()},
                    test={"loss": 0.5, "accuracy": 0.75, "count": 8, "class_names": ["a", "b"],
                          "per_class_accuracy": [0.5, None], "confusion": [[3, 1], [0, 4]], "misclassified": [1]})
    for epoch in (0, 1):
        for column in run.epoch_metrics:
            run.epoch_metrics[column].append(epoch if column in ("epoch", "epochs") else 0.1 * (epoch + 1))
    return run


def cli(capsys, *argv) -> tuple:
    """Exit code and stderr of the command line, run in this process (an uncaught exception fails the test)."""
    code = run_command_line([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.err


def assert_one_line_error(code, err, command):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cnn-designer {command}: "), err


# ---- class 1: imported data that later breaks the app -------------------------------------------------------

BAD_RUN_VALUES = [
    ("results.json", {"accuracy": 10**400}),
    ("results.json", {"accuracy": float("inf")}),
    ("results.json", {"accuracy": 7}),
    ("results.json", {"accuracy": "high"}),
    ("results.json", {"loss": [1]}),
    ("results.json", {"class_names": ["a"] * 5000}),
    ("results.json", {"confusion": [[1, 2]]}),
    ("results.json", {"misclassified": [-1]}),
    ("run.json", {"seed": "abc"}),
    ("run.json", {"seed": 10**400}),
    ("run.json", {"name": "x" * 100_000}),
    ("run.json", {"name": ["a list"]}),
    ("run.json", {"status": {"an": "object"}}),
    ("run.json", {"created": 12}),
    ("config.json", {"lr": 10**400}),
    ("config.json", {"freeze": 5}),
    ("config.json", {"augmentation": [1]}),
    ("metrics.json", {"steps": [1, 2]}),
    ("metrics.json", {"epochs": {"epoch": [10**400], "epochs": [1]}}),
    ("metrics.json", {"epochs": {"train_loss": ["abc"]}}),
    ("metrics.json", {"epochs": {"nonsense": [1]}}),
]


def tamper(folder, file, change):
    path = folder / file
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("file,change", BAD_RUN_VALUES, ids=[f"{f}:{list(c)[0]}" for f, c in BAD_RUN_VALUES])
def test_a_tampered_run_is_refused_with_a_message_and_the_store_still_loads(tmp_path, file, change):
    store_root = tmp_path / "runs"
    good = make_run(name="good")
    good.save(store_root / good.id)
    bad = make_run(name="bad", seed=2)
    bad.save(store_root / bad.id)
    tamper(store_root / bad.id, file, change)
    with pytest.raises(RunRecordError) as info:
        RunRecord.load(store_root / bad.id)
    assert file in str(info.value) and len(str(info.value)) < 600
    store = RunStore(store_root)
    assert [r.id for r in store.refresh()] == [good.id]
    assert len(store.problems) == 1 and file in store.problems[0]


def test_a_bundle_with_a_bad_run_value_is_refused_before_anything_reaches_the_store(tmp_path):
    run = make_run()
    path = save_bundle(Bundle(run.graph, [run]), tmp_path / "p.cnnd")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    folder = next(n for n in members if n.endswith("results.json"))
    results = json.loads(members[folder])
    members[folder] = json.dumps({**results, "accuracy": 10**400}).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(BundleError, match="accuracy"):
        load_bundle(path)


def test_values_that_are_fine_survive_the_checks(tmp_path):
    run = make_run()
    run.step_metrics["loss"] = [float("nan")]
    for column in run.step_metrics:
        if column != "loss":
            run.step_metrics[column] = [1]
    run.save(tmp_path / "r")
    back = RunRecord.load(tmp_path / "r")
    assert back.test == run.test and back.epoch_metrics == run.epoch_metrics
    assert back.step_metrics["loss"][0] != back.step_metrics["loss"][0]   # NaN: a gap in the curve


# ---- class 3: unbounded reads -------------------------------------------------------------------------------

def special_files(tmp_path) -> dict:
    """Paths that are not regular files: a FIFO, /dev/zero, a link to each, a folder, an oversized file."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    (tmp_path / "zero-link.json").symlink_to("/dev/zero")
    (tmp_path / "fifo-link.json").symlink_to(fifo)
    (tmp_path / "folder.json").mkdir()
    with open(tmp_path / "huge.json", "wb") as f:
        f.truncate(50 * 1024 * 1024)   # sparse: no disk used
    return {"fifo": fifo, "/dev/zero": "/dev/zero", "link to /dev/zero": tmp_path / "zero-link.json",
            "link to a fifo": tmp_path / "fifo-link.json", "folder": tmp_path / "folder.json",
            "oversized": tmp_path / "huge.json"}


@POSIX
def test_the_bounded_reader_refuses_every_kind_of_special_file(tmp_path):
    for what, path in special_files(tmp_path).items():
        with pytest.raises(FileLimitError) as info:
            read_regular_file(path, 1024 * 1024, "test file")
        assert str(path) in str(info.value), what
    assert read_regular_file(LENET, 1 << 20) == open(LENET, "rb").read()


def test_json_nested_deeply_or_with_huge_numbers_is_one_clear_error():
    for text in ("[" * 100_000 + "]" * 100_000, "{\"a\":" * 70 + "1" + "}" * 70, "1" * 5000, "{"):
        with pytest.raises(FileLimitError):
            loads_json(text, "the test file")


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "link to /dev/zero", "link to a fifo", "folder", "oversized"])
def test_train_config_from_a_special_file_exits_2(tmp_path, capsys, kind):
    path = special_files(tmp_path)[kind]
    code, err = cli(capsys, "train", LENET, "--config", path, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "train")
    assert not (tmp_path / "run").exists()


@POSIX
@pytest.mark.parametrize("member", ["run.json", "config.json", "graph.json", "metrics.json", "results.json"])
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero", "oversized"])
def test_eval_of_a_run_folder_with_a_special_member_exits_2(tmp_path, capsys, member, kind):
    run = make_run()
    folder = run.save(tmp_path / "run")
    target = special_files(tmp_path)[kind]
    (folder / member).unlink()
    os.symlink(target, folder / member) if kind != "fifo" else os.mkfifo(folder / member)
    code, err = cli(capsys, "eval", folder)
    assert_one_line_error(code, err, "eval")


@POSIX
def test_special_files_in_the_run_store_are_problems_not_hangs(tmp_path):
    root = tmp_path / "runs"
    for i, member in enumerate(["run.json", "metrics.json", "results.json"]):
        run = make_run(seed=i)
        folder = run.save(root / run.id)
        (folder / member).unlink()
        os.mkfifo(folder / member)
    good = make_run(name="good", seed=9)
    good.save(root / good.id)
    store = RunStore(root)
    assert [r.name for r in store.refresh()] == ["good"]
    assert len(store.problems) == 3


@POSIX
def test_a_lesson_or_design_that_is_a_special_file_is_refused(tmp_path, capsys):
    from engine.teaching.lessons import LessonError, load_lesson
    files = special_files(tmp_path)
    for kind in ("fifo", "link to /dev/zero", "oversized"):
        with pytest.raises(LessonError):
            load_lesson(files[kind])
        code, err = cli(capsys, "analyze", files[kind])
        assert_one_line_error(code, err, "analyze")


# ---- class 5: unencodable text ------------------------------------------------------------------------------

def design_with_surrogates(tmp_path):
    data = json.loads(open(LENET).read())
    data["name"] = "net \ud800"
    data["description"] = "about \udfff this"
    data["nodes"][1]["label"] = "\udbff label"
    path = tmp_path / "surrogates.json"
    path.write_text(json.dumps(data))   # ensure_ascii: the file holds the escapes "\ud800"
    return path


def test_lone_surrogates_are_repaired_at_load(tmp_path):
    graph = load_graph(design_with_surrogates(tmp_path))
    assert graph.name == "net \ufffd" and graph.description == "about \ufffd this"
    assert graph.nodes[1].label == "\ufffd label"
    graph_to_json(graph).encode("utf-8")
    save_graph(graph, tmp_path / "again.json")
    assert load_graph(tmp_path / "again.json") == graph


def test_a_design_with_surrogates_trains_and_exports(tmp_path, capsys):
    path = design_with_surrogates(tmp_path)
    code = run_command_line(["train", str(path), "--data", "generated_digits", "--size", "100", "--epochs", "1",
                             "--quiet", "--out", str(tmp_path / "run"), "--device", "cpu"])
    capsys.readouterr()
    assert code == 0
    record = RunRecord.load(tmp_path / "run")
    assert record.status == "finished" and record.graph.name == "net \ufffd"
    for fmt, out in (("cnnd", "p.cnnd"), ("py", "p.py"), ("script", "p_train.py")):
        code, err = cli(capsys, "export", path, "-f", fmt, "-o", tmp_path / out)
        assert code == 0, err
    assert load_bundle(tmp_path / "p.cnnd").graph.name == "net \ufffd"


def test_run_text_with_surrogates_is_repaired_and_saving_never_leaves_half_a_folder(tmp_path):
    run = make_run(name="bad \ud800 name")
    run.note = "\udc00"
    folder = run.save(tmp_path / "r")
    back = RunRecord.load(folder)
    assert back.name == "bad \ufffd name" and back.note == "\ufffd"
    # A value that cannot be written at all fails before the folder is created.
    broken = make_run()
    broken.test = {"accuracy": object()}
    with pytest.raises(TypeError):
        broken.save(tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_a_bundle_whose_run_graph_has_a_surrogate_opens_and_imports_completely(tmp_path):
    run = make_run()
    path = save_bundle(Bundle(run.graph, [run]), tmp_path / "p.cnnd")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    graph_member = next(n for n in members if n.startswith("runs/") and n.endswith("graph.json"))
    data = json.loads(members[graph_member])
    data["name"] = "\ud800"
    members[graph_member] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    loaded = load_bundle(path)
    store = RunStore(tmp_path / "store")
    store.save(loaded.runs[0])
    assert [r.graph.name for r in store.refresh()] == ["\ufffd"] and not store.problems


# ---- class 6: writing over special files --------------------------------------------------------------------

@POSIX
@pytest.mark.parametrize("fmt", ["py", "script", "cnnd", "onnx", "torchscript"])
@pytest.mark.parametrize("kind", ["fifo", "device", "link to a device", "folder"])
def test_export_never_replaces_a_special_file(tmp_path, capsys, fmt, kind):
    fifo = tmp_path / "out.cnnd"   # the bundle's suffix, so cnnd gets as far as writing
    os.mkfifo(fifo)
    (tmp_path / "null-link.cnnd").symlink_to("/dev/null")
    (tmp_path / "a-folder.cnnd").mkdir()
    target = {"fifo": fifo, "device": "/dev/null", "link to a device": tmp_path / "null-link.cnnd",
              "folder": tmp_path / "a-folder.cnnd"}[kind]
    before = os.lstat(target)
    code, err = cli(capsys, "export", LENET, "-f", fmt, "-o", target)
    assert_one_line_error(code, err, "export")
    assert "not an ordinary file" in err or "folder" in err or (fmt == "cnnd" and "must end in .cnnd" in err)
    after = os.lstat(target)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@POSIX
def test_writes_refuse_special_files_but_not_new_or_regular_ones(tmp_path):
    check_write_target(tmp_path / "new.json")
    (tmp_path / "old.json").write_text("{}")
    check_write_target(tmp_path / "old.json")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    check_write_target(tmp_path / "dangling")
    with pytest.raises(OSError, match="device"):
        check_write_target("/dev/null")
    run = make_run()
    os.mkfifo(tmp_path / "train-out")
    code = run_command_line(["eval", str(run.save(tmp_path / "r")), "--out", "/dev/null", "--size", "100"])
    assert code == 2


# ---- class 2: size limits that trust the header -------------------------------------------------------------

def rewrite_bundle(path, change):
    """Rewrite a bundle's members through change(members: dict name -> bytes)."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    change(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def bundle_with_run(tmp_path):
    run = make_run()
    return save_bundle(Bundle(run.graph, [run]), tmp_path / "p.cnnd")


def test_many_small_compressed_members_cannot_add_up_to_a_bomb(tmp_path, bundle_with_run, capsys):
    megabyte_of_spaces = b" " * (1024 * 1024)   # valid JSON whitespace, compressed about 1000-fold
    rewrite_bundle(bundle_with_run, lambda m: m.update({f"extra/{i:03d}.json": megabyte_of_spaces
                                                        for i in range(120)}))
    assert bundle_with_run.stat().st_size < 1024 * 1024
    with pytest.raises(BundleError, match="unpacks to more than"):
        load_bundle(bundle_with_run)
    code, err = cli(capsys, "export", bundle_with_run, "-f", "py", "-o", tmp_path / "x.py")
    assert_one_line_error(code, err, "export")
    assert not (tmp_path / "x.py").exists()


def test_a_member_that_produces_more_than_its_header_says_is_refused(tmp_path, bundle_with_run):
    data = bundle_with_run.read_bytes()
    with zipfile.ZipFile(bundle_with_run) as zf:
        info = zf.getinfo("graph.json")
    # Make both headers of graph.json claim 10 bytes: the data still inflates to the real size.
    real = info.file_size.to_bytes(4, "little")
    assert data.count(real) >= 2
    lying = bundle_with_run.with_name("lying.cnnd")
    lying.write_bytes(data.replace(real, (10).to_bytes(4, "little")))
    with pytest.raises(BundleError, match="larger than its header|damaged|not a CNN Designer|zip"):
        load_bundle(lying)


@pytest.mark.parametrize("runs", [["runs/{run}/"] * 12_000, ["runs/{run}/"] * 2,
                                  [f"runs/r{i}/" for i in range(1001)]])
def test_a_manifest_cannot_make_one_run_count_many_times(tmp_path, bundle_with_run, capsys, runs):
    def change(members):
        manifest = json.loads(members["manifest.json"])
        run = manifest["runs"][0].split("/")[1]
        manifest["runs"] = [r.format(run=run) for r in runs]
        members["manifest.json"] = json.dumps(manifest).encode()
    rewrite_bundle(bundle_with_run, change)
    with pytest.raises(BundleError, match="more than once|at most 1000"):
        load_bundle(bundle_with_run)
    code, err = cli(capsys, "export", bundle_with_run, "-f", "cnnd", "-o", tmp_path / "out.cnnd")
    assert_one_line_error(code, err, "export")
    assert not (tmp_path / "out.cnnd").exists()


def test_an_oversized_manifest_is_refused_before_it_is_parsed(bundle_with_run):
    def change(members):
        manifest = json.loads(members["manifest.json"])
        manifest["padding"] = os.urandom(1024 * 1024).hex()   # incompressible: no ratio check stops it
        members["manifest.json"] = json.dumps(manifest).encode()
    rewrite_bundle(bundle_with_run, change)
    with pytest.raises(BundleError, match="manifest.json is larger"):
        load_bundle(bundle_with_run)


# ---- class 7: tracebacks instead of exit 2 ------------------------------------------------------------------

SMALL = ["--data", "generated_digits", "--size", "100", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
         "--quiet"]


@pytest.mark.parametrize("file,content", [
    ("run.json", lambda d: {**d, "seed": "abc"}),
    ("run.json", lambda d: [d]),
    ("results.json", lambda d: [1, 2]),
    ("metrics.json", lambda d: {"steps": [], "epochs": {}}),
    ("config.json", lambda d: {**d, "augmentation": [[[]]]}),
    ("config.json", lambda d: "[" * 5000 + "]" * 5000),
    ("run.json", lambda d: '{"format": "cnn-designer-run", "id": "x", "a":' + "[" * 5000 + "]" * 5000 + "}"),
    ("run.json", lambda d: {**d, "version": 10**400}),
])
def test_eval_of_a_tampered_run_folder_exits_2(tmp_path, capsys, file, content):
    folder = make_run().save(tmp_path / "run")
    data = content(json.loads((folder / file).read_text()))
    (folder / file).write_text(data if isinstance(data, str) else json.dumps(data))
    code, err = cli(capsys, "eval", folder)
    assert_one_line_error(code, err, "eval")
    assert file in err


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"lr": ' + "1" * 5000 + "}",
                                  '{"lr": ' + "9" * 400 + "}", '{"momentum": "3"}', '{"freeze": 7}', "\xff"])
def test_a_bad_train_config_file_exits_2(tmp_path, capsys, text):
    config = tmp_path / "config.json"
    config.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff" else b"\xff\xfe")
    code, err = cli(capsys, "train", LENET, *SMALL, "--config", config, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "train")


@pytest.mark.parametrize("size", ["1" + "0" * 400 + "GB", "9" * 30 + "MB", "1e400GB", "-1GB", "inf"])
def test_an_absurd_max_memory_exits_2(capsys, size):
    with pytest.raises(SystemExit) as info:
        run_command_line(["analyze", LENET, "--max-memory", size])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and "--max-memory" in err.splitlines()[-1]


@pytest.mark.parametrize("which", ["²", "٣", "0", "99", "-1", "nope"])
def test_export_of_a_run_that_does_not_exist_exits_2(tmp_path, capsys, which):
    run = make_run()
    path = save_bundle(Bundle(run.graph, [run]), tmp_path / "p.cnnd")
    code, err = cli(capsys, "export", path, "--run", which, "-f", "py", "-o", tmp_path / "x.py")
    assert_one_line_error(code, err, "export")


def design_without_input(tmp_path):
    data = json.loads(open(LENET).read())
    inputs = {n["id"] for n in data["nodes"] if n["kind"] == "Input"}
    data["nodes"] = [n for n in data["nodes"] if n["id"] not in inputs]
    data["edges"] = [e for e in data["edges"] if e["source"] not in inputs]
    path = tmp_path / "no_input.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["script", "py", "onnx", "torchscript"])
def test_export_of_a_design_without_input_exits_2(tmp_path, capsys, fmt):
    extra = ["--data-out", tmp_path / "data.pt"] if fmt == "script" else []
    code, err = cli(capsys, "export", design_without_input(tmp_path), "-f", fmt, "-o", tmp_path / "out", *extra)
    assert_one_line_error(code, err, "export")
    assert "Input" in err and not (tmp_path / "data.pt").exists()


def test_train_without_input_or_with_a_missing_resume_path_exits_2(tmp_path, capsys):
    code, err = cli(capsys, "train", design_without_input(tmp_path), *SMALL, "--out", tmp_path / "a")
    assert_one_line_error(code, err, "train")
    for resume in (tmp_path / "missing", tmp_path / "missing" / "checkpoints" / "last.pt"):
        code, err = cli(capsys, "train", LENET, *SMALL, "--resume", resume, "--out", tmp_path / "b")
        assert_one_line_error(code, err, "train")
        assert "resume" in err


def test_a_class_count_mismatch_exits_2(tmp_path, capsys):
    code, err = cli(capsys, "train", LENET, "--data", "generated_shapes", "--fix", "auto", "--size", "100",
                    "--epochs", "1", "--device", "cpu", "--quiet", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "train")
    assert "classes" in err


@pytest.mark.parametrize("damage", [
    lambda s: {**s, "optimizer": {"state": 5}},
    lambda s: {**s, "optimizer": {"state": {}, "param_groups": [{"params": [99]}]}},
    lambda s: {**s, "epoch": "one"},
    lambda s: {**s, "model": {"conv2d_1.weight": torch.zeros(1)}},
    lambda s: {**s, "model": [1, 2]},
    lambda s: {**s, "config": [1]},
])
def test_a_tampered_checkpoint_exits_2_without_mentioning_a_log(tmp_path, capsys, damage):
    assert run_command_line(["train", LENET, *SMALL, "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    torch.save(damage(state), last)
    code, err = cli(capsys, "train", LENET, *SMALL, "--resume", tmp_path / "run", "--out", tmp_path / "again")
    assert_one_line_error(code, err, "train")
    assert "log" not in err and "resume" in err.lower()


def test_a_full_disk_when_train_starts_exits_2(tmp_path, capsys, monkeypatch):
    import errno

    from engine.training import run_record

    def full(texts):
        raise OSError(errno.ENOSPC, "No space left on device", str(next(iter(texts))))
    monkeypatch.setattr(run_record, "write_texts_atomic", full)
    code, err = cli(capsys, "train", LENET, *SMALL, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "train")
    assert "No space left" in err


def png_claiming(width, height) -> bytes:
    """A valid PNG header for a width×height grey image, and no pixel data worth the name."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


CLASSES = tuple(f"c{i}" for i in range(10))   # as many as LeNet's outputs


def image_folder(root, per_class=4):
    from PIL import Image
    for k, c in enumerate(CLASSES):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (8, 8), color=20 * i + 5 * k).save(root / c / f"{i}.png")
    return root


FOLDER_TRAIN = ["--data", "folder", "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--quiet"]


@pytest.mark.parametrize("bad", [png_claiming(30000, 30000), png_claiming(10000, 10000), b"not an image",
                                 b"\x89PNG\r\n\x1a\n", b""])
def test_a_bad_image_in_a_data_folder_is_named_and_left_out_or_stops(tmp_path, capsys, bad):
    root = image_folder(tmp_path / "data")
    (root / "c0" / "bad.png").write_bytes(bad)
    code, err = cli(capsys, "train", LENET, *FOLDER_TRAIN, "--unreadable", "stop", "--data-root", root,
                    "--out", tmp_path / "run")
    assert_one_line_error(code, err, "train")
    assert "bad.png" in err and "1 of the 41 images" in err
    folder_train = [a for a in FOLDER_TRAIN if a != "--quiet"]
    code, err = cli(capsys, "train", LENET, *folder_train, "--data-root", root, "--out", tmp_path / "run2")
    assert code == 0, err
    assert "1 image(s) could not be used and were left out" in err and "bad.png" in err


# ---- class 8: hangs -----------------------------------------------------------------------------------------

@POSIX
def test_symlink_loops_in_a_data_folder_finish_scanning_and_train(tmp_path, capsys):
    from engine.data.folder import scan_image_folder
    root = image_folder(tmp_path / "data")
    (root / "c0" / "loop").symlink_to(root)                 # back to the top
    (root / "c1" / "self").symlink_to(root / "c1")          # to itself
    (root / "c1" / "deeper").mkdir()
    (root / "c1" / "deeper" / "up").symlink_to(root / "c1")
    classes, samples = scan_image_folder(root)
    assert classes == CLASSES and len(samples) == 40
    code = run_command_line(["train", LENET, *FOLDER_TRAIN, "--data-root", str(root), "--out", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err


def test_folder_scans_are_bounded_in_depth_and_count(tmp_path, monkeypatch):
    from engine.data import folder as folder_module
    from engine.data.base import DatasetError
    root = image_folder(tmp_path / "data", per_class=3)
    deep = root / "c0"
    for i in range(folder_module.MAX_DEPTH + 3):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    shutil.copy(root / "c0" / "0.png", deep / "deep.png")
    classes, samples = folder_module.scan_image_folder(root)
    assert len(samples) == 30 and not any("deep.png" in p for p, _ in samples)
    monkeypatch.setattr(folder_module, "MAX_ENTRIES", 10)
    with pytest.raises(DatasetError, match="more than 10 files"):
        folder_module.scan_image_folder(root)


# ---- class 9: generated code that breaks on odd names -------------------------------------------------------

def design_named(tmp_path, name, file="named.json"):
    graph = load_template("lenet5")
    from dataclasses import replace
    path = tmp_path / file
    save_graph(replace(graph, name=name), path)
    return path


@pytest.mark.parametrize("name", ["%(prog)s 100%", "100% net", "%(foo)s", "50%% %s %d {} {0}", "Exception",
                                  "__builtins__", "print", "torch nn", "data loader"])
def test_exported_scripts_of_odd_design_names_run(tmp_path, capsys, name):
    import subprocess
    design = design_named(tmp_path, name)
    script = tmp_path / "odd_train.py"
    code, err = cli(capsys, "export", design, "-f", "script", "-o", script)
    assert code == 0, err
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]
    code, err = cli(capsys, "export", design, "-f", "py", "-o", tmp_path / "odd.py")
    assert code == 0, err
    namespace = {"__name__": "odd"}
    exec(compile((tmp_path / "odd.py").read_text(), "odd.py", "exec"), namespace)
    assert namespace["torch"] is torch and namespace["nn"] is torch.nn


@pytest.mark.parametrize("name", ["__builtins__", "__name__", "Exception", "print", "torch", "nn", "ｔｏｒｃｈ",
                                  "main", "DataLoader", "MODEL_CLASS", "match", "1net", "a-b", "class"])
def test_reserved_or_unusable_class_names_are_refused(tmp_path, capsys, name):
    for fmt in ("py", "script"):
        code, err = cli(capsys, "export", LENET, "-f", fmt, "--class-name", name, "-o", tmp_path / f"x.{fmt}")
        assert_one_line_error(code, err, "export")
        assert not (tmp_path / f"x.{fmt}").exists()


def test_a_good_class_name_is_used(tmp_path, capsys):
    code, err = cli(capsys, "export", LENET, "-f", "script", "--class-name", "MyNet", "-o", tmp_path / "t.py")
    assert code == 0 and "class MyNet(nn.Module)" in (tmp_path / "t.py").read_text()


@pytest.mark.parametrize("opset", ["0", "-1", "6", "99", "100000"])
def test_an_unavailable_onnx_opset_exits_2_without_a_dump(tmp_path, capsys, opset):
    pytest.importorskip("onnx")
    code, err = cli(capsys, "export", LENET, "-f", "onnx", f"--opset={opset}", "-o", tmp_path / "n.onnx")
    assert_one_line_error(code, err, "export")
    assert "opsets 7 to" in err and not (tmp_path / "n.onnx").exists()


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "link to /dev/zero", "oversized"])
def test_weights_and_checkpoints_that_are_special_files_exit_2(tmp_path, capsys, monkeypatch, kind):
    from engine import safe_files
    monkeypatch.setattr(safe_files, "MAX_WEIGHTS_BYTES", 10 * 1024 * 1024)   # the sparse "oversized" file is 50 MB
    monkeypatch.setattr("engine.training.run_record.MAX_WEIGHTS_BYTES", 10 * 1024 * 1024)
    monkeypatch.setattr("engine.interchange.weights.MAX_WEIGHTS_BYTES", 10 * 1024 * 1024)
    monkeypatch.setattr("engine.training.checkpoint.MAX_WEIGHTS_BYTES", 10 * 1024 * 1024)
    path = special_files(tmp_path)[kind]
    for argv in (["eval", LENET, "--weights", path], ["export", LENET, "-f", "onnx", "--weights", path, "-o",
                                                        tmp_path / "x.onnx"],
                 ["train", LENET, *SMALL, "--resume", path, "--out", tmp_path / "r"]):
        code, err = cli(capsys, *argv)
        assert_one_line_error(code, err, argv[0])
        assert "regular file" in err or "larger than" in err, err
