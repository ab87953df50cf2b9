"""Standard blocks that teach by example: the building blocks of well-known CNNs, ready to drop on the canvas.

Each is a small graph of layers with no Input or Output: `entries` are the input ports that take the block's
input (a residual block feeds it to its first convolution and to its Add), `exit` the layer whose output
leaves the block. Channel counts are examples to edit; the analysis says what a neighbour needs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.graph import EdgeSpec, GraphSpec, make_node


@dataclass(frozen=True)
class BlockFragment:
    graph: GraphSpec
    entries: tuple      # ((node id, slot), ...): the ports that take the block's input
    exit: str           # the layer whose output leaves the block


@dataclass(frozen=True)
class LibraryBlock:
    key: str
    title: str
    class_name: str
    description: str
    build: Callable[[], BlockFragment]


class _Chain:
    """Adds layers; `then` continues from the last one, `join` makes a layer with several inputs."""

    def __init__(self):
        self.g = GraphSpec()
        self.x = 0.0

    def add(self, kind: str, inputs=(), **params) -> str:
        node = make_node(self.g, kind, params, (self.x, 0.0))
        self.x += 175.0
        self.g = self.g.with_node(node)
        for slot, source in enumerate(inputs):
            self.g = self.g.with_edge(EdgeSpec(source, node.id, slot))
        return node.id

    def seq(self, start: str | None, *layers: tuple) -> str:
        current = start
        for kind, params in layers:
            current = self.add(kind, [current] if current else [], **params)
        return current


def _conv(out: int, k: int, s: int = 1, p: int = 0, **more):
    return ("Conv2d", dict(out_channels=out, kernel_size=k, stride=s, padding=p, **more))


BN, RELU = ("BatchNorm2d", {}), ("ReLU", {})


def _first(c: _Chain) -> str:
    return c.g.nodes[0].id


def residual_basic() -> BlockFragment:
    c = _Chain()
    body = c.seq(None, _conv(64, 3, p=1, bias=False), BN, RELU, _conv(64, 3, p=1, bias=False), BN)
    out = c.seq(c.add("Add", [body]), RELU)
    add = c.g.nodes[-2].id
    return BlockFragment(c.g, ((_first(c), 0), (add, 1)), out)


def residual_bottleneck() -> BlockFragment:
    c = _Chain()
    body = c.seq(None, _conv(64, 1, bias=False), BN, RELU, _conv(64, 3, p=1, bias=False), BN, RELU,
                 _conv(256, 1, bias=False), BN)
    out = c.seq(c.add("Add", [body]), RELU)
    return BlockFragment(c.g, ((_first(c), 0), (c.g.nodes[-2].id, 1)), out)


def inception_module() -> BlockFragment:
    c = _Chain()
    one = c.seq(None, _conv(64, 1), RELU)
    three = c.seq(None, _conv(96, 1), RELU, _conv(128, 3, p=1), RELU)
    five = c.seq(None, _conv(16, 1), RELU, _conv(32, 5, p=2), RELU)
    pooled = c.seq(None, ("MaxPool2d", dict(kernel_size=3, stride=1, padding=1)), _conv(32, 1), RELU)
    heads = [n.id for n in c.g.nodes if not any(e.target == n.id for e in c.g.edges)]
    out = c.add("Concat", [one, three, five, pooled])
    return BlockFragment(c.g, tuple((h, 0) for h in heads), out)


def nin_block() -> BlockFragment:
    c = _Chain()
    out = c.seq(None, _conv(96, 5, p=2), RELU, _conv(96, 1), RELU, _conv(96, 1), RELU)
    return BlockFragment(c.g, ((_first(c), 0),), out)


def mbconv() -> BlockFragment:
    c = _Chain()
    body = c.seq(None, _conv(96, 1, bias=False), BN, ("ReLU6", {}),
                 _conv(96, 3, p=1, groups=96, bias=False), BN, ("ReLU6", {}), _conv(16, 1, bias=False), BN)
    out = c.add("Add", [body])
    return BlockFragment(c.g, ((_first(c), 0), (out, 1)), out)


def dense_layer() -> BlockFragment:
    c = _Chain()
    new = c.seq(None, BN, RELU, _conv(128, 1, bias=False), BN, RELU, _conv(32, 3, p=1, bias=False))
    out = c.add("Concat", [new])
    return BlockFragment(c.g, ((_first(c), 0), (out, 1)), out)


def vgg_stage() -> BlockFragment:
    c = _Chain()
    out = c.seq(None, _conv(128, 3, p=1), RELU, _conv(128, 3, p=1), RELU, ("MaxPool2d", dict(kernel_size=2, stride=2)))
    return BlockFragment(c.g, ((_first(c), 0),), out)


LIBRARY = {b.key: b for b in (
    LibraryBlock("residual_basic", "Residual block (basic)", "BasicBlock",
                 "ResNet-18/34: two 3×3 convolutions, and the block's input added to their output, so the block "
                 "learns a correction and gradients flow straight through the shortcut. Input and output channels "
                 "must match (64 here).", residual_basic),
    LibraryBlock("residual_bottleneck", "Residual block (bottleneck)", "Bottleneck",
                 "ResNet-50: a 1×1 convolution narrows to 64 channels, a 3×3 works there cheaply, a 1×1 widens back "
                 "to 256, and the input is added. Its input must have 256 channels.", residual_bottleneck),
    LibraryBlock("inception", "Inception module", "InceptionModule",
                 "GoogLeNet: the same input through 1×1, 3×3 and 5×5 convolutions and a pooling branch side by "
                 "side, joined by Concat: the network picks the scale that helps. 1×1 layers keep it cheap.",
                 inception_module),
    LibraryBlock("nin", "NiN block", "MlpconvBlock",
                 "Network in Network: a convolution followed by two 1×1 convolutions, a small fully connected "
                 "network applied at every position.", nin_block),
    LibraryBlock("mbconv", "MBConv (inverted residual)", "InvertedResidual",
                 "MobileNetV2 and EfficientNet: expand with a 1×1, filter each channel alone (depthwise 3×3), "
                 "project back with a 1×1 and add the input. Its input must have 16 channels.", mbconv),
    LibraryBlock("dense_layer", "Dense layer", "DenseLayer",
                 "DenseNet: batch norm, ReLU, a 1×1 then a 3×3 convolution, and Concat keeps the input: every "
                 "layer sees all earlier feature maps (32 new channels each).", dense_layer),
    LibraryBlock("vgg_stage", "VGG stage", "VGGStage",
                 "VGG: two 3×3 convolutions with ReLU (together they see 5×5) and a 2×2 max pool that halves the "
                 "size.", vgg_stage),
)}
