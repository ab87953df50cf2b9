"""Receptive-field boxes checked against PyTorch: perturb each input pixel and see which outputs move."""
import pytest
import torch

from engine.analysis import analyze
from engine.compiler import compile_graph
from engine.graph import EdgeSpec, chain, make_node
from engine.insight.receptive import Box, receptive_box
from engine.templates import load_template


def _dependency_mask(graph, node_id, row, col):
    """Input pixels whose change alters output (row, col) of node_id: the oracle.

    All weights are made positive and the base input is zero, so every activation is a strictly increasing
    function of every pixel it depends on (max pooling too, as a large bump wins the window).
    """
    module = compile_graph(graph).double().eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand_like(p) * 0.5 + 0.5)
    c, h, w = [n for n in graph.nodes if n.kind == "Input"][0].params.values()
    captured = {}
    module.get_submodule(node_id).register_forward_hook(lambda m, i, o: captured.__setitem__("out", o))
    bumps = torch.zeros(h * w + 1, c, h, w, dtype=torch.float64)
    for k in range(h * w):
        bumps[k + 1, :, k // w, k % w] = 100.0
    with torch.no_grad():
        module(bumps)
    out = captured["out"][:, :, row, col]
    changed = (out[1:] - out[0]).abs().amax(dim=1) > 1e-9
    return changed.reshape(h, w)


def _box_of(mask):
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))


def _check(graph, node_id, positions):
    analysis = analyze(graph)
    assert analysis.ok, analysis.error_text()
    for row, col in positions:
        mask = _dependency_mask(graph, node_id, row, col)
        assert receptive_box(graph, node_id, row, col, analysis) == _box_of(mask), (node_id, row, col)


def test_lenet_boxes_match_pytorch():
    g = load_template("lenet5")
    convs = g.nodes_of_kind("Conv2d")
    pools = g.nodes_of_kind("MaxPool2d")
    _check(g, convs[0].id, [(0, 0), (13, 7), (27, 27)])
    _check(g, pools[0].id, [(0, 0), (6, 9)])
    _check(g, convs[1].id, [(0, 0), (4, 9), (9, 9)])


def test_box_size_agrees_with_analysis_away_from_borders():
    g = load_template("lenet5")
    conv2 = g.nodes_of_kind("Conv2d")[1].id
    info = analyze(g).nodes[conv2]
    box = receptive_box(g, conv2, 5, 5, clip=False)
    assert (box.height, box.width) == info.receptive_field


def _small(kinds, size=13, channels=2):
    return chain([("Input", {"channels": channels, "height": size, "width": size})] + kinds +
                 [("Flatten", {}), ("Linear", {"out_features": 3}), ("Output", {"classes": 3})])


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_stride_dilation_same_padding_and_average_pool():
    g = _small([("Conv2d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}),
                ("ReLU", {}),
                ("Conv2d", {"out_channels": 2, "kernel_size": [3, 2], "dilation": [2, 1], "padding": "same"}),
                ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),
                ("Conv2d", {"out_channels": 2, "kernel_size": 2, "stride": 1, "padding": [1, 0]})])
    ids = [n.id for n in g.nodes]
    _check(g, ids[1], [(0, 0), (3, 5), (6, 6)])
    _check(g, ids[3], [(0, 0), (2, 4), (6, 6)])
    _check(g, ids[4], [(0, 0), (1, 2), (3, 3)])
    _check(g, ids[5], [(0, 0), (2, 1), (4, 2)])


def test_adaptive_pooling_windows():
    g = _small([("Conv2d", {"out_channels": 2, "kernel_size": 3}),
                ("AdaptiveAvgPool2d", {"output_size": [3, 4]})], size=12)
    node = g.nodes[2].id
    _check(g, node, [(0, 0), (1, 2), (2, 3)])


def test_branches_take_the_union_of_paths():
    g = chain([("Input", {"channels": 1, "height": 15, "width": 15}),
               ("Conv2d", {"out_channels": 2, "kernel_size": 1})])
    stem = g.nodes[1].id
    wide = make_node(g, "Conv2d", {"out_channels": 2, "kernel_size": 5, "padding": 2})
    g = g.with_node(wide).with_edge(EdgeSpec(stem, wide.id))
    narrow = make_node(g, "Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": [0, 1], "stride": 1})
    g = g.with_node(narrow).with_edge(EdgeSpec(stem, narrow.id))
    pad = make_node(g, "Conv2d", {"out_channels": 3, "kernel_size": 1, "padding": [1, 0]})
    g = g.with_node(pad).with_edge(EdgeSpec(narrow.id, pad.id))
    cat = make_node(g, "Concat")
    g = g.with_node(cat).with_edge(EdgeSpec(wide.id, cat.id, 0)).with_edge(EdgeSpec(pad.id, cat.id, 1))
    add = make_node(g, "Add")
    g = g.with_node(add).with_edge(EdgeSpec(cat.id, add.id, 0))
    proj = make_node(g, "Conv2d", {"out_channels": 5, "kernel_size": 3, "padding": 1})
    g = g.with_node(proj).with_edge(EdgeSpec(stem, proj.id)).with_edge(EdgeSpec(proj.id, add.id, 1))
    prev = add.id
    for kind, params in [("Global average pool", {}), ("Linear", {"out_features": 2}), ("Output", {"classes": 2})]:
        node = make_node(g, kind, params)
        g = g.with_node(node).with_edge(EdgeSpec(prev, node.id))
        prev = node.id
    _check(g, cat.id, [(0, 0), (7, 7), (14, 3)])
    _check(g, add.id, [(0, 14), (7, 7)])


def test_refuses_flat_nodes_and_positions_outside():
    g = load_template("lenet5")
    flat = g.nodes_of_kind("Flatten")[0].id
    with pytest.raises(ValueError, match="flat"):
        receptive_box(g, flat, 0, 0)
    conv = g.nodes_of_kind("Conv2d")[0].id
    with pytest.raises(ValueError, match="outside"):
        receptive_box(g, conv, 28, 0)


DECODER = [("Conv2d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}),
           ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1,
                                "output_padding": 1}),
           ("Upsample", {"scale_factor": 2, "mode": "nearest"}),
           ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}),
           ("Upsample", {"scale_factor": [2, 3], "mode": "bilinear"}),
           ("Upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": True}),
           ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 2, "stride": 2})]


@pytest.mark.parametrize("depth", range(2, len(DECODER) + 1))
def test_decoder_layers_boxes_match_pytorch(depth):
    """Transposed convolutions and nearest/bilinear upsampling map output positions back to exactly the input
    pixels PyTorch reads, at the borders too, and the analysis' receptive field is the largest such box."""
    g = _small(DECODER[:depth], size=6, channels=1)
    node = g.nodes[depth].id
    info = analyze(g).nodes[node]
    _, h, w = info.shape
    positions = [(r, c) for r in range(0, h, max(1, h // 3)) for c in range(0, w, max(1, w // 3))] + [(h - 1, w - 1)]
    _check(g, node, positions)
    sizes = {(b.height, b.width) for b in (receptive_box(g, node, r, c, clip=False) for r in range(0, h, 3)
                                           for c in range(0, w, 3))}
    assert max(s[0] for s in sizes) <= info.receptive_field[0] and max(s[1] for s in sizes) <= info.receptive_field[1]
