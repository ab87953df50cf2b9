"""The design file format: versioned JSON, validated field by field on load.

    {"format": "cnn-designer-graph", "version": 1, "name": "...", "description": "...",
     "nodes": [{"id": "conv2d_1", "kind": "Conv2d", "params": {...}, "pos": [x, y], "label": ""}],
     "edges": [{"source": "input_1", "target": "conv2d_1", "slot": 0}]}

Version 2 adds what an imported model keeps of its structure: a node's "name" (its module path, such as
"layer1.0.conv1", under which its weights are stored) and "module_classes" ([["layer1.0", "BasicBlock"], ...]).
A design without them is still written as version 1, so older releases open it.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from engine.atomic_write import write_text_atomic  # noqa: F401  (re-exported: the one way to write a file)
from engine.codegen_names import class_name_problem
from engine.graph import NODE_ID_PATTERN, EdgeSpec, GraphSpec, LayerSpec, file_position
from engine.module_paths import path_problem, path_problems
from engine.registry import REGISTRY, get_kind
from engine.safe_files import FileLimitError, loads_json, repair_text
from engine.units import MB

FORMAT = "cnn-designer-graph"
VERSION = 2
MAX_FILE_BYTES = 20 * MB
MAX_NODES = 20000
MAX_EDGES = 4 * MAX_NODES
MAX_MODULE_CLASSES = MAX_NODES
MAX_TEXT = 2000


class GraphFileError(ValueError):
    """A design file that cannot be read; the message says what is wrong and where."""


def graph_to_dict(graph: GraphSpec) -> dict:
    def node_dict(n: LayerSpec):
        kind = get_kind(n.kind)
        d = {"id": n.id, "kind": n.kind,
             "params": {p.name: p.to_json(n.params.get(p.name, p.default)) for p in kind.params
                        if not (p.added_later and n.params.get(p.name, p.default) == p.default)},
             "pos": [round(n.pos[0], 2), round(n.pos[1], 2)]}
        if n.label:
            d["label"] = n.label
        if n.name:
            d["name"] = n.name
        return d

    structured = bool(graph.module_classes) or any(n.name for n in graph.nodes)
    data = {"format": FORMAT, "version": VERSION if structured else 1, "name": graph.name,
            "description": graph.description, "nodes": [node_dict(n) for n in graph.nodes],
            "edges": [{"source": e.source, "target": e.target, "slot": e.slot} for e in graph.edges]}
    if graph.module_classes:
        data["module_classes"] = [[path, cls] for path, cls in graph.module_classes]
    return data


def graph_to_json(graph: GraphSpec) -> str:
    return repair_text(json.dumps(graph_to_dict(graph), indent=1, ensure_ascii=False))  # always valid UTF-8


def save_graph(graph: GraphSpec, path: str | os.PathLike[str], backup: bool = True) -> None:
    """Save a design atomically (see engine.atomic_write): the file on disk is always the complete old or
    the complete new version, and the replaced version is kept as `NAME.json.bak` when `backup`."""
    write_text_atomic(Path(path), graph_to_json(graph) + "\n", backup=backup)


def load_graph(path: str | os.PathLike[str]) -> GraphSpec:
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise GraphFileError(f"Cannot open {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GraphFileError(f"{path} is a folder; open a design file (.json) inside it.")
    if not stat.S_ISREG(info.st_mode):  # a pipe or a device such as /dev/zero would block or never end
        raise GraphFileError(f"{path.name} is not an ordinary file; CNN Designer designs are JSON files (.json).")
    too_big = (f"{path.name} is larger than {MAX_FILE_BYTES // MB} MB, the most a design file holds. "
               f"Is this really a CNN Designer design?")
    if info.st_size > MAX_FILE_BYTES:
        raise GraphFileError(too_big)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # bounded, even if the file grew since stat()
    except OSError as exc:
        raise GraphFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise GraphFileError(too_big)
    try:
        text = raw.decode("utf-8-sig")  # -sig: a byte-order mark (some Windows editors add one) is fine
    except UnicodeDecodeError:
        raise GraphFileError(f"{path.name} is not a text file; CNN Designer designs are JSON (.json).") from None
    return graph_from_json(text, source=path.name)


def graph_from_json(text: str, source: str = "the design") -> GraphSpec:
    # Depth-limited, and lone surrogates ("\\ud800") in names and labels repaired to U+FFFD, so a design that
    # loads can always be saved, trained and exported again (engine.safe_files).
    try:
        data = loads_json(text, source)
    except FileLimitError as exc:
        raise GraphFileError(f"{exc}.") from None
    return graph_from_dict(data, source)


def graph_from_dict(data: object, source: str = "the design") -> GraphSpec:
    """Validate everything; raise GraphFileError naming the node and field at fault."""
    get_kind("Input")  # make sure the registry is loaded
    if not isinstance(data, dict):
        raise GraphFileError(f"{source}: expected a JSON object at the top level.")
    if data.get("format") != FORMAT:
        raise GraphFileError(f"{source} is not a CNN Designer design (its \"format\" field is "
                             f"{_shown(data.get('format'))}, expected {FORMAT!r}).")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise GraphFileError(f"{source}: \"version\" must be a whole number; got {_shown(version)}.")
    if version > VERSION:
        raise GraphFileError(f"{source} was saved by a newer CNN Designer (design format version "
                             f"{_shown(version)}); this "
                             f"version reads up to version {VERSION}. Update CNN Designer to open it.")
    if version < 1:
        raise GraphFileError(f"{source}: unknown design format version {_shown(version)}.")
    name = _text(data.get("name", ""), "name", source)
    description = _text(data.get("description", ""), "description", source)
    raw_nodes, raw_edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(raw_nodes, list):
        raise GraphFileError(f"{source}: \"nodes\" must be a list of layers.")
    if not isinstance(raw_edges, list):
        raise GraphFileError(f"{source}: \"edges\" must be a list of connections.")
    if len(raw_nodes) > MAX_NODES:
        raise GraphFileError(f"{source} has {len(raw_nodes)} layers; at most {MAX_NODES} are supported.")
    if len(raw_edges) > MAX_EDGES:
        raise GraphFileError(f"{source} has {len(raw_edges)} connections; at most {MAX_EDGES} are supported.")
    nodes, seen = [], set()
    for i, raw in enumerate(raw_nodes):
        node = _node(raw, i, source)
        if node.id in seen:
            raise GraphFileError(f"{source}: node id {node.id!r} is used twice; ids must be unique.")
        seen.add(node.id)
        nodes.append(node)
    edges, seen_edges = [], set()  # a set: a list would make many edges take quadratic time
    for i, raw in enumerate(raw_edges):
        edge = _edge(raw, i, seen, source)
        if edge in seen_edges:
            raise GraphFileError(f"{source}: edge {i} ({edge.source} → {edge.target}) appears twice.")
        seen_edges.add(edge)
        edges.append(edge)
    graph = GraphSpec(tuple(nodes), tuple(edges), name, description,
                      _module_classes(data.get("module_classes", []), source))
    problems = path_problems(graph)
    if problems:
        raise GraphFileError(f"{source}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1
                                                           else "") + ".")
    return graph


def _module_classes(raw, source) -> tuple:
    where = f"{source}, field \"module_classes\""
    if not isinstance(raw, list):
        raise GraphFileError(f"{where}: expected a list of [module path, class name] pairs.")
    if len(raw) > MAX_MODULE_CLASSES:
        raise GraphFileError(f"{where}: at most {MAX_MODULE_CLASSES} entries are supported.")
    pairs, seen = [], set()
    for i, item in enumerate(raw):
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise GraphFileError(f"{where}, entry {i}: expected [module path, class name]; got {_shown(item)}.")
        path, cls = item
        why = path_problem(path) or class_name_problem(cls)
        if why:
            raise GraphFileError(f"{where}, entry {i}: {why}.")
        if path in seen:
            raise GraphFileError(f"{where}: the module path {path!r} is listed twice.")
        seen.add(path)
        pairs.append((path, cls))
    return tuple(pairs)


def _shown(value) -> str:
    """A value from the file for a message: repr() cut short, whatever the file put there."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return "a huge number"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value, field, where):
    if not isinstance(value, str):
        raise GraphFileError(f"{where}: \"{field}\" must be text; got {type(value).__name__}.")
    if len(value) > MAX_TEXT:
        raise GraphFileError(f"{where}: \"{field}\" is {len(value)} characters long; at most {MAX_TEXT} allowed.")
    return repair_text(value)  # also for dicts built in memory (bundles, backups), not only parsed text


def _node(raw, index, source) -> LayerSpec:
    where = f"{source}, node {index}"
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where}: expected an object with id, kind and params.")
    nid = raw.get("id")
    if not isinstance(nid, str) or not NODE_ID_PATTERN.match(nid):
        raise GraphFileError(f"{where}: id {_shown(nid)} is not valid; ids look like 'conv2d_3' (lower-case "
                             f"letters, digits and underscores, ending in _number).")
    where = f"{source}, node {nid!r}"
    kind_name = raw.get("kind")
    if not isinstance(kind_name, str) or kind_name not in REGISTRY:
        raise GraphFileError(f"{where}: unknown layer kind {_shown(kind_name)}. "
                             f"Known kinds: {', '.join(REGISTRY)}.")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise GraphFileError(f"{where}, field \"params\": expected an object of parameter values.")
    try:
        params = get_kind(kind_name).normalize(params)
    except ValueError as exc:
        raise GraphFileError(f"{where}, field \"params\": {exc}.") from None
    pos = raw.get("pos", [0, 0])
    # abs(v) <= 1e7 is False for NaN and infinity, and never converts a huge integer to float
    if (not isinstance(pos, list) or len(pos) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= 1e7 for v in pos)):
        raise GraphFileError(f"{where}, field \"pos\": expected [x, y] with two numbers up to 10,000,000; "
                             f"got {_shown(pos)}.")
    label = _text(raw.get("label", ""), "label", where)
    name = raw.get("name", "")
    if name != "":
        why = path_problem(name) if isinstance(name, str) else "a module path is text such as layer1.0.conv1"
        if why:
            raise GraphFileError(f"{where}, field \"name\": {why}; got {_shown(name)}.")
    return LayerSpec(nid, kind_name, params, file_position(pos), label, name)


def _edge(raw, index, node_ids, source) -> EdgeSpec:
    where = f"{source}, edge {index}"
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where}: expected an object with source, target and slot.")
    src, dst, slot = raw.get("source"), raw.get("target"), raw.get("slot", 0)
    for field, value in (("source", src), ("target", dst)):
        if not isinstance(value, str) or value not in node_ids:
            raise GraphFileError(f"{where}, field \"{field}\": there is no node {_shown(value)}.")
    if not isinstance(slot, int) or isinstance(slot, bool) or not 0 <= slot < 1024:
        raise GraphFileError(f"{where}, field \"slot\": expected an input number from 0 to 1023; "
                             f"got {_shown(slot)}.")
    return EdgeSpec(src, dst, slot)
