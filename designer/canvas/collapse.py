"""Collapsing blocks on the canvas: which uses of blocks are shown as one node, and the canvas items that stand
for them. A view setting, not an edit: the design keeps every layer and its place; collapsing hides a block's
layers and the connections between them, shows one BlockItem instead and routes the connections that cross the
block's boundary to its ports."""
from __future__ import annotations

from PySide6.QtCore import QPointF

from designer.canvas.block_item import BlockItem
from engine.blocks import blocks, boundary, outermost


class Collapser:
    def __init__(self, scene):
        self.scene = scene
        self.collapsed: set = set()      # scopes shown as one node
        self.items: dict = {}            # scope -> BlockItem, for the outermost collapsed uses
        self.owner: dict = {}            # node id -> scope of the outermost collapsed block holding it

    # ---- what is collapsed ---------------------------------------------------------------------
    def set_collapsed(self, scope: str, on: bool) -> None:
        (self.collapsed.add if on else self.collapsed.discard)(scope)
        self.refresh()

    def collapse_all(self) -> None:
        """Show every outermost block as one node."""
        self.collapsed = set(blocks(self.scene.document.graph))
        self.refresh()

    def expand_all(self) -> None:
        self.collapsed = set()
        self.refresh()

    def visible_item(self, node_id: str):
        """The item showing the node: its own, or the collapsed block holding it."""
        scope = self.owner.get(node_id)
        return self.items[scope] if scope is not None else self.scene.node_items.get(node_id)

    # ---- keeping the canvas in step --------------------------------------------------------------
    def refresh(self) -> None:
        scene, graph = self.scene, self.scene.document.graph
        every = blocks(graph)
        self.collapsed &= set(every)   # a block ungrouped or deleted is no longer collapsed
        owner = outermost(graph, self.collapsed)
        tops = sorted(set(owner.values()))
        for item in self.items.values():
            for edge in list(item.edges):
                edge.retarget(scene.node_items.get(edge.edge.source), scene.node_items.get(edge.edge.target))
            scene.removeItem(item)
        self.items, self.owner = {}, owner
        if not owner and not any(not item.isVisible() for item in scene.node_items.values()):
            return   # nothing collapsed, before or now: the common case costs one pass over the blocks
        analysis = scene.document.analysis
        for scope in tops:
            self.items[scope] = item = self._block_item(graph, analysis, every[scope])
            scene.addItem(item)
        for nid, item in scene.node_items.items():
            item.setVisible(nid not in owner)
        for edge, item in scene.edge_items.items():
            source, target = owner.get(edge.source), owner.get(edge.target)
            if source is not None and source == target:
                item.setVisible(False)
                continue
            item.setVisible(True)
            src = self.items[source] if source is not None else scene.node_items.get(edge.source)
            dst = self.items[target] if target is not None else scene.node_items.get(edge.target)
            slot = dst.input_index(edge) if target is not None else None
            port = src.output_port_for(edge.source) if source is not None else None
            item.retarget(src, dst, slot, port)

    def _block_item(self, graph, analysis, block) -> BlockItem:
        ins, outs = boundary(graph, block.members)
        feeders: dict = {}
        for e in ins:   # one port per outside layer feeding the block (a residual block's input feeds two)
            feeders.setdefault(e.source, (e.target, e.slot))
        outputs = list(dict.fromkeys(e.source for e in outs))
        infos = [analysis.nodes.get(m) for m in block.members]
        totals = {"layers": len(block.members), "params": sum(i.params for i in infos if i is not None),
                  "macs": sum(i.macs for i in infos if i is not None),
                  "shape": analysis.nodes[outputs[0]].shape if outputs and outputs[0] in analysis.nodes else None,
                  "error": any(i.node_id in block.members and i.severity == "error" for i in analysis.issues)}
        nodes = graph.node_map()
        xs = [nodes[m].pos[0] for m in block.members] or [0.0]
        ys = [nodes[m].pos[1] for m in block.members] or [0.0]
        item = BlockItem(block, list(feeders.values()), outputs, totals, QPointF(min(xs), min(ys)))
        order = list(feeders)
        item.input_index = lambda edge: order.index(edge.source) if edge.source in order else 0
        return item

    def moved(self, item: BlockItem) -> dict:
        """{member id: new position} after the block's node was dragged: its layers move with it."""
        delta = item.pos() - item.origin
        nodes = self.scene.document.graph.node_map()
        return {m: (round(nodes[m].pos[0] + delta.x(), 1), round(nodes[m].pos[1] + delta.y(), 1))
                for m in item.block.members if m in nodes}
