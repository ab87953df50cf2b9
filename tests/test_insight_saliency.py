"""Grad-CAM and input-gradient saliency against quantities computed directly with PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.compiler import compile_graph
from engine.graph import chain
from engine.insight.activations import layer_outputs, module_with_weights
from engine.insight.saliency import grad_cam, input_gradient_saliency, top_k
from engine.templates import load_template


def _cam_network():
    g = chain([("Input", {"channels": 3, "height": 12, "width": 12}),
               ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
               ("ReLU", {}),
               ("Conv2d", {"out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1}),
               ("Global average pool", {}),
               ("Linear", {"out_features": 3}),
               ("Output", {"classes": 3})])
    torch.manual_seed(1)
    return g, compile_graph(g).eval()


def test_grad_cam_equals_class_activation_map_for_gap_networks():
    # With global average pooling then Linear, Grad-CAM's channel weights are W[c] / (H·W), so the map
    # is ReLU(Σ_k W[c,k]·A_k): the class activation map of Zhou et al. 2016, computed here by hand.
    g, module = _cam_network()
    conv = g.nodes[3].id
    linear = g.nodes[5].id
    x = torch.randn(4, 3, 12, 12)
    classes = [0, 1, 2, 1]
    maps = layer_outputs(module, x[0], [conv])[conv]
    cams = grad_cam(module, x, conv, classes)
    assert cams.shape == (4, 12, 12)
    with torch.no_grad():
        acts = module.get_submodule(conv)(module.get_submodule(g.nodes[2].id)(module.get_submodule(g.nodes[1].id)(x)))
        np.testing.assert_allclose(acts[0].numpy(), maps, rtol=1e-5, atol=1e-6)
        w = module.get_submodule(linear).weight
        for i, c in enumerate(classes):
            cam = F.relu((w[c].view(-1, 1, 1) * acts[i]).sum(0))
            up = F.interpolate(cam[None, None], size=(12, 12), mode="bilinear", align_corners=False)[0, 0]
            up = (up - up.min()) / (up.max() - up.min())
            np.testing.assert_allclose(cams[i], up.numpy(), atol=1e-5)


def test_input_gradient_saliency_matches_autograd_and_defaults_to_predicted_class():
    g = load_template("lenet5")
    torch.manual_seed(2)
    module = compile_graph(g).eval()
    x = torch.randn(3, 1, 28, 28)
    sal = input_gradient_saliency(module, x.numpy())
    predicted = module(x).argmax(1)
    for i in range(3):
        xi = x[i:i + 1].clone().requires_grad_(True)
        module(xi)[0, predicted[i]].backward()
        expected = xi.grad[0].abs().amax(0)
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        np.testing.assert_allclose(sal[i], expected.numpy(), atol=1e-5)


def test_grad_cam_refuses_flat_layers_and_unknown_names():
    g, module = _cam_network()
    with pytest.raises(ValueError, match="channels, height, width"):
        grad_cam(module, torch.randn(1, 3, 12, 12), g.nodes[4].id)
    with pytest.raises(ValueError, match="no layer"):
        grad_cam(module, torch.randn(1, 3, 12, 12), "conv2d_99")


def test_top_k_orders_probabilities():
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], dtype=np.float32)
    idx, probs = top_k(p, 3)
    assert idx.tolist() == [[1, 2, 0], [0, 2, 1]]
    np.testing.assert_allclose(probs, [[0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])


def test_module_with_weights_round_trip_and_clear_mismatch_message():
    g = load_template("lenet5")
    torch.manual_seed(3)
    trained = compile_graph(g)
    weights = {k: v.numpy() for k, v in trained.state_dict().items()}
    loaded = module_with_weights(g, weights)
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded(x), trained.eval()(x))
    outputs = layer_outputs(loaded, x[0])
    assert set(outputs) == set(loaded.node_order)
    conv = g.nodes_of_kind("Conv2d")[0].id
    assert outputs[conv].shape == (6, 28, 28)
    bad = dict(weights)
    bad[f"{conv}.weight"] = np.zeros((3, 1, 5, 5), np.float32)
    with pytest.raises(ValueError, match="shapes differ"):
        module_with_weights(g, bad)
