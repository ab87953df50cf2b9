"""Rebuild the lesson designs in designs/: `python resources/lessons/regenerate.py`.

The lessons refer to node ids (conv2d_1, linear_1, ...), so keep the order in which layers are added.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.graph import EdgeSpec, GraphSpec, make_node  # noqa: E402
from engine.graph_io import save_graph  # noqa: E402
from engine.layout import auto_layout  # noqa: E402


class Design:
    """Adds layers one after another; `then` continues from the last layer, `add` takes explicit inputs."""

    def __init__(self, name: str, description: str, channels: int, size: int):
        self.g = GraphSpec(name=name, description=description)
        self.last = self.add("Input", [], channels=channels, height=size, width=size)

    def add(self, kind: str, inputs, **params) -> str:
        node = make_node(self.g, kind, params)
        self.g = self.g.with_node(node)
        for slot, source in enumerate(inputs):
            self.g = self.g.with_edge(EdgeSpec(source, node.id, slot))
        self.last = node.id
        return node.id

    def then(self, kind: str, **params) -> str:
        return self.add(kind, [self.last], **params)

    def conv(self, out: int, k: int = 3, s: int = 1, p: int = 0, relu: bool = True, **more) -> str:
        self.then("Conv2d", out_channels=out, kernel_size=k, stride=s, padding=p, **more)
        return self.then("ReLU") if relu else self.last

    def done(self, classes: int = 10) -> GraphSpec:
        self.then("Output", classes=classes)
        return auto_layout(self.g)


def shapes_and_strides():
    d = Design("Stride, padding and pooling", "A small network to predict shapes on: a 3×3 convolution without "
               "padding, 2×2 max pooling, then a 3×3 convolution with stride 2.", 1, 28)
    d.conv(8)
    d.then("MaxPool2d", kernel_size=2, stride=2)
    d.conv(16, s=2, p=1)
    d.then("Flatten")
    d.then("Linear", out_features=10)
    return d.done()


def overfit_big():
    d = Design("Big network", "Far more weights than a few hundred images need: two convolutions without "
               "pooling in between and a 512-unit fully connected layer (6.4 million parameters).", 1, 28)
    d.conv(32, p=1)
    d.conv(64, p=1)
    d.then("MaxPool2d", kernel_size=2, stride=2)
    d.then("Flatten")
    d.then("Linear", out_features=512)
    d.then("ReLU")
    d.then("Linear", out_features=10)
    return d.done()


def shapes_convolutional():
    d = Design("Convolutional network (shapes)", "Three 3×3 convolution stages and global average pooling: the "
               "same small detectors slide over every position (about 24,000 parameters).", 3, 32)
    for i, width in enumerate((16, 32, 64)):
        d.then("Conv2d", out_channels=width, kernel_size=3, padding=1, bias=False)
        d.then("BatchNorm2d")
        d.then("ReLU")
        if i < 2:
            d.then("MaxPool2d", kernel_size=2, stride=2)
    d.then("Global average pool")
    d.then("Linear", out_features=8)
    return d.done(8)


def shapes_fully_connected():
    d = Design("Fully connected network (shapes)", "Every pixel gets its own weight in every hidden unit: no "
               "convolution, about the same number of parameters (about 24,700).", 3, 32)
    d.then("Flatten")
    d.then("Linear", out_features=8)
    d.then("BatchNorm1d")
    d.then("ReLU")
    d.then("Linear", out_features=8)
    return d.done(8)


def nin_start():
    d = Design("Convolutions with a fully connected head", "Three convolution stages, then Flatten and two "
               "fully connected layers that hold most of the weights.", 1, 28)
    d.conv(16, p=1)
    d.then("MaxPool2d", kernel_size=2, stride=2)
    d.conv(32, p=1)
    d.then("MaxPool2d", kernel_size=2, stride=2)
    d.conv(64)
    d.then("Flatten")
    d.then("Linear", out_features=128)
    d.then("ReLU")
    d.then("Linear", out_features=10)
    return d.done()


def deep(residual: bool):
    name = "Deep network with residual Adds" if residual else "Deep plain network"
    text = ("VGG-style blocks of two 3×3 convolutions, sixteen convolutions deep; each block's input is added "
            "to its output (the last block is still missing its Add)." if residual else
            "VGG-style blocks of two 3×3 convolutions, sixteen convolutions deep, one after another.")
    d = Design(name, text, 1, 28)
    d.conv(16, p=1)
    d.conv(16, p=1)
    x = d.then("MaxPool2d", kernel_size=2, stride=2)
    blocks = 7
    for b in range(blocks):
        d.conv(16, p=1)
        y = d.conv(16, p=1, relu=False)
        if residual and b < blocks - 1:
            y = d.add("Add", [y, x])
        x = d.then("ReLU")
    d.then("Global average pool")
    d.then("Linear", out_features=10)
    return d.done()


def shapes_classifier():
    d = Design("Shape classifier", "Three convolution stages, then Flatten and two fully connected layers: one "
               "class for the whole picture. Flatten keeps where things are, which a box will need later.", 3, 32)
    for width in (16, 32, 64):
        d.then("Conv2d", out_channels=width, kernel_size=3, padding=1, bias=False)
        d.then("BatchNorm2d")
        d.then("ReLU")
        d.then("MaxPool2d", kernel_size=2, stride=2)
    d.then("Flatten")
    d.then("Linear", out_features=64)
    d.then("ReLU")
    d.then("Linear", out_features=8)
    return d.done(8)


DESIGNS = {"stride_padding_pooling": shapes_and_strides, "overfit_big": overfit_big,
           "shapes_convolutional": shapes_convolutional, "shapes_fully_connected": shapes_fully_connected,
           "nin_start": nin_start, "deep_plain": lambda: deep(False), "deep_residual": lambda: deep(True),
           "shapes_classifier": shapes_classifier}

if __name__ == "__main__":
    here = Path(__file__).resolve().parent / "designs"
    here.mkdir(exist_ok=True)
    for key, build in DESIGNS.items():
        save_graph(build(), here / f"{key}.json")
        print("wrote", key)
