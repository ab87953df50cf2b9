"""A block explained as a unit: what goes in and out, its share of the network's parameters and compute, how
much it widens each value's view of the image (its receptive field), what is inside, and where else it is used."""
from __future__ import annotations

from engine.analysis import Analysis
from engine.blocks import blocks, boundary, uses
from engine.graph import GraphSpec
from engine.summary import human_count, shape_text
from engine.teaching.explain import Explanation, Fact, Section, Text, number_text, percent

INTRO = ("A block is a group of layers used as one unit, the way architects draw networks: a residual block, an "
         "inception module, a VGG stage. It computes exactly what its layers compute; grouping them gives the "
         "design a structure you can collapse, reuse and export as one PyTorch class.")


def explain_block(graph: GraphSpec, analysis: Analysis, scope: str) -> Explanation:
    block = blocks(graph)[scope]
    nodes = graph.node_map()
    infos = {m: analysis.nodes[m] for m in block.members if m in analysis.nodes}
    params, macs = sum(i.params for i in infos.values()), sum(i.macs for i in infos.values())
    ins, outs = boundary(graph, block.members)
    entering = analysis.nodes.get(ins[0].source) if ins else None
    leaving = analysis.nodes.get(outs[0].source) if outs else None
    total_params, total_macs = analysis.total_params, analysis.total_macs
    facts = [Fact("Layers inside", str(len(block.members)), "block_layers", len(block.members)),
             Fact("Takes", shape_text(entering.shape) if entering else "—", "block_in"),
             Fact("Passes on", shape_text(leaving.shape) if leaving else "—", "block_out"),
             Fact("Learned parameters", f"{number_text(params)}" + (f" = {percent(params / total_params)} of the "
                  f"network" if total_params else ""), "block_params", params),
             Fact("Multiply-adds per image", f"{human_count(macs)}" + (f" = {percent(macs / total_macs)} of the "
                  f"network" if total_macs else ""), "block_macs", macs)]
    sections = [Section("The block as a unit", tuple(facts))]
    if entering is not None and leaving is not None and entering.receptive_field and leaving.receptive_field:
        (a, b), (c, d) = entering.receptive_field, leaving.receptive_field
        sections.append(Section("Receptive field through it", (
            Text(f"Each value entering the block sees {a}×{b} pixels of the input image; each value leaving it sees "
                 f"{c}×{d}. The block widens every value's view by {c - a}×{d - b} pixels: stacked blocks let late "
                 f"layers see whole objects."),)))
    heavy = sorted((m for m in infos if infos[m].params), key=lambda m: -infos[m].params)[:4]
    if heavy and params:
        inside = [Fact(f"{nodes[m].name.rsplit('.', 1)[-1] or m} ({nodes[m].kind})",
                       f"{number_text(infos[m].params)} = {percent(infos[m].params / params)} of the block",
                       f"inside_{m}", infos[m].params) for m in heavy]
        sections.append(Section("Where its parameters are", tuple(inside)))
    others = [s for s in uses(graph, block.class_name) if s != scope]
    if others:
        shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
        sections.append(Section("Other uses", (Text(
            f"{block.class_name} is used {len(others) + 1} times; the others are {shown}. An edit to a layer inside "
            f"one use is made in every use that had the same value, so uses with other settings (channels, stride) "
            f"keep theirs; Make Unique gives this use a class of its own."),)))
    return Explanation(f"{block.class_name} · {scope}", "Block", INTRO, sections, summary="A group of layers used "
                       "as one unit.")
