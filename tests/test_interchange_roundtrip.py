"""Round trips: graph -> exported source -> module -> torch.fx import -> the same architecture, with the
same outputs once the exported module's weights are mapped back."""
import pytest
import torch

from engine.analysis import analyze
from engine.codegen import export_python
from engine.compiler import compile_graph, example_input
from engine.graph import EdgeSpec, chain, make_node
from engine.interchange.fx_import import import_module
from engine.compiler import input_shape
from engine.templates import list_templates, load_template


pytestmark = pytest.mark.usefixtures("one_thread")


def architecture(graph):
    """A multiset of node signatures that ignores ids and positions: each node is its kind, its params and
    the signatures of its inputs in slot order (a Merkle hash of the graph)."""
    memo = {}

    def sig(nid):
        if nid not in memo:
            node = graph.node(nid)
            params = tuple(sorted((k, str(v)) for k, v in node.params.items()))
            memo[nid] = (node.kind, params, tuple(sig(e.source) for e in graph.in_edges(nid)))
        return memo[nid]

    return sorted(repr(sig(n.id)) for n in graph.nodes)


def reimport(graph):
    namespace = {"__name__": "exported"}
    exec(compile(export_python(graph, class_name="Exported"), "<exported>", "exec"), namespace)
    torch.manual_seed(1)
    module = namespace["Exported"]().eval()
    return module, import_module(module, input_shape(graph))


def small_input(graph, side=64):
    """The same layers on smaller images (AlexNet and VGG pool adaptively), so big templates stay quick."""
    node = next(n for n in graph.nodes if n.kind == "Input")
    if node.params["height"] <= side:
        return graph
    smaller = graph.with_params(node.id, {**node.params, "height": side, "width": side})
    return smaller if analyze(smaller).ok else graph


@pytest.mark.parametrize("key", [t.key for t in list_templates()])
def test_template_round_trip_keeps_architecture_and_outputs(key):
    graph = small_input(load_template(key))
    module, result = reimport(graph)
    assert result.complete, result.unmapped
    assert architecture(result.graph) == architecture(graph)
    compiled = compile_graph(result.graph).eval()
    compiled.load_state_dict(result.convert_state_dict(module.state_dict()), strict=True)
    x = example_input(graph, 3)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x))


def test_round_trip_of_multiply_gate_and_hardsigmoid():
    # A squeeze-and-excitation gate: the new Multiply and Hardsigmoid kinds survive export and import.
    g = chain([("Input", {"channels": 3, "height": 8, "width": 8}), ("Conv2d", {"out_channels": 4, "padding": 1})])
    conv = g.nodes[-1].id
    for kind, params in (("AdaptiveAvgPool2d", {}), ("Conv2d", {"out_channels": 4, "kernel_size": 1}),
                         ("Hardsigmoid", {})):
        node = make_node(g, kind, params)
        g = g.with_node(node).with_edge(EdgeSpec(g.nodes[-1].id, node.id))
    gate = g.nodes[-1].id
    mul = make_node(g, "Multiply")
    g = g.with_node(mul).with_edge(EdgeSpec(conv, mul.id, 0)).with_edge(EdgeSpec(gate, mul.id, 1))
    prev = mul.id
    for kind, params in (("Flatten", {}), ("Linear", {"out_features": 5}), ("Output", {"classes": 5})):
        node = make_node(g, kind, params)
        g = g.with_node(node).with_edge(EdgeSpec(prev, node.id))
        prev = node.id
    module, result = reimport(g)
    assert architecture(result.graph) == architecture(g)


def test_labels_record_where_each_layer_came_from():
    graph = load_template("lenet5")
    _, result = reimport(graph)
    module_labels = {n.label for n in result.graph.nodes if n.kind in ("Conv2d", "Linear")}
    assert module_labels == {n.id for n in graph.nodes if n.kind in ("Conv2d", "Linear")}
