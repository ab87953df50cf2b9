"""The .cnnd project bundle: an exact round trip, and refusal (with the reason, without executing
anything) of pickles, path traversal, oversized members, zip bombs, links and newer versions."""
import json
import os
import pickle
import stat
import zipfile

import pytest
import torch

from engine.compiler import compile_graph
from engine.graph_io import graph_to_json, save_graph
from engine.interchange import bundle as bundle_module
from engine.interchange.bundle import Bundle, BundleError, load_bundle, open_project, save_bundle
from engine.templates import load_template
from engine.training.config import Augmentation, TrainConfig
from engine.training.run_record import RunRecord

MARKER = "/tmp/cnnd_bundle_payload_ran"


def make_run(graph, seed):
    torch.manual_seed(seed)
    run = RunRecord(graph=graph, config=TrainConfig(epochs=2, lr=0.01, seed=seed, augmentation=Augmentation(hflip=True)),
                    dataset_key="generated_shapes", name=f"run {seed}", seed=seed,
                    weights={k: v.clone() for k, v in compile_graph(graph).state_dict().items()},
                    test={"loss": 0.5, "accuracy": 0.75, "class_names": ["a", "b"], "confusion": [[3, 1], [0, 4]]})
    for epoch in (1, 2):
        for name in run.epoch_metrics:
            run.epoch_metrics[name].append(epoch if name in ("epoch", "epochs") else 0.1 * epoch)
    return run


def test_round_trip_is_exact(tmp_path):
    graph = load_template("small_resnet")
    runs = [make_run(graph, 1), make_run(graph, 2)]
    weights = {k: v.clone() for k, v in runs[1].weights.items()}
    weights["conv2d_1.weight"][0, 0, 0, 0] = float("nan")  # byte equality, not closeness
    path = save_bundle(Bundle(graph, runs, weights, {"key": "generated_shapes", "size": 500}, seed=7),
                       tmp_path / "p.cnnd")
    loaded = load_bundle(path)
    assert loaded.graph == graph and loaded.seed == 7
    assert loaded.dataset == {"key": "generated_shapes", "size": 500}
    assert [r.name for r in loaded.runs] == ["run 1", "run 2"]
    for got, want in zip(loaded.runs, runs):
        assert got.graph == want.graph and got.config == want.config and got.seed == want.seed
        assert got.epoch_metrics == want.epoch_metrics and got.test == want.test
        assert all(got.weights[k].numpy().tobytes() == want.weights[k].numpy().tobytes() for k in want.weights)
    assert all(loaded.weights[k].numpy().tobytes() == weights[k].numpy().tobytes() for k in weights)


def test_plain_json_designs_still_open(tmp_path):
    save_graph(load_template("lenet5"), tmp_path / "d.json")
    project = open_project(tmp_path / "d.json")
    assert project.graph == load_template("lenet5") and project.runs == [] and project.weights is None


def write_zip(path, members: dict, manifest=None):
    manifest = manifest or {"format": "cnn-designer-bundle", "version": 1, "runs": [], "weights": None}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("graph.json", graph_to_json(load_template("lenet5")))
        for name, data in members.items():
            zf.writestr(name, data)
    return path


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture(autouse=True)
def no_marker():
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    yield
    assert not os.path.exists(MARKER), "a payload was executed"


def test_pickle_member_is_refused(tmp_path):
    path = write_zip(tmp_path / "p.cnnd", {"runs/001_x/checkpoints/last.pt": pickle.dumps(Payload())})
    with pytest.raises(BundleError, match="pickle-based file.*refused without being read"):
        load_bundle(path)


def test_pickle_disguised_as_safetensors_is_refused(tmp_path):
    manifest = {"format": "cnn-designer-bundle", "version": 1, "runs": [], "weights": "weights.safetensors"}
    path = write_zip(tmp_path / "p.cnnd", {"weights.safetensors": pickle.dumps(Payload())}, manifest)
    with pytest.raises(BundleError, match="not a valid safetensors file"):
        load_bundle(path)


@pytest.mark.parametrize("name,why", [("../evil.json", "path traversal"), ("runs/../../evil.json", "path traversal"),
                                      ("/etc/evil.json", "absolute path"), ("C:/evil.json", "absolute path"),
                                      ("runs\\..\\evil.json", "backslash")])
def test_path_traversal_is_refused(tmp_path, name, why):
    path = write_zip(tmp_path / "p.cnnd", {name: b"{}"})
    with pytest.raises(BundleError, match=why):
        load_bundle(path)
    assert not (tmp_path.parent / "evil.json").exists()


def test_oversized_member_is_refused_before_extraction(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_module, "MAX_TEXT_MEMBER", 4000)
    path = write_zip(tmp_path / "p.cnnd", {"runs/001_x/metrics.json": b" " * 5000})
    with pytest.raises(BundleError, match="would unpack to 5,000 bytes.*Refused before extraction"):
        load_bundle(path)


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "p.cnnd"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr("big.json", b"0" * (20 * 1024 * 1024))
    with pytest.raises(BundleError, match="compressed .*-fold"):
        load_bundle(path)


def test_member_larger_than_its_header_is_refused():
    # A forged header must not let more bytes out than were checked against the limits.
    info = zipfile.ZipInfo("notes.json")
    info.file_size = 9
    with pytest.raises(BundleError, match="larger than its header says"):
        bundle_module._read_member(_Lying(), info, "p.cnnd")


class _Lying:
    """Stands in for a zip whose member yields more bytes than its header declares."""

    def open(self, info):
        import io
        return io.BytesIO(b"x" * (info.file_size + 100))


def test_symlink_and_unknown_members_are_refused(tmp_path):
    path = tmp_path / "p.cnnd"
    write_zip(path, {})
    with zipfile.ZipFile(path, "a") as zf:
        link = zipfile.ZipInfo("runs/link.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(path)
    with pytest.raises(BundleError, match="only hold .json, .csv and .safetensors"):
        load_bundle(write_zip(tmp_path / "q.cnnd", {"run.py": b"import os"}))


def test_newer_version_is_refused_clearly(tmp_path):
    path = write_zip(tmp_path / "p.cnnd", {}, {"format": "cnn-designer-bundle", "version": 99, "runs": []})
    with pytest.raises(BundleError, match="saved by a newer CNN Designer \\(bundle version 99\\).*Update"):
        load_bundle(path)


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.cnnd").write_text("hello")
    with pytest.raises(BundleError, match="not a CNN Designer project bundle"):
        load_bundle(tmp_path / "x.cnnd")
    path = write_zip(tmp_path / "y.cnnd", {}, {"format": "something-else", "version": 1})
    with pytest.raises(BundleError, match="not a CNN Designer project bundle"):
        load_bundle(path)


def rewritten(tmp_path, edit, name="v.cnnd"):
    """A real bundle with one run, its members passed through edit(name, bytes) -> bytes (None drops it)."""
    graph = load_template("lenet5")
    good = save_bundle(Bundle(graph, [make_run(graph, 1)], None, {"key": "generated_shapes"}), tmp_path / "ok.cnnd")
    out = tmp_path / name
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.namelist():
            data = edit(member, src.read(member))
            if data is not None:
                dst.writestr(member, data)
    return out


def replace_in(suffix, data):
    return lambda name, old: data(old) if callable(data) and name.endswith(suffix) else (
        data if name.endswith(suffix) else old)


@pytest.mark.parametrize("run_id", ["../../../evil", "/tmp/evil", "a/b", "", "x" * 65, 7])
def test_run_id_that_could_be_a_path_is_refused(tmp_path, run_id):
    # The app stores each opened run in a folder named after its id: an id must never reach outside.
    edit = replace_in("run.json", lambda old: json.dumps({**json.loads(old), "id": run_id}).encode())
    with pytest.raises(BundleError, match=r"has the run id .*\(never a path\)"):
        load_bundle(rewritten(tmp_path, edit))


@pytest.mark.parametrize("suffix,data,why", [
    ("metrics.json", b"[1, 2]", "metrics.json must hold"),
    ("metrics.json", b'{"steps": {"loss": "abc"}}', "metrics.json must hold"),
    ("metrics.json", b'{"epochs": {"loss": [1, 2], "lr": [1]}}', "equally long"),
    ("results.json", b"[1]", "results.json must be a JSON object"),
    ("results.json", b"[" * 100000 + b"]" * 100000, "results.json is nested more than 64 levels"),
    ("/graph.json", b"\xff\xfe{", "cannot be read: .*(?i:utf-8)"),
    ("run.json", json.dumps({"format": "cnn-designer-run", "id": "abc", "seed": [1]}).encode(), "cannot be read"),
])
def test_damaged_run_members_get_a_message_not_a_crash(tmp_path, suffix, data, why):
    with pytest.raises(BundleError, match=why) as info:
        load_bundle(rewritten(tmp_path, replace_in(suffix, data)))
    assert "cnnd-" not in str(info.value)  # the temporary folder's name means nothing to the person


def test_non_utf8_graph_and_corrupt_compressed_data_are_refused(tmp_path):
    with pytest.raises(BundleError, match="graph.json is not UTF-8"):
        load_bundle(rewritten(tmp_path, lambda n, d: b"\xff\xfe{" if n == "graph.json" else d))
    path = rewritten(tmp_path, lambda n, d: d, "c.cnnd")
    raw = bytearray(path.read_bytes())
    start = raw.index(b"graph.json") + len("graph.json") + 40   # inside graph.json's deflate stream
    raw[start:start + 30] = bytes(b ^ 0xFF for b in raw[start:start + 30])
    path.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="damaged .*corrupt or incomplete"):
        load_bundle(path)


def test_manifest_data_set_keeps_only_well_typed_fields(tmp_path):
    edit = replace_in("manifest.json", lambda old: json.dumps(
        {**json.loads(old), "dataset": {"key": 5, "root": "/data", "size": -3, "extra": "x"}}).encode())
    assert load_bundle(rewritten(tmp_path, edit)).dataset == {"root": "/data"}


@pytest.mark.parametrize("where", ["version", "compression method"])
def test_a_zip_version_or_method_zipfile_does_not_know_is_a_bundle_error(tmp_path, where):
    """zipfile raises NotImplementedError for these (found by the run-folder fuzz test)."""
    path = save_bundle(Bundle(load_template("lenet5")), tmp_path / "p.cnnd")
    data = bytearray(path.read_bytes())
    if where == "version":
        at = data.find(b"PK\x01\x02")
        data[at + 6] = 84                     # version needed to extract: 8.4
    else:
        at = data.find(b"PK\x01\x02")
        data[at + 10] = 99                    # compression method 99 (AES), which zipfile cannot read
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError):
        load_bundle(path)


def test_a_member_name_flagged_utf8_that_is_not_is_refused(tmp_path):
    """zipfile decodes member names while opening the archive; a name flagged as UTF-8 holding other bytes
    raised UnicodeDecodeError from inside it (found by the fuzz soak)."""
    path = tmp_path / "p.cnnd"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("graph\u00e9.json", "{}")          # a non-ASCII name: zipfile sets the UTF-8 flag
    raw = bytearray(path.read_bytes())
    name = "graph\u00e9.json".encode()
    at = raw.rfind(name)                               # the central directory's copy, which opening reads
    raw[at + 5] = 0x82                                 # no longer valid UTF-8
    path.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="not a CNN Designer project bundle"):
        load_bundle(path)
