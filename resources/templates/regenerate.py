"""Rebuild the template JSON files in this folder: `python resources/templates/regenerate.py`."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.blocks import group  # noqa: E402
from engine.graph import EdgeSpec, GraphSpec, make_node  # noqa: E402
from engine.graph_io import save_graph  # noqa: E402
from engine.layout import auto_layout  # noqa: E402


class Builder:
    def __init__(self, name, description):
        self.g = GraphSpec(name=name, description=description)
        self.groups = []

    def add(self, kind, after=None, label="", **params):
        node = make_node(self.g, kind, params, label=label)
        self.g = self.g.with_node(node)
        for slot, src in enumerate([after] if isinstance(after, str) else (after or [])):
            self.g = self.g.with_edge(EdgeSpec(src, node.id, slot))
        return node.id

    def seq(self, start, *layers):
        cur = start
        for kind, params in layers:
            cur = self.add(kind, cur, **params)
        return cur

    def group(self, ids, name, class_name):
        """Make these layers one use of a block (engine.blocks): it collapses on the canvas and is one class in
        exported code; uses of one class name share their structure. Applied by done(), once the layers after
        the block are connected to it."""
        self.groups.append((list(ids), name, class_name))

    def since(self, before):
        """The ids of the layers added after the design had `before` layers."""
        return [n.id for n in self.g.nodes[before:]]

    def done(self):
        for ids, name, class_name in self.groups:
            self.g = group(self.g, ids, name, class_name)
        return auto_layout(self.g)


def conv(out, k, s=1, p=0, **kw):
    return ("Conv2d", dict(out_channels=out, kernel_size=k, stride=s, padding=p, **kw))


RELU = ("ReLU", {})


def pool(k=2, s=None, kind="MaxPool2d"):
    return (kind, dict(kernel_size=k, stride=s or k))


def lenet5():
    b = Builder("LeNet-5", "LeCun et al. 1998 for 28×28 grey digits: two convolution and pooling stages, "
                           "then three fully connected layers.")
    x = b.add("Input", channels=1, height=28, width=28)
    x = b.seq(x, conv(6, 5, p=2), RELU, pool(), conv(16, 5), RELU, pool(), ("Flatten", {}),
              ("Linear", dict(out_features=120)), RELU, ("Linear", dict(out_features=84)), RELU,
              ("Linear", dict(out_features=10)))
    b.add("Output", x, classes=10)
    return b.done()


def alexnet():
    b = Builder("AlexNet", "Krizhevsky et al. 2012 as in torchvision: 224×224 colour images, 1000 classes, "
                           "61.1 million parameters.")
    x = b.add("Input", channels=3, height=224, width=224)
    x = b.seq(x, conv(64, 11, 4, 2), RELU, pool(3, 2), conv(192, 5, p=2), RELU, pool(3, 2),
              conv(384, 3, p=1), RELU, conv(256, 3, p=1), RELU, conv(256, 3, p=1), RELU, pool(3, 2),
              ("AdaptiveAvgPool2d", dict(output_size=6)), ("Flatten", {}), ("Dropout", dict(p=0.5)),
              ("Linear", dict(out_features=4096)), RELU, ("Dropout", dict(p=0.5)),
              ("Linear", dict(out_features=4096)), RELU, ("Linear", dict(out_features=1000)))
    b.add("Output", x, classes=1000)
    return b.done()


def vgg11():
    b = Builder("VGG-11", "Simonyan and Zisserman 2014, configuration A as in torchvision: stacks of 3×3 "
                          "convolutions, 224×224 colour images, 1000 classes.")
    x = b.add("Input", channels=3, height=224, width=224)
    for number, widths in enumerate(((64,), (128,), (256, 256), (512, 512), (512, 512)), start=1):
        before = len(b.g.nodes)
        for width in widths:
            x = b.seq(x, conv(width, 3, p=1), RELU)
        x = b.seq(x, pool())
        b.group(b.since(before), f"stage{number}", "VGGStage" if len(widths) == 1 else "VGGDoubleStage")
    x = b.seq(x, ("AdaptiveAvgPool2d", dict(output_size=7)), ("Flatten", {}),
              ("Linear", dict(out_features=4096)), RELU, ("Dropout", dict(p=0.5)),
              ("Linear", dict(out_features=4096)), RELU, ("Dropout", dict(p=0.5)),
              ("Linear", dict(out_features=1000)))
    b.add("Output", x, classes=1000)
    return b.done()


def nin():
    b = Builder("Network in Network", "Lin et al. 2013 for 32×32 colour images: mlpconv blocks (a convolution "
                                      "followed by two 1×1 convolutions) and global average pooling instead of "
                                      "fully connected layers.")
    x = b.add("Input", channels=3, height=32, width=32)
    stages = ((dict(channels=192, kernel_size=5, padding=2, mlp_channels=160, out_channels=96), "MaxPool2d"),
              (dict(channels=192, kernel_size=5, padding=2, mlp_channels=192, out_channels=192), "AvgPool2d"))
    for number, (block, pooling) in enumerate(stages, start=1):   # an mlpconv block, pooling, dropout
        before = len(b.g.nodes)
        x = b.seq(x, ("NiN block", block), pool(3, 2, pooling), ("Dropout", dict(p=0.5)))
        b.group(b.since(before), f"stage{number}", "MlpconvMaxStage" if pooling == "MaxPool2d" else "MlpconvAvgStage")
    x = b.seq(x, ("NiN block", dict(channels=192, kernel_size=3, padding=1, mlp_channels=192, out_channels=10)),
              ("Global average pool", {}))
    b.add("Output", x, classes=10)
    return b.done()


def small_resnet():
    b = Builder("Small ResNet", "He et al. 2015 in miniature for 32×32 colour images: residual blocks whose "
                                "input is added to their output; a 1×1 convolution matches shapes when the "
                                "block halves the resolution.")
    x = b.add("Input", channels=3, height=32, width=32)
    x = b.seq(x, conv(16, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU)
    for number, (out, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        before = len(b.g.nodes)
        y = b.seq(x, conv(out, 3, stride, 1, bias=False), ("BatchNorm2d", {}), RELU,
                  conv(out, 3, 1, 1, bias=False), ("BatchNorm2d", {}))
        short = x if stride == 1 else b.seq(x, conv(out, 1, stride, bias=False), ("BatchNorm2d", {}))
        x = b.seq(b.add("Add", [y, short]), RELU)
        b.group(b.since(before), f"block{number}", "BasicBlock" if stride == 1 else "DownsampleBlock")
    x = b.seq(x, ("Global average pool", {}), ("Linear", dict(out_features=10)))
    b.add("Output", x, classes=10)
    return b.done()


def inception():
    b = Builder("Inception block", "Szegedy et al. 2014: one input seen through 1×1, 3×3 and 5×5 convolutions "
                                   "and a pooling branch side by side, joined with Concat, on 32×32 colour images.")
    x = b.add("Input", channels=3, height=32, width=32)
    x = b.seq(x, conv(64, 3, p=1), RELU, pool())
    before = len(b.g.nodes)
    branches = [b.seq(x, conv(32, 1), RELU),
                b.seq(x, conv(48, 1), RELU, conv(64, 3, p=1), RELU),
                b.seq(x, conv(8, 1), RELU, conv(16, 5, p=2), RELU),
                b.seq(x, ("MaxPool2d", dict(kernel_size=3, stride=1, padding=1)), conv(16, 1), RELU)]
    x = b.add("Concat", branches)
    b.group(b.since(before), "inception", "InceptionModule")
    x = b.seq(x, ("Global average pool", {}), ("Dropout", dict(p=0.4)), ("Linear", dict(out_features=10)))
    b.add("Output", x, classes=10)
    return b.done()


def _double_conv(b, x, out):
    return b.seq(x, conv(out, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU,
                 conv(out, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU)


def small_fcn():
    b = Builder("Small FCN", "Long et al. 2015 in miniature for segmentation of 64×64 colour scenes: a "
                             "convolutional encoder, a 1×1 convolution scoring 4 classes at every position, and "
                             "upsampling back to the input's size. Train it on Generated scenes.")
    x = b.add("Input", channels=3, height=64, width=64)
    x = b.seq(x, conv(16, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU, pool(),
              conv(32, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU, pool(),
              conv(64, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU,
              conv(64, 3, p=2, dilation=2, bias=False), ("BatchNorm2d", {}), RELU,
              conv(4, 1), ("Upsample", dict(scale_factor=4, mode="bilinear")))
    b.add("Output", x, classes=4, task="segmentation")
    return b.done()


def small_unet():
    b = Builder("Small U-Net", "Ronneberger et al. 2015 in miniature for segmentation of 64×64 colour scenes: "
                               "an encoder that halves the resolution twice, a decoder that doubles it back with "
                               "transposed convolutions, and skip connections (Concat) that bring the encoder's "
                               "sharp detail to the decoder. Train it on Generated scenes.")
    x = b.add("Input", channels=3, height=64, width=64)
    enc1 = _double_conv(b, x, 16)
    enc2 = _double_conv(b, b.seq(enc1, pool()), 32)
    bottom = _double_conv(b, b.seq(enc2, pool()), 64)
    up2 = b.seq(bottom, ("ConvTranspose2d", dict(out_channels=32, kernel_size=2, stride=2)))
    dec2 = _double_conv(b, b.add("Concat", [up2, enc2]), 32)
    up1 = b.seq(dec2, ("ConvTranspose2d", dict(out_channels=16, kernel_size=2, stride=2)))
    dec1 = _double_conv(b, b.add("Concat", [up1, enc1]), 16)
    x = b.seq(dec1, conv(4, 1))
    b.add("Output", x, classes=4, task="segmentation")
    return b.done()


def _encoder(b, x, *widths):
    """Convolution, batch norm and ReLU per width, halving the size after each."""
    for width in widths:
        x = b.seq(x, conv(width, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU, pool())
    return x


def small_localizer():
    b = Builder("Small localizer", "Classification plus one box, as two heads on one encoder. The class head "
                                   "takes the strongest response of each feature over the whole 8×8 map (a "
                                   "max pool as large as the map: a shape is the same class anywhere, and "
                                   "averaging would dilute it with background); the box head flattens, which "
                                   "keeps where things are. Concat joins the 3 class scores and the box's "
                                   "centre and size into the 7 numbers the Output expects. Train it on Generated "
                                   "single shapes.")
    x = b.add("Input", channels=3, height=64, width=64)
    x = _encoder(b, x, 16, 32, 64)
    x = b.seq(x, conv(64, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU)
    scores = b.seq(x, pool(8), ("Flatten", {}), ("Linear", dict(out_features=3)))
    box = b.seq(x, pool(), ("Flatten", {}), ("Linear", dict(out_features=128)), RELU,
                ("Linear", dict(out_features=4)))
    b.add("Output", b.add("Concat", [scores, box]), classes=3, task="localization")
    return b.done()


def small_detector():
    b = Builder("Small detector", "CenterNet (Zhou et al. 2019) in miniature: a convolutional encoder at a "
                                  "quarter of the input's size, then a head whose 1×1 convolution outputs a heat map "
                                  "per class (peaks mark object centres) and four maps for each box's size and "
                                  "centre offset. No anchors, no box lists. Train it on Generated scenes with "
                                  "boxes.")
    x = b.add("Input", channels=3, height=64, width=64)
    x = _encoder(b, x, 16, 32)
    x = b.seq(x, conv(64, 3, p=1, bias=False), ("BatchNorm2d", {}), RELU,
              conv(64, 3, p=2, dilation=2, bias=False), ("BatchNorm2d", {}), RELU,
              conv(64, 3, p=4, dilation=4, bias=False), ("BatchNorm2d", {}), RELU,
              conv(64, 3, p=1), RELU, conv(7, 1))
    b.add("Output", x, classes=3, task="detection")
    return b.done()


TEMPLATES = {"lenet5": lenet5, "alexnet": alexnet, "vgg11": vgg11, "nin": nin,
             "small_resnet": small_resnet, "inception": inception, "small_fcn": small_fcn, "small_unet": small_unet,
             "small_localizer": small_localizer, "small_detector": small_detector}

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for key, build in TEMPLATES.items():
        save_graph(build(), here / f"{key}.json")
        print("wrote", key)
