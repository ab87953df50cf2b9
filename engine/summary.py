"""A torchinfo-like text summary of an analysed graph (used by the command line)."""
from __future__ import annotations

from collections.abc import Iterable

from engine.analysis import Analysis
from engine.graph import GraphSpec
from engine.units import format_bytes


def shape_text(shape: Iterable[int] | None) -> str:
    return "—" if shape is None else "×".join(str(s) for s in shape)


def human_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


human_bytes = format_bytes   # the one way the app writes sizes (engine/units.py)


ENDS = ("Input", "Output")


def layer_count(graph: GraphSpec) -> int:
    """The layers between Input and Output: what the Summary's total and Explain's overview both call layers."""
    return sum(1 for n in graph.nodes if n.kind not in ENDS)


def layer_count_text(graph: GraphSpec) -> str:
    n = layer_count(graph)
    return f"{n} layer{'s' if n != 1 else ''} between Input and Output"


def summary_rows(graph: GraphSpec, analysis: Analysis) -> list:
    """(id, kind, output shape, params, MACs, receptive field) per node, in dependency order."""
    nodes = graph.node_map()
    rows = []
    for nid in analysis.order + [n for n in nodes if n not in analysis.order]:
        info = analysis.nodes[nid]
        rf = info.receptive_field
        rows.append((nid, nodes[nid].kind, shape_text(info.shape), info.params, info.macs,
                     "—" if rf is None else f"{rf[0]}×{rf[1]}"))
    return rows


def summary_table(graph: GraphSpec, analysis: Analysis) -> str:
    header = ("Layer", "Kind", "Output", "Params", "MACs", "Receptive field")
    rows = [(r[0], r[1], r[2], f"{r[3]:,}", f"{r[4]:,}", r[5]) for r in summary_rows(graph, analysis)]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(header), "-" * (sum(widths) + 2 * (len(widths) - 1))] + [line(r) for r in rows]
    out.append(f"Total: {analysis.total_params:,} parameters, {human_count(analysis.total_macs)} MACs, "
               f"{human_bytes(analysis.total_memory)} activations per image")
    return "\n".join(out)


def summary_tree(graph: GraphSpec, analysis: Analysis) -> list[tuple]:
    """summary_rows with the design's blocks as header rows above their layers, for a table that folds:
    (id or block path, kind or "▣ Class", output shape, params, MACs, receptive field, depth, is_block). A block's
    numbers are the totals of its layers; its shape is what leaves it."""
    from engine.blocks import blocks

    every = blocks(graph)
    if not every:
        return [(*row, 0, False) for row in summary_rows(graph, analysis)]
    nodes = graph.node_map()
    ordered = sorted(every, key=lambda s: (s.count("."), s))
    inside = {nid: [s for s in ordered if nodes[nid].name.startswith(s + ".")] for nid in nodes}
    out, open_scopes, shown = [], [], set()
    for row in summary_rows(graph, analysis):
        chain = inside[row[0]]
        common = 0
        while common < min(len(open_scopes), len(chain)) and open_scopes[common] == chain[common]:
            common += 1
        open_scopes = open_scopes[:common]
        for depth, scope in enumerate(chain[common:], start=common):
            if scope not in shown:
                shown.add(scope)
                out.append(_block_row(graph, analysis, every[scope], depth))
            open_scopes.append(scope)
        out.append((*row, len(chain), False))
    return out


def _block_row(graph: GraphSpec, analysis: Analysis, block, depth: int) -> tuple:
    from engine.blocks import boundary

    infos = [analysis.nodes[m] for m in block.members if m in analysis.nodes]
    _, outs = boundary(graph, block.members)
    leaving = analysis.nodes.get(outs[0].source) if outs else None
    return (block.scope, f"▣ {block.class_name}", shape_text(leaving.shape) if leaving else "—",
            sum(i.params for i in infos), sum(i.macs for i in infos), "—", depth, True)
