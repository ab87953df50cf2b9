"""Every registered layer kind, over many random parameter choices, checked against PyTorch itself:
inferred shape == real output shape, parameter count == sum of numel(), MACs == FlopCounter FLOPs / 2."""
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from engine.analysis import _count_params, _freeze
from engine.registry import ShapeError, all_kinds

# Small caps keep each example fast; bounds from the schema still apply.
CAPS = {"out_channels": 12, "channels": 12, "mlp_channels": 12, "out_features": 24, "groups": 4,
        "kernel_size": 6, "stride": 3, "padding": 3, "dilation": 2, "output_size": 5}
WINDOW_KINDS = {"Conv2d", "NiN block", "MaxPool2d", "AvgPool2d"}
KINDS = [k for k in all_kinds() if k.build is not None]


def param_strategy(spec):
    cap = CAPS.get(spec.name, 8)
    lo = int(spec.minimum) if spec.minimum is not None else 0
    hi = min(int(spec.maximum) if spec.maximum is not None else cap, lo + cap)
    if spec.kind == "int":
        return st.integers(lo, hi)
    if spec.kind == "float":
        return st.floats(spec.minimum, spec.maximum if spec.name != "p" else 0.9, allow_nan=False)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    pair = st.tuples(st.integers(lo, hi), st.integers(lo, hi))
    return st.one_of(pair, st.just("same")) if spec.kind == "padding" else pair


image = st.tuples(st.integers(1, 8), st.integers(1, 28), st.integers(1, 28))
flat = st.tuples(st.integers(1, 40))


@st.composite
def case(draw, kind):
    params = {p.name: draw(param_strategy(p)) for p in kind.params}
    params = kind.normalize(params)
    if kind.max_inputs is None:
        first = draw(st.one_of(image, flat))
        n = draw(st.integers(2, 3))
        shapes = [first]
        for _ in range(n - 1):
            if kind.name == "Add":
                shapes.append(draw(st.one_of(st.just(first), image)))
            elif len(first) == 3:
                shapes.append((draw(st.integers(1, 8)),) + first[1:])
            else:
                shapes.append((draw(st.integers(1, 40)),))
    else:
        shapes = [draw(st.one_of(image, image, flat))]
    return params, shapes


def run_torch(kind, params, shapes, batch=2):
    module = kind.build(params, shapes).eval()
    xs = [torch.randn(batch, *s) for s in shapes]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(*xs)
    return module, out, counter.get_total_flops()


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_kind_matches_pytorch(kind):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.filter_too_much])
    @given(case(kind))
    def check(c):
        params, shapes = c
        try:
            shape = kind.infer(params, shapes)
        except ShapeError:
            # Where the analysis refuses a sliding window, PyTorch must refuse it too.
            if kind.name in WINDOW_KINDS and len(shapes[0]) == 3:
                with pytest.raises((RuntimeError, ValueError)):
                    run_torch(kind, params, shapes)
            assume(False)
            return
        module, out, flops = run_torch(kind, params, shapes)
        assert tuple(out.shape[1:]) == tuple(shape)
        assert _count_params(kind.name, _freeze(params), tuple(shapes)) == sum(p.numel() for p in module.parameters())
        assert flops == 2 * 2 * kind.macs(params, shapes, tuple(shape))  # batch of 2, FLOPs = 2 × MACs

    check()


def test_every_kind_has_schema_text_and_emitter():
    for kind in all_kinds():
        assert kind.help and kind.teaching, kind.name
        for p in kind.params:
            assert p.help, (kind.name, p.name)
            assert p.coerce(p.default) == p.default, (kind.name, p.name)
        if kind.build is not None:
            assert kind.emit is not None, kind.name
