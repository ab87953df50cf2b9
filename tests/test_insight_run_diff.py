"""Differences between runs: graphs by stable node id, configs side by side; curve smoothing."""
from dataclasses import dataclass, field

import numpy as np
import pytest

from engine.graph import EdgeSpec, make_node
from engine.insight.run_diff import compare_configs, diff_graphs, flatten_config
from engine.insight.smoothing import exponential_moving_average
from engine.templates import load_template


def test_diff_graphs_finds_added_removed_and_changed_layers():
    a = load_template("lenet5")
    conv = a.nodes_of_kind("Conv2d")[0]
    relu = a.out_edges(conv.id)[0].target
    b = a.with_params(conv.id, {"out_channels": 8})
    bn = make_node(b, "BatchNorm2d")
    b = b.insert_on_edge(EdgeSpec(conv.id, relu, 0), bn)
    dropout = make_node(b, "Dropout")
    linear = b.nodes_of_kind("Linear")[0].id
    b2 = b.insert_on_edge(b.out_edges(linear)[0], dropout)
    back = diff_graphs(b2, b)
    d = diff_graphs(a, b2)
    assert [n.id for n in d.added] == [bn.id, dropout.id]
    assert [(c.node_id, c.changes) for c in d.changed] == [(conv.id, (("out_channels", 6, 8),))]
    assert EdgeSpec(conv.id, relu, 0) in d.edges_removed and EdgeSpec(conv.id, bn.id, 0) in d.edges_added
    assert [n.id for n in back.removed] == [dropout.id] and not back.added
    assert any("out_channels 6 → 8" in line for line in d.lines())
    assert diff_graphs(a, a).same
    # the few words a run's name gets
    assert d.summary() == "+BatchNorm2d, +Dropout, …"
    assert d.summary(most=3) == f"+BatchNorm2d, +Dropout, {conv.id} changed"
    assert back.summary() == "−Dropout"
    assert diff_graphs(a, a).summary() == ""
    relabelled = a.with_node(a.node(conv.id).__class__(**{**a.node(conv.id).__dict__, "label": "C1'"}))
    assert diff_graphs(a, relabelled).summary() == ""                 # a new label is not a new network


@dataclass(frozen=True)
class _Aug:
    hflip: bool = False
    rotation: float = 0.0


@dataclass(frozen=True)
class _Config:
    lr: float = 1e-3
    batch_size: int = 64
    augmentation: _Aug = field(default_factory=_Aug)
    freeze: tuple = ()


def test_compare_configs_puts_differences_first():
    a = _Config()
    b = _Config(lr=0.01, augmentation=_Aug(hflip=True), freeze=("conv2d_1",))
    flat = flatten_config(b)
    assert flat["augmentation.hflip"] is True and flat["freeze"] == ("conv2d_1",)
    rows = compare_configs([a, b, a])
    differing = [r.name for r in rows if r.differs]
    assert differing == ["lr", "augmentation.hflip", "freeze"]
    assert rows[0].values == (1e-3, 0.01, 1e-3)
    assert not any(r.differs for r in rows[3:])


def test_exponential_moving_average():
    v = np.array([1.0, 3.0, np.nan, 5.0])
    np.testing.assert_allclose(exponential_moving_average(v, 0.0), v)
    s = exponential_moving_average(v, 0.5)
    # debiased: first value kept, then (0.5·0.5 + 0.5·3) / (1 − 0.25)
    assert s[0] == pytest.approx(1.0) and s[1] == pytest.approx(1.75 / 0.75) and np.isnan(s[2])
    assert s[3] == pytest.approx((1.75 * 0.5 + 2.5) / (1 - 0.125))
    with pytest.raises(ValueError):
        exponential_moving_average(v, 1.0)


def test_warm_start_checkpoint_takes_matching_weights(tmp_path):
    import torch

    from engine.compiler import compile_graph
    from engine.insight.warm_start import write_warm_start
    from engine.training.checkpoint import load_checkpoint
    from engine.training.config import TrainConfig

    old = load_template("lenet5")
    torch.manual_seed(5)
    trained = {k: v.numpy() + 1.0 for k, v in compile_graph(old).state_dict().items()}
    linear = old.nodes_of_kind("Linear")[-1].id
    new = old.with_params(old.nodes_of_kind("Linear")[0].id, {"out_features": 100})  # changes two layers
    config = TrainConfig(seed=3)
    ws = write_warm_start(new, config, trained, tmp_path / "warm.pt")
    state = load_checkpoint(ws.path)
    torch.manual_seed(3)
    fresh = compile_graph(new).state_dict()
    conv = old.nodes_of_kind("Conv2d")[0].id
    np.testing.assert_array_equal(state["model"][f"{conv}.weight"].numpy(), trained[f"{conv}.weight"])
    first_linear = old.nodes_of_kind("Linear")[0].id
    torch.testing.assert_close(state["model"][f"{first_linear}.weight"], fresh[f"{first_linear}.weight"])
    assert f"{first_linear}.weight" in ws.skipped and f"{linear}.bias" in ws.loaded
    assert state["epoch"] == 0
