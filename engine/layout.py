"""Automatic layout: place nodes in columns by their depth from the Input, flowing left to right.

Deep networks wrap: every `wrap` columns a new band starts below the previous one, like lines of text,
so a 20-layer chain stays readable on a screen instead of becoming one very long row."""
from __future__ import annotations

from dataclasses import replace

from engine.graph import GraphSpec

COLUMN_SPACING = 175.0
ROW_SPACING = 130.0
BAND_GAP = 50.0
WRAP_COLUMNS = 6


def layered_positions(graph: GraphSpec, column_spacing: float = COLUMN_SPACING, row_spacing: float = ROW_SPACING,
                      wrap: int | None = WRAP_COLUMNS) -> dict:
    """node id -> (x, y). Depth is the longest path from a source; nodes on cycles go in a last column."""
    incoming = {n.id: [] for n in graph.nodes}
    outgoing = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        if e.source in incoming and e.target in incoming:
            incoming[e.target].append(e.source)
            outgoing[e.source].append(e.target)
    depth = {}
    pending = {nid: len(srcs) for nid, srcs in incoming.items()}
    ready = [nid for nid, k in pending.items() if k == 0]
    for nid in ready:
        depth[nid] = 0
    while ready:
        nid = ready.pop(0)
        for t in outgoing[nid]:
            depth[t] = max(depth.get(t, 0), depth[nid] + 1)
            pending[t] -= 1
            if pending[t] == 0:
                ready.append(t)
    last = max(depth.values(), default=-1) + 1
    for nid in incoming:
        depth.setdefault(nid, last)
    columns: dict = {}
    for n in graph.nodes:  # keep the graph's order within a column, sorted by the parents' rows
        columns.setdefault(depth[n.id], []).append(n.id)
    rows: dict = {}
    for col in sorted(columns):
        ids = columns[col]
        ids.sort(key=lambda i: sum(rows.get(s, 0) for s in incoming[i]) / max(1, len(incoming[i])))
        for r, nid in enumerate(ids):
            rows[nid] = r - (len(ids) - 1) / 2
    wrap = wrap if wrap and wrap > 0 else max(columns, default=0) + 1
    bands = {}
    for col, ids in columns.items():  # each band is as tall as its tallest column
        bands[col // wrap] = max(bands.get(col // wrap, 1), len(ids))
    band_top, top = {}, 0.0
    for band in sorted(bands):
        band_top[band] = top + (bands[band] - 1) / 2 * row_spacing
        top += bands[band] * row_spacing + BAND_GAP
    return {nid: ((depth[nid] % wrap) * column_spacing, band_top[depth[nid] // wrap] + rows[nid] * row_spacing)
            for nid in rows}


def auto_layout(graph: GraphSpec) -> GraphSpec:
    pos = layered_positions(graph)
    return replace(graph, nodes=tuple(replace(n, pos=pos[n.id]) for n in graph.nodes))
