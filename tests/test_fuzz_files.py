"""Fuzzing the file readers: random and mutated designs (.json) and project bundles (.cnnd).

Starting from the real templates and a real bundle, hypothesis truncates, flips and inserts bytes, replaces any
field with values of the wrong type or absurd size, duplicates ids and edges, points edges at missing nodes and
swaps in unknown kinds; a fixed list adds deeply nested JSON, non-UTF-8 text, huge files, pipes and devices.
Every input must either load into a design that analyses, saves and reloads identically, or be refused with
the reader's own error type (GraphFileError / BundleError, both ValueError) and a short message. Anything else
(RecursionError, KeyError, TypeError, OverflowError, UnicodeDecodeError, zipfile.BadZipFile...) fails.
"""
from __future__ import annotations

import copy
import io
import json
import os
import zipfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.analysis import analyze
from engine.compiler import compile_graph
from engine.fixes import apply_fix
from engine.graph_io import MAX_EDGES, MAX_FILE_BYTES, MAX_NODES, GraphFileError, graph_from_json, graph_to_json, \
    load_graph
from engine.interchange.bundle import Bundle, BundleError, load_bundle, save_bundle
from engine.templates import TEMPLATE_DIR, load_template
from engine.training.config import TrainConfig
from engine.training.run_record import RunRecord

TEMPLATE_FILES = sorted(TEMPLATE_DIR.glob("*.json"))
TEMPLATE_BYTES = [p.read_bytes() for p in TEMPLATE_FILES]
TEMPLATE_DICTS = [json.loads(b) for b in TEMPLATE_BYTES]
MAX_MESSAGE = 1000   # a message someone can read in a dialog
DESIGN_EXAMPLES, BUNDLE_EXAMPLES, SOAK_FACTOR = 150, 60, 20


def fuzz(examples, **strategies):
    """Make property `body` two tests, test_<body> with `examples` cases in the default run and
    test_<body>_soak with SOAK_FACTOR times more under `pytest -m soak`."""
    def make(body):
        quiet = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]  # the fixtures used are read-only
        for suffix, count, mark in (("", examples, None), ("_soak", examples * SOAK_FACTOR, pytest.mark.soak)):
            test = settings(max_examples=count, deadline=None, suppress_health_check=quiet)(given(**strategies)(body))
            globals()[f"test_{body.__name__}{suffix}"] = mark(test) if mark else test
        return body
    return make


def check_design_text(text, source="fuzz.json"):
    """graph_from_json: a usable design, or GraphFileError with a short message. Returns the graph or None."""
    try:
        graph = graph_from_json(text, source)
    except GraphFileError as exc:
        assert_readable(exc, GraphFileError)
        return None
    assert_usable(graph)
    return graph


def check_design_file(path):
    try:
        graph = load_graph(path)
    except GraphFileError as exc:
        assert_readable(exc, GraphFileError)
        return None
    assert_usable(graph)
    return graph


def assert_readable(exc, kind):
    assert type(exc) is kind and isinstance(exc, ValueError)
    message = str(exc)
    assert message.strip() and len(message) <= MAX_MESSAGE, message[:2000]
    assert "Traceback" not in message


def assert_usable(graph):
    """What the app does right after opening: analyse, draw (labels), save, and reopen identically."""
    analysis = analyze(graph)
    assert set(analysis.nodes) == {n.id for n in graph.nodes}
    assert graph_from_json(graph_to_json(graph)) == graph


# ---- byte-level mutations of the real templates -----------------------------------------------------

TEMPLATE = st.integers(0, len(TEMPLATE_BYTES) - 1)
FLIP = st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255))  # (where, new byte)
FLIPS = st.lists(FLIP, min_size=1, max_size=8)
ACTIONS = st.lists(st.sampled_from(["replace", "delete", "duplicate", "dangle"]), min_size=1, max_size=4)


@fuzz(DESIGN_EXAMPLES, which=TEMPLATE, cut=st.floats(0, 1))
def truncated_templates(which, cut):
    data = TEMPLATE_BYTES[which]
    check_design_text(data[:int(len(data) * cut)].decode("utf-8", "ignore"))


@fuzz(DESIGN_EXAMPLES, which=TEMPLATE, flips=FLIPS)
def byte_flips_through_the_file_reader(tmp_path_factory, which, flips):
    data = bytearray(TEMPLATE_BYTES[which])
    for where, value in flips:
        data[int(where * len(data))] = value  # may break UTF-8, JSON, a number, a kind or an id
    path = tmp_path_factory.getbasetemp() / "flipped.json"
    path.write_bytes(bytes(data))
    check_design_file(path)


@fuzz(DESIGN_EXAMPLES, which=TEMPLATE, where=st.floats(0, 1), junk=st.binary(min_size=1, max_size=40))
def inserted_junk(which, where, junk):
    data = TEMPLATE_BYTES[which]
    at = int(where * len(data))
    check_design_text((data[:at] + junk + data[at:]).decode("utf-8", "replace"))


# ---- structure-level mutations: wrong types, absurd values, duplicates, dangling edges -------------

WEIRD_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([0, -1, 10**9, 2**63, 10**300, 1e308, "same", "Conv2d", "conv2d_1", "input_1", "",
                     "<b>x</b>", "../../etc/passwd", "\x00", "\u2028"]))
WEIRD_VALUES = st.recursive(WEIRD_LEAVES, lambda children: st.lists(children, max_size=4)
                            | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=8)


def paths_in(value, prefix=()):
    """Every (path) to a value inside the document, so any field at any depth can be hit."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_in(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths_in(v, prefix + (i,))
    return out


def mutate(doc, path, action, value):
    if not path:
        return value if action == "replace" else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "delete":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))  # duplicate node (id) or duplicate edge
    elif action == "dangle" and isinstance(parent, dict):
        parent[key] = "missing_7"                       # e.g. an edge to a node that does not exist
    return doc


@fuzz(DESIGN_EXAMPLES, data=st.data(), which=TEMPLATE, actions=ACTIONS)
def fields_with_wrong_types_and_values(data, which, actions):
    doc = copy.deepcopy(TEMPLATE_DICTS[which])
    for action in actions:
        paths = paths_in(doc)
        path = data.draw(st.sampled_from(paths), "path")
        doc = mutate(doc, path, action, data.draw(WEIRD_VALUES, "value") if action == "replace" else None)
    check_design_text(json.dumps(doc))  # json.dumps writes NaN/Infinity literals, which json.loads accepts


@fuzz(DESIGN_EXAMPLES, doc=WEIRD_VALUES)
def random_json_documents(doc):
    check_design_text(json.dumps(doc))
    check_design_text(json.dumps({"format": "cnn-designer-graph", "version": 1, "nodes": doc, "edges": doc}))


# ---- fixed hostile designs ----------------------------------------------------------------------------

def design(nodes, edges=()):
    return json.dumps({"format": "cnn-designer-graph", "version": 1, "nodes": list(nodes), "edges": list(edges)})


CONV = {"id": "conv2d_1", "kind": "Conv2d", "params": {}}
INPUT = {"id": "input_1", "kind": "Input", "params": {}}
HOSTILE_TEXTS = {
    "empty": "", "null": "null", "list": "[]", "number": "42", "string": '"x"', "empty object": "{}",
    "nested lists 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "nested objects 100,000 deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "nested nodes 100,000 deep": design([]).replace("[]", "[" * 100_000 + "]" * 100_000, 1),
    "5000-digit integer": design([{**CONV, "params": {"out_channels": int("9" * 4000)}}]).replace(
        "9" * 4000, "9" * 5000),
    "1e400 channels": design([CONV]).replace('"params": {}', '"params": {"out_channels": 1e400}'),
    "NaN kernel": design([{**CONV, "params": {"kernel_size": float("nan")}}]),
    "infinite position": design([{**CONV, "pos": [float("-inf"), 0]}]),
    "huge integer position": design([{**CONV, "pos": [10**400, 0]}]),
    "huge slot": design([INPUT, CONV], [{"source": "input_1", "target": "conv2d_1", "slot": 2**70}]),
    "negative slot": design([INPUT, CONV], [{"source": "input_1", "target": "conv2d_1", "slot": -1}]),
    "slot as text": design([INPUT, CONV], [{"source": "input_1", "target": "conv2d_1", "slot": "0"}]),
    "unknown kind": design([{**CONV, "kind": "os.system"}]),
    "kind is a list": design([{**CONV, "kind": ["Conv2d"]}]),
    "kind is an object": design([{**CONV, "kind": {"a": 1}}]),
    "id is a list": design([{**CONV, "id": ["conv2d_1"]}]),
    "id is a path": design([{**CONV, "id": "../../evil_1"}]),
    "id with code": design([{**CONV, "id": "x_1; import os"}]),
    "duplicate ids": design([CONV, CONV]),
    "edge to a missing node": design([CONV], [{"source": "conv2d_1", "target": "nowhere_1"}]),
    "edge source is an object": design([CONV], [{"source": {"a": 1}, "target": "conv2d_1"}]),
    "edge source is a list": design([CONV], [{"source": ["conv2d_1"], "target": "conv2d_1"}]),
    "duplicate edge": design([INPUT, CONV], [{"source": "input_1", "target": "conv2d_1"}] * 2),
    "unknown parameter": design([{**CONV, "params": {"__class__": 1}}]),
    "huge parameter name": design([{**CONV, "params": {"x" * 1_000_000: 1}}]),
    "huge kind name": design([{**CONV, "kind": "K" * 1_000_000}]),
    "huge wrong value": design([{**CONV, "params": {"out_channels": list(range(100_000))}}]),
    "label too long": design([{**CONV, "label": "x" * 5000}]),
    "params is a list": design([{**CONV, "params": [1, 2]}]),
    "newer version": json.dumps({"format": "cnn-designer-graph", "version": 99, "nodes": []}),
    "version 10^400": '{"format": "cnn-designer-graph", "version": 1' + "0" * 400 + ', "nodes": []}',
    "version as text": json.dumps({"format": "cnn-designer-graph", "version": "1", "nodes": []}),
    "format is a list": json.dumps({"format": ["cnn-designer-graph"], "version": 1, "nodes": []}),
}


@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_hostile_design_texts_are_refused_clearly(name):
    assert check_design_text(HOSTILE_TEXTS[name]) is None, f"{name} was accepted"


@pytest.mark.parametrize("name", ["huge slot", "kind is a list", "edge source is an object", "1e400 channels",
                                  "huge integer position", "infinite position", "NaN kernel"])
def test_messages_name_the_field(name):
    with pytest.raises(GraphFileError) as info:
        graph_from_json(HOSTILE_TEXTS[name])
    assert any(word in str(info.value) for word in ("slot", "kind", "source", "out_channels", "pos", "kernel_size"))


HOSTILE_BYTES = {
    "UTF-16 with byte-order mark": TEMPLATE_BYTES[0].decode().encode("utf-16"),
    "Latin-1 text": design([{**CONV, "label": "é"}]).replace("\\u00e9", "é").encode("latin-1"),
    "lone continuation bytes": b'{"format": "\x80\x81\x82"}',
    "PNG image": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "NUL bytes": b"\x00" * 1000,
    "zip archive": b"PK\x03\x04" + b"\x00" * 100,
}


@pytest.mark.parametrize("name", list(HOSTILE_BYTES))
def test_hostile_design_bytes_are_refused_clearly(tmp_path, name):
    path = tmp_path / "hostile.json"
    path.write_bytes(HOSTILE_BYTES[name])
    assert check_design_file(path) is None


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + TEMPLATE_BYTES[0])
    assert load_graph(path) == load_graph(TEMPLATE_FILES[0])


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:       # sparse: 21 MB on paper, nothing on disk
        f.truncate(MAX_FILE_BYTES + 1024 * 1024)
    with pytest.raises(GraphFileError, match="larger than 20 MB"):
        load_graph(path)


def test_folders_pipes_and_devices_are_refused_without_reading(tmp_path):
    with pytest.raises(GraphFileError, match="is a folder"):
        load_graph(tmp_path)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)               # reading it would block the app forever
    with pytest.raises(GraphFileError, match="not an ordinary file"):
        load_graph(fifo)
    if os.path.exists("/dev/zero"):  # reading it would never end
        with pytest.raises(GraphFileError, match="not an ordinary file"):
            load_graph("/dev/zero")
    with pytest.raises(GraphFileError, match="Cannot open"):
        load_graph(tmp_path / "missing.json")


def test_too_many_layers_and_connections_are_refused_by_count():
    nodes = [{"id": f"relu_{i}", "kind": "ReLU"} for i in range(1, MAX_NODES + 2)]
    with pytest.raises(GraphFileError, match=f"at most {MAX_NODES}"):
        graph_from_json(design(nodes))
    edges = [{"source": "relu_1", "target": "relu_2", "slot": i % 1024} for i in range(MAX_EDGES + 1)]
    with pytest.raises(GraphFileError, match=f"at most {MAX_EDGES}"):
        graph_from_json(design(nodes[:2], edges))


def test_many_connections_load_in_linear_time():
    # 40,000 distinct edges: the old duplicate check compared each with all before it (800 million compares).
    nodes = [{"id": f"add_{i}", "kind": "Add"} for i in range(1, 201)]
    edges = [{"source": f"add_{s}", "target": f"add_{t}", "slot": 0}
             for s in range(1, 201) for t in range(1, 201)]
    graph = graph_from_json(design(nodes, edges))
    assert len(graph.edges) == 200 * 200


# ---- bundles ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory):
    """A real bundle: the LeNet-5 design, its weights and one run record."""
    graph = load_template("lenet5")
    weights = {k: v.clone() for k, v in compile_graph(graph).state_dict().items()}
    run = RunRecord(graph=graph, config=TrainConfig(epochs=1), dataset_key="generated_digits", name="run",
                    weights=weights, test={"loss": 0.5, "accuracy": 0.7, "class_names": ["a"], "confusion": [[1]]})
    path = save_bundle(Bundle(graph, [run], weights, {"key": "generated_digits"}),
                       tmp_path_factory.mktemp("bundle") / "good.cnnd")
    return path.read_bytes()


def members_of(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def zipped(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def check_bundle_bytes(folder, data: bytes):
    path = folder / "fuzz.cnnd"
    path.write_bytes(data)
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        assert_readable(exc, BundleError)
        assert "cnnd-" not in str(exc)  # no temporary folder names in what the person reads
        return None
    assert_usable(bundle.graph)
    return bundle


@fuzz(BUNDLE_EXAMPLES, cut=st.floats(0, 1), flips=st.lists(FLIP, max_size=6))
def truncated_and_flipped_bundles(tmp_path_factory, good_bundle, cut, flips):
    data = bytearray(good_bundle)
    for where, value in flips:
        data[int(where * len(data))] = value
    check_bundle_bytes(tmp_path_factory.getbasetemp(), bytes(data[:max(1, int(len(data) * cut))]))


@fuzz(BUNDLE_EXAMPLES, data=st.data(), actions=ACTIONS,
      target=st.sampled_from(["manifest.json", "graph.json", "run.json", "metrics.json", "results.json",
                              "config.json"]))
def bundle_json_members_with_wrong_fields(tmp_path_factory, good_bundle, data, target, actions):
    members = members_of(good_bundle)
    name = next((n for n in members if n.endswith(target)), None)
    if name is None:
        return
    doc = json.loads(members[name])
    for action in actions:
        path = data.draw(st.sampled_from(paths_in(doc)), "path")
        doc = mutate(doc, path, action, data.draw(WEIRD_VALUES, "value") if action == "replace" else None)
    members[name] = json.dumps(doc).encode()
    check_bundle_bytes(tmp_path_factory.getbasetemp(), zipped(members))


@fuzz(BUNDLE_EXAMPLES, data=st.data(), junk=st.binary(max_size=64), where=st.floats(0, 1))
def bundle_members_with_junk_bytes(tmp_path_factory, good_bundle, data, junk, where):
    members = members_of(good_bundle)
    name = data.draw(st.sampled_from(sorted(members)), "member")
    at = int(where * len(members[name]))
    members[name] = members[name][:at] + junk + members[name][at + len(junk):]  # e.g. a safetensors header
    check_bundle_bytes(tmp_path_factory.getbasetemp(), zipped(members))


HOSTILE_BUNDLES = {
    "empty file": lambda m: b"",
    "not a zip": lambda m: b"hello",
    "zip with no members": lambda m: zipped({}),
    "no manifest": lambda m: zipped({k: v for k, v in m.items() if k != "manifest.json"}),
    "no graph": lambda m: zipped({k: v for k, v in m.items() if k != "graph.json"}),
    "manifest nested 100,000 deep": lambda m: zipped({**m, "manifest.json": b"[" * 100_000 + b"]" * 100_000}),
    "graph nested 100,000 deep": lambda m: zipped({**m, "graph.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000}),
    "graph not UTF-8": lambda m: zipped({**m, "graph.json": b"\xff\xfe\x00{"}),
    "manifest not UTF-8": lambda m: zipped({**m, "manifest.json": b"\xc3\x28"}),
    "weights header claims 2^63 bytes": lambda m: zipped({**m, "weights.safetensors":
                                                          (2**63).to_bytes(8, "little") + b"{}"}),
    "weights not safetensors": lambda m: zipped({**m, "weights.safetensors": b"\x80\x04K\x01."}),
    "weights missing": lambda m: zipped({k: v for k, v in m.items() if k != "weights.safetensors"}),
    "run listed but missing": lambda m: zipped({k: v for k, v in m.items() if not k.startswith("runs/")}),
    "manifest runs is text": lambda m: zipped({**m, "manifest.json": json.dumps(
        {**json.loads(m["manifest.json"]), "runs": "runs/x/"}).encode()}),
    "manifest seed 10^400": lambda m: zipped({**m, "manifest.json": m["manifest.json"].replace(
        b'"seed": 0', b'"seed": 1' + b"0" * 400)}),
    "manifest of a newer version": lambda m: zipped({**m, "manifest.json": json.dumps(
        {**json.loads(m["manifest.json"]), "version": 2}).encode()}),
}


@pytest.mark.parametrize("name", list(HOSTILE_BUNDLES))
def test_hostile_bundles_are_refused_clearly(tmp_path, good_bundle, name):
    assert check_bundle_bytes(tmp_path, HOSTILE_BUNDLES[name](members_of(good_bundle))) is None


def test_the_unmodified_bundle_loads(tmp_path, good_bundle):
    bundle = check_bundle_bytes(tmp_path, good_bundle)
    assert bundle.graph == load_template("lenet5") and len(bundle.runs) == 1
    assert all(torch.equal(bundle.weights[k], bundle.runs[0].weights[k]) for k in bundle.weights)


def test_an_edge_into_an_input_the_layer_lacks_is_an_error_with_working_fixes():
    # Files can name any slot below 1024; the canvas has one port on a ReLU. Fix-its assume the port exists.
    doc = copy.deepcopy(TEMPLATE_DICTS[TEMPLATE_FILES.index(TEMPLATE_DIR / "lenet5.json")])
    for edge in doc["edges"]:
        if edge["target"] == "relu_1":
            edge["slot"] = 3
    graph = graph_from_json(json.dumps(doc))
    assert any(e.target == "relu_1" and e.slot == 3 for e in graph.edges)
    analysis = analyze(graph)
    (issue,) = analysis.issues_for("relu_1")
    assert "connection into input 4, but takes one input" in issue.message and issue.fix is None
    for other in analysis.issues:
        if other.fix is not None:
            apply_fix(graph, other.fix)
