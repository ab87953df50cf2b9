"""The convolution playground's arithmetic against PyTorch: conv2d, max/avg pooling and ReLU on random
grids, and the learned-kernel extraction against a real module's weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine.teaching.kernels import (apply_kernel, first_conv, learned_kernel, preset_kernel, preset_names,
                                     sample_digits)
from engine.teaching.playground import (DEFAULT_INPUT, DEFAULT_KERNEL, conv_steps, format_number,
                                        output_size_text, step_arithmetic)
from engine.teaching.pooling import pool_arithmetic, pool_steps, relu_map

small = st.integers(1, 3)


def _grid(draw, rows, cols, lo=-9, hi=9):
    return np.array(draw(st.lists(st.lists(st.integers(lo, hi), min_size=cols, max_size=cols),
                                  min_size=rows, max_size=rows)), dtype=np.float64)


def _torch(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)[None, None]


@st.composite
def conv_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(small), draw(small))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # an input large enough for the (dilated) kernel once padded
    h = draw(st.integers(max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), 9))
    w = draw(st.integers(max(1, d[1] * (kw - 1) + 1 - 2 * p[1]), 9))
    bias = draw(st.integers(-3, 3))
    return _grid(draw, h, w), _grid(draw, kh, kw, -3, 3), s, p, d, float(bias)


@settings(max_examples=80, deadline=None)
@given(conv_case())
def test_conv_steps_match_torch_conv2d(case):
    grid, kernel, s, p, d, bias = case
    result = conv_steps(grid, kernel, s, p, d, bias)
    expected = F.conv2d(_torch(grid), _torch(kernel), torch.tensor([bias], dtype=torch.float64),
                        stride=s, padding=p, dilation=d)[0, 0].numpy()
    np.testing.assert_allclose(result.output, expected, atol=1e-9)
    assert len(result.steps) == expected.size
    assert result.padded.shape == (grid.shape[0] + 2 * p[0], grid.shape[1] + 2 * p[1])
    for step in result.steps:
        assert step.total == pytest.approx(result.output[step.row, step.col])
        assert step.products.sum() + bias == pytest.approx(step.total)
        np.testing.assert_array_equal(step.products, step.window * kernel)
        assert (step.top, step.left) == (step.row * s[0], step.col * s[1])
        taps = np.array([result.padded[r, c] for r, c in step.positions]).reshape(kernel.shape)
        np.testing.assert_array_equal(taps, step.window)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_conv_steps_on_float_grids(data):
    h, w, k = data.draw(st.integers(3, 8)), data.draw(st.integers(3, 8)), data.draw(st.integers(1, 3))
    floats = st.floats(-5, 5, allow_nan=False, width=32)
    grid = np.array(data.draw(st.lists(floats, min_size=h * w, max_size=h * w))).reshape(h, w)
    kernel = np.array(data.draw(st.lists(floats, min_size=k * k, max_size=k * k))).reshape(k, k)
    result = conv_steps(grid, kernel, 1, 1)
    expected = F.conv2d(_torch(grid), _torch(kernel), padding=1)[0, 0].numpy()
    np.testing.assert_allclose(result.output, expected, atol=1e-9)


@st.composite
def pool_case(draw):
    mode = draw(st.sampled_from(["max", "avg"]))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(small), draw(small))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (1, 1) if mode == "avg" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 9))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 9))
    return mode, _grid(draw, h, w), k, s, p, d


@settings(max_examples=80, deadline=None)
@given(pool_case())
def test_pool_steps_match_torch_pooling(case):
    mode, grid, k, s, p, d = case
    result = pool_steps(grid, k, s, p, mode, d)
    if mode == "max":
        expected = F.max_pool2d(_torch(grid), k, s, p, dilation=d)[0, 0].numpy()
    else:
        expected = F.avg_pool2d(_torch(grid), k, s, p)[0, 0].numpy()
    np.testing.assert_allclose(result.output, expected, atol=1e-9)
    assert len(result.steps) == expected.size
    for step in result.steps:
        assert step.value == pytest.approx(result.output[step.row, step.col])
        if mode == "max":
            assert result.padded[step.chosen] == step.value and step.chosen in step.positions
        else:
            assert step.value == pytest.approx(step.window.mean())


def test_pool_stride_defaults_to_the_window():
    grid = np.arange(36).reshape(6, 6)
    result = pool_steps(grid, 2, mode="max")
    np.testing.assert_array_equal(result.output, F.max_pool2d(_torch(grid), 2)[0, 0].numpy())
    assert result.output.shape == (3, 3)
    assert pool_arithmetic(result.steps[0], "max") == "max(0, 1, 6, 7) = 7"
    avg = pool_steps(grid, 2, mode="avg")
    assert pool_arithmetic(avg.steps[0], "avg") == "(0 + 1 + 6 + 7) / 4 = 3.5"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_relu_matches_torch(data):
    h, w = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    grid = _grid(data.draw, h, w)
    result = relu_map(grid)
    np.testing.assert_array_equal(result.after, F.relu(_torch(grid))[0, 0].numpy())
    assert result.zeroed_count == int((grid < 0).sum())
    assert result.zeroed_fraction == pytest.approx((grid < 0).mean())


def test_default_example_and_arithmetic_text():
    result = conv_steps(DEFAULT_INPUT, DEFAULT_KERNEL, 1, 0)
    assert result.output.shape == (5, 5)
    first = result.steps[0]
    text = step_arithmetic(first, DEFAULT_KERNEL)
    assert text.startswith("0·1 + 1·0 + 2·(−1) + 1·1")
    assert text.endswith(f"= {format_number(result.output[0, 0])}")
    biased = conv_steps(DEFAULT_INPUT, DEFAULT_KERNEL, 1, 0, bias=2)
    assert step_arithmetic(biased.steps[0], DEFAULT_KERNEL).endswith(
        f"+ 2 (bias) = {format_number(result.output[0, 0] + 2)}")
    assert output_size_text(7, 3, 1, 2) == "⌊(7 − 3 + 2·1) / 2⌋ + 1 = 4"
    assert output_size_text(7, 3, 0, 1, 2) == "⌊(7 − (2·(3 − 1) + 1) + 2·0) / 1⌋ + 1 = 3"
    assert format_number(-0.5) == "−0.5" and format_number(1 / 9) == "0.11" and format_number(3.0) == "3"


@pytest.mark.parametrize("call, words", [
    (lambda: conv_steps(np.ones((3, 3)), np.ones((5, 5))), ["does not fit", "padding of at least 1"]),
    (lambda: conv_steps(np.ones((4, 4)), np.ones((3, 3)), dilation=2), ["spanning 5", "less dilation"]),
    (lambda: conv_steps(np.ones((5, 5)), np.ones((3, 3)), stride=0), ["stride must be at least 1"]),
    (lambda: conv_steps(np.ones((5, 5)), np.ones((3, 3)), padding=-1), ["padding cannot be negative"]),
    (lambda: conv_steps(np.ones((5, 5)), np.ones((3, 3)), dilation=0), ["dilation must be at least 1"]),
    (lambda: conv_steps(np.ones((5, 5)), np.ones((3, 3)), stride=1.5), ["whole number"]),
    (lambda: conv_steps(np.ones(5), np.ones((3, 3))), ["2-D grid"]),
    (lambda: conv_steps(np.zeros((0, 3)), np.ones((1, 1))), ["empty"]),
    (lambda: conv_steps([[1, np.nan]], [[1]]), ["finite"]),
    (lambda: conv_steps([[1, 2], [3]], [[1]]), ["table of numbers"]),
    (lambda: conv_steps(np.ones((5, 5)), np.ones((3, 3)), bias="x"), ["bias must be a number"]),
    (lambda: pool_steps(np.ones((4, 4)), 2, padding=2), ["more than half", "at most 1"]),
    (lambda: pool_steps(np.ones((4, 4)), 2, mode="avg", dilation=2), ["no dilation"]),
    (lambda: pool_steps(np.ones((4, 4)), 2, mode="min"), ["'max' or 'avg'"]),
    (lambda: pool_steps(np.ones((2, 2)), 3), ["pooling window", "does not fit"]),
    (lambda: preset_kernel("Fancy"), ["choose one of", "Sharpen"]),
])
def test_impossible_settings_say_how_to_fix_them(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_presets_are_named_kernels():
    names = preset_names()
    for expected in ("Identity", "Edge: horizontal", "Edge: vertical", "Sobel: horizontal", "Laplacian",
                     "Blur: box", "Blur: Gaussian", "Sharpen", "Emboss"):
        assert expected in names
    grid = np.random.default_rng(1).integers(-5, 5, (6, 6))
    identity = conv_steps(grid, preset_kernel("Identity"), padding=1)
    np.testing.assert_array_equal(identity.output, grid)
    assert preset_kernel("Blur: Gaussian").sum() == pytest.approx(1.0)


def test_apply_kernel_on_a_real_image_matches_conv2d():
    image = sample_digits(2)[1]                       # 1×28×28
    kernel = preset_kernel("Sobel: vertical")
    fmap = apply_kernel(image, kernel, stride=2, padding=1, bias=0.5)
    expected = F.conv2d(torch.as_tensor(image)[None], torch.as_tensor(kernel, dtype=torch.float32)[None, None],
                        torch.tensor([0.5]), stride=2, padding=1)[0, 0].numpy()
    np.testing.assert_allclose(fmap, expected, atol=1e-5)
    rgb = np.random.default_rng(0).random((3, 10, 12))
    grey = apply_kernel(rgb, kernel, padding=1)      # 2-D kernel: applied to the mean of the channels
    np.testing.assert_allclose(grey, conv_steps(rgb.mean(0), kernel, padding=1).output, atol=1e-5)
    with pytest.raises(ValueError, match="reads 2 channel"):
        apply_kernel(rgb, np.ones((2, 3, 3)))


def test_learned_kernel_is_the_modules_first_conv():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 5))
    conv = first_conv(net)
    assert conv.name == "1" and conv.filters == 6 and conv.in_channels == 3
    assert conv.stride == (2, 2) and conv.padding == (1, 1)
    weight = net[1].weight.detach().numpy()
    np.testing.assert_allclose(learned_kernel(net, 4), weight[4].mean(0), rtol=1e-6)
    np.testing.assert_allclose(learned_kernel(net, 4, channel=2), weight[4, 2], rtol=1e-6)
    np.testing.assert_allclose(learned_kernel(net.state_dict(), 5, channel=0), weight[5, 0], rtol=1e-6)
    np.testing.assert_allclose(first_conv(net.state_dict()).bias, net[1].bias.detach().numpy(), rtol=1e-6)
    # the full filter applied to an image reproduces that channel of the layer's real output
    image = np.random.default_rng(2).random((3, 9, 9)).astype(np.float32)
    fmap = apply_kernel(image, conv.weight[4], conv.stride, conv.padding, conv.dilation, conv.bias[4])
    real = net[1](torch.as_tensor(image)[None])[0, 4].detach().numpy()
    np.testing.assert_allclose(fmap, real, atol=1e-5)
    with pytest.raises(ValueError, match="has 6 filters, numbered 0 to 5"):
        learned_kernel(net, 6)
    with pytest.raises(ValueError, match="no Conv2d"):
        first_conv(nn.Sequential(nn.Linear(2, 2)))
    same = first_conv(nn.Conv2d(1, 1, 5, padding="same", dilation=2))
    assert same.padding == (4, 4)


def test_learned_kernel_of_a_designed_network():
    from engine.insight.activations import module_with_weights
    from engine.templates import load_template

    graph = load_template("lenet5")
    module = module_with_weights(graph)
    conv = first_conv(module)
    first = next(nid for nid in module.node_order if graph.node(nid).kind == "Conv2d")
    assert conv.name == first
    np.testing.assert_array_equal(conv.weight, module.get_submodule(conv.name).weight.detach().numpy())


# ---- the transposed convolution ----------------------------------------------------------------------------
from engine.teaching.playground_transposed import stamp_text, transposed_steps  # noqa: E402


@pytest.mark.parametrize("stride,padding,output_padding,dilation", [
    (2, 0, 0, 1), (2, 1, 1, 1), (3, 1, 2, 1), (1, 0, 0, 2), (2, 1, 0, 2), ((2, 1), (1, 0), (1, 0), (1, 1))])
def test_transposed_steps_match_conv_transpose2d(stride, padding, output_padding, dilation):
    rng = np.random.default_rng(1)
    x, k = rng.integers(-2, 4, (3, 4)).astype(float), rng.integers(-1, 3, (3, 2)).astype(float)
    result = transposed_steps(x, k, stride, padding, output_padding, dilation, bias=0.5)
    expected = torch.nn.functional.conv_transpose2d(
        torch.tensor(x)[None, None], torch.tensor(k)[None, None], torch.tensor([0.5], dtype=torch.float64),
        stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)[0, 0].numpy()
    np.testing.assert_allclose(result.output, expected)
    assert len(result.steps) == x.size and np.array_equal(result.steps[-1].partial, result.full)
    # each stamp adds exactly value·kernel where it says
    before = np.full_like(result.full, 0.5)
    for step in result.steps:
        diff = step.partial - before
        for (r, c), added in zip(step.positions, step.added.ravel()):
            diff[r, c] -= added
        np.testing.assert_allclose(diff, 0, atol=1e-12)
        before = step.partial


def test_transposed_steps_explain_impossible_settings():
    with pytest.raises(ValueError, match="smaller than the stride"):
        transposed_steps(np.ones((2, 2)), np.ones((2, 2)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="cuts away the whole output"):
        transposed_steps(np.ones((1, 1)), np.ones((1, 1)), stride=1, padding=1)
    result = transposed_steps(np.full((2, 2), 2.0), np.ones((2, 2)), stride=2, padding=1)
    assert result.output.shape == (2, 2)
    assert stamp_text(result.steps[0], result) == ("input value 2 times the kernel gives 2, 2, 2, 2, added to output "
                                                   "rows 0–0, columns 0–0; 3 of its 4 cells fall in the cut border "
                                                   "and are lost")
    whole = transposed_steps(np.ones((2, 2)), np.ones((2, 2)), stride=2)
    assert stamp_text(whole.steps[3], whole).endswith("added to output rows 2–3, columns 2–3")
