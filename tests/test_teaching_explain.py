"""The explain panel's numbers, checked against the analysis AND PyTorch for random parameters; every registered
kind (and a kind registered later) explained; errors explained with their fix."""
import math
from fractions import Fraction
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from engine.analysis import analyze
from engine.compiler import compile_graph
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.insight.activations import layer_outputs
from engine.insight.receptive import receptive_box
from engine.registry import REGISTRY, LayerKind, ParamSpec, all_kinds, get_kind
from engine.teaching.explain import ExplainContext, Formula, Grid, explain_network, explain_node

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])


# ---- helpers -------------------------------------------------------------------------------------------
def evaluate(expr: str) -> float:
    """Evaluate a written-out formula: numbers, + − · / ( ) ⌊ ⌋ ⌈ ⌉ and nothing else."""
    text = (expr.replace("⌊", "floor(").replace("⌋", ")").replace("⌈", "ceil(").replace("⌉", ")")
            .replace("·", "*").replace("−", "-"))
    assert re.fullmatch(r"(floor|ceil|[0-9.e+\-*/() ])*", text), expr
    return eval(text, {"__builtins__": {}}, {"floor": math.floor, "ceil": math.ceil})


def assert_formulas_add_up(explanation):
    for line in explanation.all_lines():
        if isinstance(line, Formula) and line.substituted:
            got = evaluate(line.substituted)
            if isinstance(line.result, Fraction):   # a jump after upsampling, e.g. 1/3 of a pixel
                assert math.isclose(got, float(line.result), rel_tol=1e-12), (line, got)
            elif "." in line.substituted:   # written with rounded activation values
                assert math.isclose(got, line.result, rel_tol=1e-3, abs_tol=2e-3), (line, got)
            else:
                assert got == line.result, (line, got)


def chain(*items, image=(1, 28, 28)):
    """Input(image) → items...; returns (graph, [ids])."""
    g = GraphSpec(name="t")
    node = make_node(g, "Input", dict(zip(("channels", "height", "width"), image)), (0, 0))
    g, ids = g.with_node(node), [node.id]
    for i, (kind, params) in enumerate(items, start=1):
        node = make_node(g, kind, params, (0, 100 * i))
        g = g.with_node(node).with_edge(EdgeSpec(ids[-1], node.id, 0))
        ids.append(node.id)
    return g, ids


def positive_weights(*modules):
    for m in modules:
        for p in m.parameters():
            with torch.no_grad():
                p.uniform_(0.1, 1.0)


def gradient_extent(model, image, out_channel, row, col):
    """Bounding box (height, width) of the input pixels the output value at (row, col) depends on."""
    x = torch.rand(1, *image, requires_grad=True)
    model(x)[0, out_channel, row, col].backward()
    touched = (x.grad[0] != 0).any(dim=0).nonzero()
    return (int(touched[:, 0].max() - touched[:, 0].min() + 1), int(touched[:, 1].max() - touched[:, 1].min() + 1))


pair = lambda lo, hi: st.tuples(st.integers(lo, hi), st.integers(lo, hi))  # noqa: E731


# ---- Conv2d ----------------------------------------------------------------------------------------------
@st.composite
def conv_case(draw):
    cin = draw(st.integers(1, 6))
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if cin % g == 0]))
    params = {"out_channels": groups * draw(st.integers(1, 4)), "kernel_size": draw(pair(1, 5)),
              "stride": draw(pair(1, 3)), "dilation": draw(pair(1, 2)), "groups": groups, "bias": draw(st.booleans())}
    params["padding"] = draw(st.one_of(pair(0, 3), st.just("same"))) if params["stride"] == (1, 1) else draw(pair(0, 3))
    image = (cin, draw(st.integers(4, 20)), draw(st.integers(4, 20)))
    pre = draw(st.sampled_from([("Conv2d", {"out_channels": cin, "kernel_size": draw(pair(1, 3)), "stride": draw(pair(1, 2))}),
                                ("AvgPool2d", {"kernel_size": draw(pair(1, 2)), "stride": draw(pair(1, 2))})]))
    return image, pre, params


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@FAST
@given(conv_case())
def test_conv2d_numbers_equal_analysis_and_pytorch(case):
    image, (pre_kind, pre_params), params = case
    g, (_, pre_id, conv_id) = chain((pre_kind, pre_params), ("Conv2d", params), image=image)
    a = analyze(g)
    info = a.nodes[conv_id]
    e = explain_node(g, a, conv_id)
    if info.error is not None or a.nodes[pre_id].error is not None:
        assert "What is wrong" in e.plain_text() or "Waiting" in e.plain_text()
        assume(False)
    spec = g.node(conv_id)
    pre = get_kind(pre_kind).build(g.node(pre_id).params, [image])
    conv = get_kind("Conv2d").build(spec.params, list(info.in_shapes))
    positive_weights(pre, conv)
    model = nn.Sequential(pre, conv)
    out = model(torch.rand(1, *image))
    assert e.value("out_h") == info.shape[1] == out.shape[2]
    assert e.value("out_w") == info.shape[2] == out.shape[3]
    assert e.value("params") == info.params == sum(p.numel() for p in conv.parameters())
    assert e.value("macs") == info.macs
    assert (e.value("rf_h"), e.value("rf_w")) == info.receptive_field
    assert (e.value("jump_h"), e.value("jump_w")) == info.jump
    assert_formulas_add_up(e)
    # The receptive field is what PyTorch's gradient reaches, for an output whose window lies inside the image
    for row in range(info.shape[1]):
        for col in range(info.shape[2]):
            box = receptive_box(g, conv_id, row, col, a, clip=False)
            if box.top >= 0 and box.left >= 0 and box.bottom < image[1] and box.right < image[2]:
                assert gradient_extent(model, image, 0, row, col) == info.receptive_field
                break
        else:
            continue
        break
    # The padding 'same' resolves to gives PyTorch's own 'same' output
    (top, bottom), (left, right) = e.value("same_padding")
    if params["stride"] == (1, 1):
        x = torch.rand(1, *info.in_shapes[0])
        same = nn.Conv2d(x.shape[1], 2 * params["groups"], params["kernel_size"], padding="same",
                         dilation=params["dilation"], groups=params["groups"])
        explicit = nn.functional.conv2d(nn.functional.pad(x, (left, right, top, bottom)), same.weight, same.bias,
                                        dilation=params["dilation"], groups=params["groups"])
        assert torch.allclose(same(x), explicit, atol=1e-5)


def test_one_by_one_conv_saving_against_pytorch():
    g, (_, conv_id) = chain(("Conv2d", {"out_channels": 32, "kernel_size": 1}), image=(16, 8, 8))
    e = explain_node(g, analyze(g), conv_id)
    three = nn.Conv2d(16, 32, 3)
    assert e.value("params_3x3") == sum(p.numel() for p in three.parameters())
    assert e.value("saving") == e.value("params_3x3") - (16 + 1) * 32
    assert "fully connected" in e.section("A 1×1 convolution (Network in Network)").lines[0].text
    assert_formulas_add_up(e)


# ---- pooling -----------------------------------------------------------------------------------------------
@st.composite
def pool_case(draw):
    kernel = draw(pair(1, 4))
    params = {"kernel_size": kernel, "stride": draw(pair(1, 3)), "ceil_mode": draw(st.booleans()),
              "padding": (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))}
    image = (draw(st.integers(1, 4)), draw(st.integers(2, 16)), draw(st.integers(2, 16)))
    return draw(st.sampled_from(["MaxPool2d", "AvgPool2d"])), params, image, draw(st.integers(0, 2 ** 31))


@FAST
@given(pool_case())
def test_pooling_numbers_and_window_equal_pytorch(case):
    kind, params, image, seed = case
    g, (_, pool_id) = chain((kind, params), image=image)
    a = analyze(g)
    info = a.nodes[pool_id]
    assume(info.error is None)
    module = get_kind(kind).build(g.node(pool_id).params, [image])
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=image).astype(np.float32))
    y = module(x.unsqueeze(0))[0]
    e = explain_node(g, a, pool_id, ExplainContext(inputs=(x.numpy(),), output=y.numpy()))
    assert (e.value("out_h"), e.value("out_w")) == info.shape[1:] == tuple(y.shape[1:])
    assert e.value("kept") == info.shape[1] * info.shape[2] / (image[1] * image[2])
    assert_formulas_add_up(e)
    grid = e.line("window")
    assert isinstance(grid, Grid)
    c, top, left, row, col = grid.where
    kh, kw = params["kernel_size"]
    window = x[c, max(top, 0):top + kh, max(left, 0):left + kw]
    real = [v for r in grid.values for v in r if v is not None]
    assert torch.equal(torch.tensor(real), window.reshape(-1))
    assert e.value("window_max") == pytest.approx(float(window.max()), abs=1e-6)
    assert e.value("window_mean") == pytest.approx(float(window.mean()), abs=1e-5)
    assert e.value("window_output") == float(y[c, row, col])
    if len(real) == kh * kw:   # a window inside the map: the layer's output IS its max or mean
        expected = e.value("window_max") if kind == "MaxPool2d" else e.value("window_mean")
        assert float(y[c, row, col]) == pytest.approx(expected, abs=1e-5)
    (mr, mc), = grid.marked
    assert grid.values[mr][mc] == e.value("window_max")


def test_pooling_without_a_probe_says_how_to_get_one():
    g, (_, pool_id) = chain(("MaxPool2d", {}))
    text = explain_node(g, analyze(g), pool_id).plain_text()
    assert "Load a data set" in text and "⌊(28 − 2 + 2·0) / 2⌋ + 1 = 14" in text


# ---- activations, through the real compiled network and layer_outputs ----------------------------------------
@settings(max_examples=8, deadline=None)
@given(st.integers(2, 6), st.sets(st.integers(0, 5), max_size=3), st.integers(0, 2 ** 31))
def test_relu_zero_fraction_and_dead_channels(channels, dead, seed):
    dead = {c for c in dead if c < channels}
    g, (_, conv_id, relu_id, _, _, _) = chain(("Conv2d", {"out_channels": channels}), ("ReLU", {}), ("Flatten", {}),
                                              ("Linear", {"out_features": 10}), ("Output", {}), image=(1, 12, 12))
    torch.manual_seed(seed % 1000)
    module = compile_graph(g)
    with torch.no_grad():
        for c in dead:
            module.get_submodule(conv_id).bias[c] = -1e4   # this channel can never be positive
    probe = np.random.default_rng(seed).random((1, 12, 12), dtype=np.float32)
    acts = layer_outputs(module, probe, [conv_id, relu_id])
    e = explain_node(g, analyze(g), relu_id, ExplainContext(inputs=(acts[conv_id],), output=acts[relu_id]))
    direct = torch.relu(torch.from_numpy(acts[conv_id]))
    assert e.value("zero_fraction") == int((direct == 0).sum()) / direct.numel()
    expected_dead = {c for c in range(channels) if not direct[c].any()}
    assert set(e.value("dead_units")) == expected_dead and dead <= expected_dead
    assert_formulas_add_up(e)


# ---- the other dedicated kinds --------------------------------------------------------------------------------
def test_linear_share_flatten_and_output():
    g, ids = chain(("Conv2d", {"out_channels": 4}), ("Flatten", {}), ("Linear", {"out_features": 10}),
                   ("Output", {}), image=(1, 8, 8))
    a = analyze(g)
    lin = explain_node(g, a, ids[3])
    assert lin.value("params") == sum(p.numel() for p in nn.Linear(4 * 6 * 6, 10).parameters())
    assert lin.value("share") == a.nodes[ids[3]].params / a.total_params
    assert "flatten_1 (Flatten) hands it 144 numbers" in lin.plain_text()
    assert explain_node(g, a, ids[2]).value("features") == nn.Flatten()(torch.zeros(1, 4, 6, 6)).shape[1]
    logits = np.array([0.1, 3.0] + [0.0] * 8, dtype=np.float32)
    assert explain_node(g, a, ids[4], ExplainContext(inputs=(logits,))).value("predicted") == 1
    for nid in ids:
        assert_formulas_add_up(explain_node(g, a, nid))


def test_dropout_scaling_and_run_gap():
    g, (_, drop_id) = chain(("Dropout", {"p": 0.25}), image=(1, 4, 4))
    metrics = {"train_accuracy": [0.8, 0.95], "val_accuracy": [0.78, 0.85]}
    e = explain_node(g, analyze(g), drop_id, ExplainContext(epoch_metrics=metrics, run_name="run 3"))
    kept = nn.Dropout(0.25).train()(torch.ones(10000))
    assert e.value("scale") == pytest.approx(float(kept[kept != 0][0]))
    assert e.value("accuracy_gap") == pytest.approx(0.10)
    assert "overfitting" in e.plain_text() and "run 3" in e.plain_text()
    assert "Train the network" in explain_node(g, analyze(g), drop_id).plain_text()
    assert_formulas_add_up(e)


def test_nin_concat_batchnorm_gap_against_pytorch():
    g, (inp, nin, bn, gap) = chain(("NiN block", {"channels": 8, "mlp_channels": 6, "out_channels": 5}),
                                   ("BatchNorm2d", {}), ("Global average pool", {}), image=(3, 10, 10))
    a = analyze(g)
    built = get_kind("NiN block").build(g.node(nin).params, [(3, 10, 10)])
    e = explain_node(g, a, nin)
    assert e.value("params") == sum(p.numel() for p in built.parameters())
    wide = nn.Sequential(nn.Conv2d(8, 6, 3), nn.Conv2d(6, 5, 3))
    assert e.value("params_kxk") == sum(p.numel() for p in wide.parameters())
    assert explain_node(g, a, bn).value("params") == sum(p.numel() for p in nn.BatchNorm2d(5).parameters())
    x = np.random.default_rng(1).normal(size=(5, 10, 10)).astype(np.float32)
    y = get_kind("Global average pool").build({}, [(5, 10, 10)])(torch.from_numpy(x)[None])[0].numpy()
    ge = explain_node(g, a, gap, ExplainContext(inputs=(x,), output=y))
    assert ge.value("channel_mean") == pytest.approx(ge.value("channel_output"), abs=1e-5)
    assert ge.value("linear_alternative") == sum(p.numel() for p in nn.Linear(500, 5).parameters())
    # Concat of two branches
    g2 = g.with_node(make_node(g, "Concat", {}, (0, 500), node_id="concat_1"))
    g2 = g2.with_edge(EdgeSpec(nin, "concat_1", 0)).with_edge(EdgeSpec(bn, "concat_1", 1))
    ce = explain_node(g2, analyze(g2), "concat_1")
    assert ce.value("channels") == torch.cat([torch.zeros(1, 5, 8, 8)] * 2, dim=1).shape[1] == 10
    assert "5 + 5 = 10" in ce.plain_text()
    for exp in (e, ge, ce):
        assert_formulas_add_up(exp)


# ---- every kind, now and later ----------------------------------------------------------------------------------
def valid_graph_for(kind):
    """A graph where one node of `kind` analyses without error; returns (graph, node id)."""
    if kind.name == "Input":
        g, ids = chain(image=(3, 8, 8))
        return g, ids[0]
    # 4 channels too: a channel shuffle's default 2 groups need an even number of them
    for prefix, image in [(p, i) for i in ((3, 8, 8), (4, 8, 8)) for p in
                          ([], [("Flatten", {})], [("Flatten", {}), ("Linear", {"out_features": 10})])]:
        g, ids = chain(*prefix, image=image)
        node = make_node(g, kind.name, {}, (0, 900))
        g = g.with_node(node)
        for slot in range(max(1, kind.min_inputs)):
            g = g.with_edge(EdgeSpec(ids[-1], node.id, slot))
        if analyze(g).nodes[node.id].error is None:
            return g, node.id
    raise AssertionError(f"no valid graph for {kind.name}")


@pytest.mark.parametrize("kind", [k for k in all_kinds() if not k.placeholder], ids=lambda k: k.name)
def test_every_kind_is_explained(kind):
    g, nid = valid_graph_for(kind)
    a = analyze(g)
    info = a.nodes[nid]
    context = ExplainContext()
    if kind.build is not None:
        xs = [torch.randn(1, *s) for s in info.in_shapes]
        out = kind.build(g.node(nid).params, list(info.in_shapes)).eval()(*xs)[0]
        context = ExplainContext(inputs=tuple(x[0].numpy() for x in xs), output=out.detach().numpy())
    for ctx in (None, context):
        e = explain_node(g, a, nid, ctx)
        assert e.title and e.intro and e.sections and all(s.lines for s in e.sections)
        assert e.value("n_params") == info.params
        if kind.has_outputs:
            assert e.value("out_shape") == info.shape
        for spec in kind.params:
            assert e.value(f"param_{spec.name}") == g.node(nid).params[spec.name]
        assert_formulas_add_up(e)


def test_a_kind_registered_later_gets_a_generic_explanation():
    kind = LayerKind(name="Scale by two", category="Regularization", help="Doubles every value.",
                     teaching="A made-up layer for this test.",
                     params=(ParamSpec("factor", "float", 2.0, "How much to multiply by.", 0.0, 10.0),),
                     infer=lambda p, ins: ins[0], build=lambda p, ins: nn.Identity(), emit=lambda p, ins: "nn.Identity()")
    REGISTRY[kind.name] = kind
    try:
        g, (_, nid) = chain(("Scale by two", {"factor": 3.0}), image=(2, 5, 5))
        e = explain_node(g, analyze(g), nid)
        text = e.plain_text()
        assert "A made-up layer for this test." in text
        assert "Factor = 3: How much to multiply by." in text
        assert e.value("out_shape") == (2, 5, 5) and e.value("rf") == (1, 1)
    finally:
        del REGISTRY[kind.name]


# ---- errors ------------------------------------------------------------------------------------------------------
def test_an_import_placeholder_explains_what_it_stands_for():
    g, (_, nid, _flat) = chain(("Unsupported", {"operation": "F.batch_norm", "source": "blocks.0.bn1",
                                                "reason": "no layer kind does this", "shape": [1, 5, 5]}),
                               ("Flatten", {}), image=(1, 5, 5))
    a = analyze(g)
    text = explain_node(g, a, nid).plain_text()
    assert "F.batch_norm from blocks.0.bn1" in text and "no layer kind does this" in text
    assert a.nodes[_flat].shape == (25,)    # its recorded shape carries on to the layers after it


def test_an_erroneous_node_explains_its_error_and_fix():
    g, (_, conv_id, relu_id) = chain(("Conv2d", {"kernel_size": 9}), ("ReLU", {}), image=(1, 5, 5))
    a = analyze(g)
    e = explain_node(g, a, conv_id)
    wrong = e.section("What is wrong")
    assert a.nodes[conv_id].error.message in wrong.lines[0].text
    assert e.fix is a.nodes[conv_id].error.fix and e.fix.label in wrong.lines[1].text
    assert "Output size" not in [s.heading for s in e.sections]
    below = explain_node(g, a, relu_id).plain_text()
    assert "conv2d_1 has an error" in below
    g2, (_, lin) = chain(("Linear", {}), image=(1, 5, 5))
    text = explain_node(g2, analyze(g2), lin).plain_text()
    assert "flat" in text and "Fix: Insert Flatten" in text


def test_network_overview_matches_the_analysis():
    g, ids = chain(("Conv2d", {"out_channels": 4}), ("Flatten", {}), ("Linear", {"out_features": 10}),
                   ("Output", {}), image=(1, 8, 8))
    a = analyze(g)
    e = explain_network(g, a)
    assert e.value("total_params") == a.total_params == sum(p.numel() for p in compile_graph(g).parameters())
    assert e.value("total_macs") == a.total_macs
    assert e.value(f"share_{ids[3]}") == a.nodes[ids[3]].params / a.total_params
    assert_formulas_add_up(e)
    assert f"{a.nodes[ids[3]].params:,} = " in e.plain_text()


def test_decoder_layers_explain_their_sizes_parameters_and_sight():
    g, ids = chain(("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}),
                   ("ConvTranspose2d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1,
                                        "output_padding": 1}),
                   ("Upsample", {"scale_factor": [2, 3], "mode": "bilinear"}),
                   ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}),
                   ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 4, "stride": 2, "padding": 1}),
                   ("Flatten", {}), ("Linear", {"out_features": 2}), ("Output", {"classes": 2}),
                   image=(1, 8, 8))
    a = analyze(g)
    assert a.ok, a.error_text()
    for nid in ids[1:6]:
        e = explain_node(g, a, nid)
        assert_formulas_add_up(e)
    tconv = explain_node(g, a, ids[2])
    text = tconv.plain_text()
    assert "(4 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1" in text and tconv.value("out_h") == 8
    assert tconv.value("params") == 4 * 3 * 3 * 3 + 3 == a.nodes[ids[2]].params
    assert tconv.value("macs") == a.nodes[ids[2]].macs and "chequerboard pattern" in text
    up = explain_node(g, a, ids[3])
    assert up.value("out_h") == 16 and up.value("out_w") == 24 and "Bilinear" in up.plain_text()
    assert up.value("jump_h") == a.nodes[ids[3]].jump[0] == Fraction(1, 2)
    assert "no chequerboard" in explain_node(g, a, ids[5]).plain_text()


def test_per_image_normalisations_and_layer_scale_explain_their_numbers():
    g, ids = chain(("Conv2d", {"out_channels": 12, "kernel_size": 3, "padding": 1}), ("GroupNorm", {"groups": 4}),
                   ("LayerNorm", {"eps": 1e-6}), ("Layer scale", {"init": 0.5}), ("Flatten", {}),
                   ("Linear", {"out_features": 2}), ("Output", {"classes": 2}), image=(1, 6, 5))
    a = analyze(g)
    group, layer, scale = (explain_node(g, a, nid) for nid in ids[2:5])
    for e in (group, layer, scale):
        assert_formulas_add_up(e)
    assert group.value("per_group") == 3 and group.value("group_size") == 3 * 6 * 5 and group.value("params") == 24
    assert layer.value("group_size") == 12 and layer.value("params") == 24 == a.nodes[ids[3]].params
    assert "30 positions" in layer.plain_text() and "batch of 2" in group.plain_text()
    assert scale.value("params") == 12 and "starts at 0.5" in scale.plain_text()
    x = np.ones((12, 6, 5), np.float32)
    probed = explain_node(g, a, ids[4], ExplainContext(inputs=(x,), output=0.5 * x))
    assert probed.value("gain") == pytest.approx(0.5)


def test_a_decoders_skip_connection_is_explained_as_one():
    """Concat of an encoder's fine maps with the upsampled coarse maps of the same size: the explanation names it
    a skip connection and gives both receptive fields; an Inception-style concat is not one."""
    g, ids = chain(("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}), image=(1, 16, 16))
    enc = ids[-1]
    down = make_node(g, "MaxPool2d", {"kernel_size": 2, "stride": 2}, (0, 300))
    deep = make_node(g.with_node(down), "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, (0, 400))
    g = g.with_node(down).with_node(deep)
    up = make_node(g, "Upsample", {"scale_factor": 2}, (0, 500))
    g = g.with_node(up)
    cat = make_node(g, "Concat", {}, (0, 600))
    g = g.with_node(cat)
    for edge in (EdgeSpec(enc, down.id, 0), EdgeSpec(down.id, deep.id, 0), EdgeSpec(deep.id, up.id, 0),
                 EdgeSpec(enc, cat.id, 0), EdgeSpec(up.id, cat.id, 1)):
        g = g.with_edge(edge)
    a = analyze(g)
    text = explain_node(g, a, cat.id).plain_text()
    assert "A skip connection" in text and "U-Net" in text
    assert f"sees {a.nodes[enc].receptive_field[0]}×" in text and f"sees {a.nodes[up.id].receptive_field[0]}×" in text
    g2, ids2 = chain(("Conv2d", {"out_channels": 2, "kernel_size": 1}), image=(1, 8, 8))
    wide = make_node(g2, "Conv2d", {"out_channels": 2, "kernel_size": 5, "padding": 2}, (0, 300))
    g2 = g2.with_node(wide).with_edge(EdgeSpec(ids2[0], wide.id, 0))
    cat2 = make_node(g2, "Concat", {}, (0, 400))
    g2 = g2.with_node(cat2).with_edge(EdgeSpec(ids2[1], cat2.id, 0)).with_edge(EdgeSpec(wide.id, cat2.id, 1))
    assert "skip connection" not in explain_node(g2, analyze(g2), cat2.id).plain_text()
