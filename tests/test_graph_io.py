"""The design file format: round trips, and clear errors that say what is wrong and where."""
import json

import pytest

from engine.graph_io import (GraphFileError, graph_from_json, graph_to_dict, graph_to_json, load_graph,
                             save_graph)
from engine.templates import load_template


def test_round_trip_every_template(tmp_path):
    for key in ("lenet5", "small_resnet", "inception", "nin"):
        graph = load_template(key)
        path = tmp_path / f"{key}.json"
        save_graph(graph, path)
        assert load_graph(path) == graph
        assert graph_from_json(graph_to_json(graph)) == graph


def test_save_is_atomic_keeps_one_backup_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "design.json"
    save_graph(load_template("lenet5"), path)
    assert [p.name for p in tmp_path.iterdir()] == ["design.json"]  # a new file has nothing to back up
    save_graph(load_template("nin"), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json", "design.json.bak"]
    assert load_graph(path).name == "Network in Network"
    assert load_graph(tmp_path / "design.json.bak") == load_template("lenet5")


def doc(**overrides):
    d = graph_to_dict(load_template("lenet5"))
    d.update(overrides)
    return d


def load_dict(d):
    return graph_from_json(json.dumps(d), source="test.json")


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.update(version=3), "newer CNN Designer"),
    (lambda d: d.update(format="something-else"), "not a CNN Designer design"),
    (lambda d: d.update(nodes="nope"), '"nodes" must be a list'),
    (lambda d: d["nodes"][1].update(kind="Conv9d"), "node 'conv2d_1': unknown layer kind 'Conv9d'"),
    (lambda d: d["nodes"][1]["params"].update(out_channels=-3), "out_channels must be at least 1"),
    (lambda d: d["nodes"][1]["params"].update(kernel_size=[1, 2, 3]), "kernel_size must be one number or a pair"),
    (lambda d: d["nodes"][1]["params"].update(wibble=1), "has no parameter 'wibble'"),
    (lambda d: d["nodes"][1]["params"].update(bias="yes"), "bias must be true or false"),
    (lambda d: d["nodes"][1].update(id="Robert'); DROP"), "id \"Robert'); DROP\" is not valid"),
    (lambda d: d["nodes"][1].update(id="input_1"), "'input_1' is used twice"),
    (lambda d: d["nodes"][1].update(pos=[0, float("inf")]), 'field "pos"'),
    (lambda d: d["edges"][0].update(target="ghost_1"), "there is no node 'ghost_1'"),
    (lambda d: d["edges"][0].update(slot=-1), 'field "slot"'),
    (lambda d: d["edges"].append(dict(d["edges"][0])), "appears twice"),
])
def test_bad_files_name_the_problem(mutate, expected):
    d = doc()
    mutate(d)
    with pytest.raises(GraphFileError) as err:
        load_dict(d)
    assert expected in str(err.value)


def test_not_json_and_not_text(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "cnn-designer-graph", ')
    with pytest.raises(GraphFileError, match="not valid JSON.*line 1"):
        load_graph(bad)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(GraphFileError, match="not a text file"):
        load_graph(binary)
    with pytest.raises(GraphFileError, match="Cannot open"):
        load_graph(tmp_path / "missing.json")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(GraphFileError):
        load_graph(deep)


def test_missing_params_take_defaults():
    d = doc()
    d["nodes"][1]["params"] = {"out_channels": 6}
    graph = load_dict(d)
    assert graph.node("conv2d_1").params["kernel_size"] == (3, 3)
    assert graph.node("conv2d_1").params["padding"] == (0, 0)
