"""The analysis: specific errors on the right node, fix-its that repair them, receptive fields checked
against PyTorch's gradients, and robustness on arbitrary graphs."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis import Analyzer, analyze
from engine.compiler import compile_graph
from engine.fixes import apply_fix
from engine.graph import EdgeSpec, GraphSpec, chain, make_node
from engine.registry import all_kinds
from engine.templates import load_template


def only_error(analysis, node_id):
    errors = analysis.issues_for(node_id)
    assert len(errors) == 1, [str(e) for e in analysis.issues]
    return errors[0]


def repaired(graph, issue):
    fixed, _ = apply_fix(graph, issue.fix)
    after = analyze(fixed)
    assert after.ok, after.error_text()
    return fixed


def test_linear_after_feature_maps_offers_flatten():
    g = chain([("Input", {}), ("Conv2d", {"out_channels": 16, "kernel_size": 5}), ("Linear", {"out_features": 10}),
               ("Output", {})])
    err = only_error(analyze(g), "linear_1")
    assert "Linear expects a flat (features,) input but receives (16, 24, 24)" in err.message
    assert err.fix.label == "Insert Flatten"
    fixed = repaired(g, err)
    assert [n.kind for n in fixed.nodes].count("Flatten") == 1


def residual(channels_a=16, channels_b=32, stride=1):
    g = chain([("Input", {"channels": 3, "height": 32, "width": 32}),
               ("Conv2d", {"out_channels": channels_a, "kernel_size": 3, "padding": 1})])
    b = make_node(g, "Conv2d", {"out_channels": channels_b, "kernel_size": 3, "padding": 1, "stride": stride})
    g = g.with_node(b).with_edge(EdgeSpec("conv2d_1", b.id))
    add = make_node(g, "Add")
    g = g.with_node(add).with_edge(EdgeSpec(b.id, add.id, 0)).with_edge(EdgeSpec("conv2d_1", add.id, 1))
    for kind, params in (("Global average pool", {}), ("Linear", {"out_features": 10}), ("Output", {})):
        n = make_node(g, kind, params)
        g = g.with_node(n).with_edge(EdgeSpec(g.nodes[-1].id, n.id))
    return g


def test_add_with_mismatched_channels_offers_1x1_conv():
    g = residual(16, 32, stride=2)
    err = only_error(analyze(g), "add_1")
    assert "Add needs inputs of equal shape but receives (32, 16, 16) and (16, 32, 32)" in err.message
    assert "1×1 Conv2d" in err.fix.label
    fixed = repaired(g, err)
    conv = [n for n in fixed.nodes if n.kind == "Conv2d"][-1]
    assert conv.params["kernel_size"] == (1, 1) and conv.params["stride"] == (2, 2)
    assert compile_graph(fixed)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_kernel_larger_than_input_offers_smaller_kernel():
    g = chain([("Input", {"height": 4, "width": 4}), ("Conv2d", {"kernel_size": 7}), ("Flatten", {}),
               ("Linear", {}), ("Output", {})])
    err = only_error(analyze(g), "conv2d_1")
    assert "larger than the padded input 4×4" in err.message and "(1, 4, 4)" in err.message
    fixed = repaired(g, err)
    assert fixed.node("conv2d_1").params["kernel_size"] == (4, 4)


def test_output_class_count_mismatch_offers_linear():
    g = chain([("Input", {}), ("Flatten", {}), ("Linear", {"out_features": 7}), ("Output", {"classes": 10})])
    err = only_error(analyze(g), "output_1")
    assert "expects 10 class scores but receives 7" in err.message
    repaired(g, err)


def test_structural_errors_are_reported_on_the_right_node():
    g = chain([("Input", {}), ("Flatten", {}), ("Linear", {}), ("Output", {})])
    # a cycle
    cyc = g.with_edge(EdgeSpec("linear_1", "flatten_1", 1))
    a = analyze(cyc)
    assert any("cycle" in i.message or "one input" in i.message for i in a.issues_for("flatten_1"))
    # a second edge into a one-input port
    extra = g.with_node(make_node(g, "Input", node_id="input_2")).with_edge(EdgeSpec("input_2", "flatten_1", 1))
    a = analyze(extra)
    assert "takes one input but has 2" in only_error(a, "flatten_1").message
    assert "more than one Input" in only_error(a, "input_2").message
    # a missing input
    cut = g.without_edge(EdgeSpec("flatten_1", "linear_1", 0))
    a = analyze(cut)
    assert "has no input" in only_error(a, "linear_1").message
    assert any("no path from input_1 to output_1" in i.message for i in a.issues if i.node_id is None)
    # a node with no connections at all
    lonely = g.with_node(make_node(g, "ReLU"))
    assert "not connected" in only_error(analyze(lonely), "relu_1").message
    # no Input / no Output at all
    a = analyze(GraphSpec())
    assert {i.message.split(";")[0] for i in a.issues} == {"The network has no Input layer",
                                                           "The network has no Output layer"}
    # Add with only one input
    one = chain([("Input", {}), ("Add", {})])
    assert "at least 2 inputs" in only_error(analyze(one), "add_1").message


def test_same_padding_with_stride_is_refused_with_fix():
    g = chain([("Input", {}), ("Conv2d", {"kernel_size": 5, "padding": "same", "stride": 2})])
    err = analyze(g).issues_for("conv2d_1")[0]
    assert "padding 'same' needs stride 1" in err.message
    fixed, _ = apply_fix(g, err.fix)
    assert fixed.node("conv2d_1").params["padding"] == (2, 2)


def test_softmax_before_output_is_a_warning_not_an_error():
    g = chain([("Input", {}), ("Flatten", {}), ("Linear", {}), ("Softmax", {}), ("Output", {})])
    a = analyze(g)
    assert a.ok and [w.node_id for w in a.warnings] == ["softmax_1"]


def gradient_extent(module, shape, out_index):
    """Rows and columns of the input that influence one output value, found by back-propagation."""
    x = torch.zeros(1, *shape, requires_grad=True)
    out = module(x)
    out[(0, 0) + out_index].backward()
    support = x.grad[0].abs().sum(0) != 0
    rows, cols = support.any(1).nonzero(), support.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_receptive_field_matches_gradients():
    torch.manual_seed(0)
    g = chain([("Input", {"height": 64, "width": 64}),
               ("Conv2d", {"out_channels": 4, "kernel_size": 5, "padding": 2}),
               ("AvgPool2d", {"kernel_size": 2}),
               ("Conv2d", {"out_channels": 4, "kernel_size": 3, "dilation": 2, "stride": 2}),
               ("Conv2d", {"out_channels": 4, "kernel_size": [3, 1]}),
               ("NiN block", {"channels": 4, "mlp_channels": 4, "out_channels": 4, "kernel_size": 3})])
    analysis = analyze(g)
    nodes = [n for n in g.nodes if n.kind != "Input"]
    for depth in range(1, len(nodes) + 1):
        sub = chain([("Input", {"height": 64, "width": 64})] + [(n.kind, n.params) for n in nodes[:depth]])
        info = analysis.nodes[nodes[depth - 1].id]
        out_h, out_w = info.shape[1:]
        module = _trunk(sub)
        for p in module.parameters():
            p.data.uniform_(0.5, 1.0)  # all-positive weights: no accidental zero gradients
        assert gradient_extent(module, (1, 64, 64), (out_h // 2, out_w // 2)) == info.receptive_field


def _trunk(graph):
    mods = [node.layer_kind.build(node.params, list(analyze(graph).nodes[node.id].in_shapes))
            for node in graph.nodes if node.kind != "Input"]
    return torch.nn.Sequential(*mods)


def test_incremental_analysis_equals_fresh_analysis():
    analyzer = Analyzer()
    g = load_template("small_resnet")
    analyzer.analyze(g)
    for node in [n for n in g.nodes if n.kind == "Conv2d"][:4]:
        g = g.with_params(node.id, {"out_channels": node.params["out_channels"] * 2})
        inc, fresh = analyzer.analyze(g), analyze(g)
        assert inc.nodes == fresh.nodes and [str(i) for i in inc.issues] == [str(i) for i in fresh.issues]


KIND_NAMES = [k.name for k in all_kinds()]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(KIND_NAMES), min_size=0, max_size=8),
       st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 2)), max_size=12))
def test_analysis_never_raises_on_arbitrary_graphs(kinds, edges):
    g = GraphSpec()
    for k in kinds:
        g = g.with_node(make_node(g, k))
    ids = [n.id for n in g.nodes]
    for s, t, slot in edges:
        if s < len(ids) and t < len(ids):
            g = g.with_edge(EdgeSpec(ids[s], ids[t], slot))
    a = analyze(g)
    assert set(a.nodes) == set(ids)
    if a.ok:
        compile_graph(g, a)


def test_class_count_fix_changes_the_linear_that_feeds_the_output():
    g = load_template("lenet5").with_params("output_1", {"classes": 8})
    err = only_error(analyze(g), "output_1")
    assert err.fix.action == "set_params" and err.fix.node_id == "linear_3"
    fixed = repaired(g, err)
    assert fixed.node("linear_3").params["out_features"] == 8
    assert len(fixed.nodes) == len(g.nodes)


def test_class_count_fix_inserts_a_linear_when_the_feeding_linear_is_shared():
    g = chain([("Input", {}), ("Flatten", {}), ("Linear", {"out_features": 7}), ("Output", {"classes": 10})])
    g = g.with_node(make_node(g, "ReLU")).with_edge(EdgeSpec("linear_1", "relu_1"))
    err = analyze(g).issues_for("output_1")[0]
    assert err.fix.action == "insert"


def test_a_blank_design_is_unfinished_not_wrong():
    from designer.graph_edits import blank_graph

    a = analyze(blank_graph())
    assert not a.ok and a.mistakes == []          # it cannot train, but nothing in it is a mistake
    assert {i.severity for i in a.issues} == {"todo"}
    assert {i.node_id for i in a.issues} == {"input_1", "output_1", None}
    assert "waits for the first layer" in a.issues_for("input_1")[0].message
