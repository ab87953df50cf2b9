"""Fuzzing run folders and bundles with runs (issue 16): hypothesis mutates a valid run folder and a valid
.cnnd bundle at the byte level (truncation, flipped and inserted bytes) and at the JSON level (any value
replaced by one of the wrong type, absurd size, non-finite, HTML or lone surrogates; keys dropped), then
opens each the ways the app and the command line do: the run store (RunStore.refresh), `eval RUN_DIR`,
load_bundle and `export -f cnnd`.

Every input must either be refused with the reader's own error (RunRecordError / BundleError, one short
message; exit code 2 on the command line) or load into values the app can show and store again: a run that
loads from a bundle must save into the run store and list there without problems, and its accuracy must
format as a percentage. Any other exception fails the test. 2,000 cases in the normal run; 20 times
more under `pytest -m soak`.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_files import zipped  # the same zip writer the design-file fuzzing uses

from designer.training.run_store import RunStore
from engine.cli import run_command_line
from engine.interchange.bundle import Bundle, BundleError, load_bundle, save_bundle
from engine.templates import load_template
from engine.training.config import TrainConfig
from engine.training.run_record import RunRecord, RunRecordError

FOLDER_JSON_EXAMPLES, FOLDER_BYTES_EXAMPLES, BUNDLE_EXAMPLES, SOAK_FACTOR = 1100, 600, 300, 20
EVAL_EVERY = 5      # `eval RUN_DIR` costs a parser and a process-wide setup: every fifth case goes through it
MAX_MESSAGE = 1000
RUN_FILES = ("run.json", "config.json", "metrics.json", "results.json", "graph.json")


def make_run() -> RunRecord:
    graph = load_template("lenet5")
    run = RunRecord(graph=graph, config=TrainConfig(epochs=2, seed=3), dataset_key="generated_digits",
                    name="run 1", seed=3, note="",
                    test={"loss": 0.5, "accuracy": 0.75, "count": 4, "class_names": ["a", "b"],
                          "per_class_accuracy": [0.5, None], "confusion": [[1, 1], [0, 2]], "misclassified": [1]})
    for epoch in (0, 1):
        for column in run.epoch_metrics:
            run.epoch_metrics[column].append(epoch if column in ("epoch", "epochs") else 0.1 * (epoch + 1))
        for column in run.step_metrics:
            run.step_metrics[column].append(epoch + 1 if column != "loss" else float("nan"))
    return run


def _snapshot():
    with tempfile.TemporaryDirectory() as work:
        run = make_run()
        folder = run.save(Path(work) / run.id)
        files = {name: (folder / name).read_bytes() for name in RUN_FILES}
        bundle = save_bundle(Bundle(run.graph, [run]), Path(work) / "p.cnnd").read_bytes()
    return run.id, files, bundle


RUN_ID, RUN_FILES_BYTES, BUNDLE_BYTES = _snapshot()
with zipfile.ZipFile(io.BytesIO(BUNDLE_BYTES)) as _zf:
    BUNDLE_MEMBERS = {i.filename: _zf.read(i) for i in _zf.infolist()}

HOSTILE_TEXT = st.sampled_from(["", "\ud800", "a\udfffb", "<img src='x' width=4000>", "x" * 5000, "..", "/",
                                "%(prog)s", "\x00", "💥", "NaN", "abc", "running", "finished"])
HOSTILE_SCALAR = st.one_of(
    st.none(), st.booleans(), HOSTILE_TEXT,
    st.sampled_from([0, -1, 1, 2**53 + 1, 2**63, 10**400, -(10**400), 1e308, -0.0, 0.5, 7]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers())
HOSTILE_VALUE = st.recursive(HOSTILE_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=2)), max_leaves=4)


def paths(value, prefix=()):
    """Every path (tuple of keys/indices) into a parsed JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            yield from paths(v, prefix + (i,))


def mutate_json(data, draw):
    """Replace the value at a drawn path with a hostile one, or delete it."""
    where = draw(st.sampled_from(list(paths(data))))
    new = draw(HOSTILE_VALUE)
    if not where:
        return new
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = new
    return data


def dumps(data) -> bytes:
    return json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")


def mutate_bytes(data: bytes, draw) -> bytes:
    how = draw(st.sampled_from(["truncate", "flip", "insert", "replace"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:] if data else data
    junk = draw(st.binary(min_size=1, max_size=16) | st.sampled_from([b"[" * 200, b"\xff\xfe", b"1" * 5000,
                                                                         b'"\\ud800"', b"NaN", b"1e999"]))
    return data[:at] + junk + data[at + (len(junk) if how == "replace" else 0):]


def fuzz(examples, **strategies):
    """test_<body> with `examples` cases, and test_<body>_soak with SOAK_FACTOR times more under -m soak."""
    def make(body):
        quiet = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
        for suffix, count, mark in (("", examples, None), ("_soak", examples * SOAK_FACTOR, pytest.mark.soak)):
            test = settings(max_examples=count, deadline=None, suppress_health_check=quiet)(given(**strategies)(body))
            globals()[f"test_{body.__name__}{suffix}"] = mark(test) if mark else test
        return body
    return make


def assert_message(exc):
    text = str(exc)
    assert text and len(text) <= MAX_MESSAGE and "Traceback" not in text, text[:300]
    text.encode("utf-8")


def assert_showable(record: RunRecord):
    """What the app does with a listed run: format its accuracy, write its tables, save it again."""
    acc = record.test.get("accuracy") if isinstance(record.test, dict) else None
    if acc is not None:
        assert 0 <= acc <= 1
        f"{acc:.1%}"
    for table in (record.step_metrics, record.epoch_metrics):
        assert len({len(v) for v in table.values()}) <= 1
        assert all(isinstance(x, (int, float)) and not isinstance(x, bool) for v in table.values() for x in v)
    for text in (record.name, record.note, record.dataset_key, record.created, record.graph.name):
        text.encode("utf-8")


def cli_exit(argv) -> tuple:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run_command_line([str(a) for a in argv])
    return code, err.getvalue()


def open_run_folder(root: Path, files: dict):
    """Write a run folder (over the previous case's: the same five files), then read it as the run store and
    as `eval RUN_DIR` do."""
    folder = root / RUN_ID
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    try:
        record = RunRecord.load(folder, load_weights=False)
    except RunRecordError as exc:
        assert_message(exc)
        record = None
    else:
        assert_showable(record)
    store = RunStore(root)
    listed = store.refresh()
    assert len(listed) + len(store.problems) == 1
    assert all(len(p) <= MAX_MESSAGE for p in store.problems)
    CASES[0] += 1
    if CASES[0] % EVAL_EVERY == 0:
        code, err = cli_exit(["eval", folder])   # no weights in the folder: always refused, never a traceback
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err[-500:]
    return record


CASES = [0]


@pytest.fixture(scope="module")
def work():
    """A scratch folder, in memory where the system has one: thousands of cases create, fsync and delete
    folders (the readers' own temporary folders too), which on a disk would take most of the time."""
    memory = Path("/dev/shm")
    base = str(memory) if memory.is_dir() and os.access(memory, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="fuzz-runs-", dir=base) as folder:
        previous, tempfile.tempdir = tempfile.tempdir, folder
        try:
            yield Path(folder)
        finally:
            tempfile.tempdir = previous


@pytest.fixture(scope="module", autouse=True)
def one_parser():
    """Build the command line's parser once for all cases (it imports every command)."""
    import functools

    from engine import cli
    original = cli.build_parser
    cli.build_parser = functools.lru_cache(maxsize=1)(original)
    yield
    cli.build_parser = original


@fuzz(FOLDER_JSON_EXAMPLES, which=st.sampled_from(RUN_FILES), data=st.data())
def run_folder_json_mutations(work, which, data):
    files = dict(RUN_FILES_BYTES)
    files[which] = dumps(mutate_json(json.loads(files[which]), data.draw))
    open_run_folder(work / "store", files)


@fuzz(FOLDER_BYTES_EXAMPLES, which=st.sampled_from(RUN_FILES), data=st.data())
def run_folder_byte_mutations(work, which, data):
    files = dict(RUN_FILES_BYTES)
    files[which] = mutate_bytes(files[which], data.draw)
    open_run_folder(work / "store", files)


@fuzz(BUNDLE_EXAMPLES, level=st.sampled_from(["zip bytes", "member json", "member bytes"]), data=st.data())
def bundle_mutations(work, level, data):
    if level == "zip bytes":
        blob = mutate_bytes(BUNDLE_BYTES, data.draw)
    else:
        members = dict(BUNDLE_MEMBERS)
        name = data.draw(st.sampled_from(sorted(n for n in members if n.endswith(".json"))))
        members[name] = (dumps(mutate_json(json.loads(members[name]), data.draw)) if level == "member json"
                         else mutate_bytes(members[name], data.draw))
        blob = zipped(members)
    path = work / "fuzz.cnnd"
    path.write_bytes(blob)
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        assert_message(exc)
        assert str(work) not in str(exc) and "cnnd-" not in str(exc)
        bundle = None
    if bundle is not None:
        # Whatever a bundle brings in must store, list and reload without problems (the app copies its runs).
        root = work / "bundle-store"
        shutil.rmtree(root, ignore_errors=True)
        store = RunStore(root)
        for run in bundle.runs:
            assert_showable(run)
            store.save(run)
        assert len(store.refresh()) == len(bundle.runs) and not store.problems, store.problems
    out = work / "out.cnnd"
    code, err = cli_exit(["export", path, "-f", "cnnd", "-o", out])
    assert code == (0 if bundle is not None else 2), err[-500:]
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1
    if code == 0:
        again = load_bundle(out)
        assert [r.id for r in again.runs] == [r.id for r in bundle.runs]
        assert [json.dumps(r.test) for r in again.runs] == [json.dumps(r.test) for r in bundle.runs]
