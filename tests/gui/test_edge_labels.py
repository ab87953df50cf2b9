"""An edge's shape label is drawn above the layers, so a layer standing in the way cannot hide it, and it
leaves the scene with its edge."""
from __future__ import annotations

from PySide6.QtCore import QPointF

from designer.canvas.edge_item import EdgeLabel
from engine.graph import EdgeSpec
from helpers import chain_graph


def test_a_layer_in_the_way_does_not_hide_the_shape_label(make_window):
    window = make_window(chain_graph(("Flatten", {}), ("Linear", {"out_features": 10}), spacing=500.0))
    edge = window.scene.edge_items[EdgeSpec("flatten_1", "linear_1", 0)]
    centre = edge._label_rect.center()
    # an unconnected layer dropped right where the label is
    lonely = window.document.add_node("ReLU", (centre.x() - 40.0, centre.y() - 40.0))
    node = window.scene.node_items[lonely]
    assert node.sceneBoundingRect().contains(centre)
    top = window.scene.items(centre)[0]
    assert isinstance(top, EdgeLabel) and top.edge is edge and top.zValue() > node.zValue()
    window.scene.select_nodes([lonely])      # a selected layer is raised, still below the labels
    assert isinstance(window.scene.items(centre)[0], EdgeLabel)


def test_the_label_goes_with_its_edge(make_window):
    window = make_window(chain_graph(("Flatten", {}), ("Linear", {"out_features": 10})))
    spec = EdgeSpec("flatten_1", "linear_1", 0)
    label = window.scene.edge_items[spec].label_item
    assert label.scene() is window.scene
    window.document.remove_edges([spec])
    assert label.scene() is None
    assert not any(isinstance(i, EdgeLabel) and i.edge.edge == spec for i in window.scene.items(QPointF(0, 0)))


def test_labels_fit_their_new_text_after_every_edit(make_window):
    """A label whose text keeps its width is only repainted; one whose width changes is measured again."""
    from designer.canvas.edge_item import _label_metrics

    window = make_window(chain_graph(("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}),
                                     ("ReLU", {}), ("Flatten", {}), ("Linear", {"out_features": 10})))
    relu_edge = window.scene.edge_items[EdgeSpec("conv2d_1", "relu_1", 0)]
    for height in (27, 9, 10, 100, 8):          # same width, then 1 -> 2 -> 3 -> 1 digits
        window.document.set_params("input_1", {"height": height})
        assert relu_edge.label == f"6×{height}×28"
        for edge in window.scene.edge_items.values():
            assert edge._label_rect.width() == _label_metrics().horizontalAdvance(edge.label) + 8, edge.label
            assert edge.boundingRect().contains(edge._label_rect)
