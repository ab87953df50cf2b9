"""Where imported models come from: a torchvision architecture by name, or a class in a Python file.

Loading a class from a file runs that file's code, so `load_class_from_file` insists on `confirmed=True`:
the command line asks for --trust-code, the app asks in a dialog. torchvision models are built with
weights=None: nothing is downloaded; pretrained weights can be loaded from a file the person chooses.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from torch import nn


class SourceError(ValueError):
    """The model source cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class TorchvisionModel:
    key: str
    title: str
    input_shape: tuple      # a small input the model accepts (fast to trace); any larger one works too
    kwargs: tuple = ()      # extra constructor arguments as (name, value) pairs


_SMALL = (3, 64, 64)
TORCHVISION_MODELS = tuple(TorchvisionModel(*row) for row in (
    ("alexnet", "AlexNet (2012)", (3, 64, 64)),
    ("vgg11", "VGG-11", (3, 32, 32)), ("vgg11_bn", "VGG-11 with batch norm", (3, 32, 32)),
    ("vgg13", "VGG-13", (3, 32, 32)), ("vgg13_bn", "VGG-13 with batch norm", (3, 32, 32)),
    ("vgg16", "VGG-16", (3, 32, 32)), ("vgg16_bn", "VGG-16 with batch norm", (3, 32, 32)),
    ("vgg19", "VGG-19", (3, 32, 32)), ("vgg19_bn", "VGG-19 with batch norm", (3, 32, 32)),
    ("resnet18", "ResNet-18", _SMALL), ("resnet34", "ResNet-34", _SMALL), ("resnet50", "ResNet-50", _SMALL),
    ("squeezenet1_0", "SqueezeNet 1.0", _SMALL), ("squeezenet1_1", "SqueezeNet 1.1", _SMALL),
    # The auxiliary classifiers only run in training mode, so they are left out to keep the counts equal.
    ("googlenet", "GoogLeNet (Inception v1)", _SMALL, (("aux_logits", False), ("init_weights", False))),
    ("mobilenet_v2", "MobileNetV2", _SMALL),
    ("mobilenet_v3_small", "MobileNetV3 small", _SMALL), ("mobilenet_v3_large", "MobileNetV3 large", _SMALL),
    ("resnet101", "ResNet-101", _SMALL), ("resnet152", "ResNet-152", _SMALL),
    ("resnext50_32x4d", "ResNeXt-50 32×4d", _SMALL), ("wide_resnet50_2", "Wide ResNet-50-2", _SMALL),
    ("densenet121", "DenseNet-121", _SMALL), ("densenet161", "DenseNet-161", _SMALL),
    ("densenet169", "DenseNet-169", _SMALL), ("densenet201", "DenseNet-201", _SMALL),
    # Like GoogLeNet's, the auxiliary classifier only runs in training mode. 75×75 is the smallest input.
    ("inception_v3", "Inception v3", (3, 75, 75), (("aux_logits", False), ("init_weights", False))),
    ("regnet_x_400mf", "RegNetX-400MF", _SMALL), ("regnet_y_400mf", "RegNetY-400MF", _SMALL),
    ("regnet_x_800mf", "RegNetX-800MF", _SMALL), ("regnet_y_800mf", "RegNetY-800MF", _SMALL),
    ("mnasnet0_5", "MNASNet 0.5", _SMALL), ("mnasnet1_0", "MNASNet 1.0", _SMALL),
    ("efficientnet_b0", "EfficientNet-B0", _SMALL), ("efficientnet_b1", "EfficientNet-B1", _SMALL),
    ("efficientnet_b2", "EfficientNet-B2", _SMALL), ("efficientnet_b3", "EfficientNet-B3", _SMALL),
    ("efficientnet_v2_s", "EfficientNetV2-S", _SMALL),
    ("shufflenet_v2_x0_5", "ShuffleNet v2 0.5×", _SMALL), ("shufflenet_v2_x1_0", "ShuffleNet v2 1.0×", _SMALL),
    ("shufflenet_v2_x1_5", "ShuffleNet v2 1.5×", _SMALL), ("shufflenet_v2_x2_0", "ShuffleNet v2 2.0×", _SMALL),
    ("convnext_tiny", "ConvNeXt-T", _SMALL), ("convnext_small", "ConvNeXt-S", _SMALL),
    ("convnext_base", "ConvNeXt-B", _SMALL), ("convnext_large", "ConvNeXt-L", _SMALL),
))


def torchvision_model_keys() -> list:
    return [m.key for m in TORCHVISION_MODELS]


def torchvision_info(key: str) -> TorchvisionModel:
    for m in TORCHVISION_MODELS:
        if m.key == key:
            return m
    raise SourceError(f"unknown torchvision architecture {key!r}; choose one of: {', '.join(torchvision_model_keys())}")


def build_torchvision(key: str, num_classes: int = 1000) -> nn.Module:
    """The architecture with freshly initialised weights (weights=None: no download)."""
    info = torchvision_info(key)
    try:
        import torchvision.models as models
    except ImportError:
        raise SourceError("torchvision is not installed; install it with 'pip install torchvision'") from None
    if not isinstance(num_classes, int) or num_classes < 1:
        raise SourceError(f"the number of classes must be a positive whole number; got {num_classes!r}")
    return getattr(models, key)(weights=None, num_classes=num_classes, **dict(info.kwargs))


def load_class_from_file(path: str | os.PathLike[str], class_name: str, *, confirmed: bool,
                          kwargs: dict | None = None) -> nn.Module:
    """Execute the Python file at `path` and construct `class_name(**kwargs)`.

    This runs the file's code with your permissions: call it only after the person has agreed."""
    if not confirmed:
        raise SourceError("importing from a Python file runs its code; confirm that you trust it "
                          "(--trust-code on the command line)")
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise SourceError(f"{path} is not a Python file (.py)")
    if not class_name.isidentifier():
        raise SourceError(f"{class_name!r} is not a valid class name")
    module_name = f"cnn_designer_import_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except SystemExit:
        raise SourceError(f"{path.name} called exit() while loading; guard its script part with "
                          f"'if __name__ == \"__main__\":'") from None
    except Exception as exc:
        raise SourceError(f"running {path.name} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(module_name, None)
    cls = getattr(module, class_name, None)
    if cls is None:
        classes = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module)
                   and v.__module__ == module_name]
        raise SourceError(f"{path.name} has no class {class_name!r}; its nn.Module classes are: "
                          f"{', '.join(classes) or 'none'}")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise SourceError(f"{class_name} in {path.name} is not an nn.Module subclass")
    try:
        return cls(**(kwargs or {}))
    except Exception as exc:
        raise SourceError(f"constructing {class_name}({_kwargs_text(kwargs)}) failed: {type(exc).__name__}: {exc}. "
                          f"Pass constructor arguments as JSON (--kwargs '{{\"num_classes\": 10}}').") from None


def parse_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"constructor arguments must be a JSON object such as {{\"num_classes\": 10}}: {exc.msg}") \
            from None
    if not isinstance(value, dict):
        raise SourceError("constructor arguments must be a JSON object such as {\"num_classes\": 10}")
    return value


def _kwargs_text(kwargs) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in (kwargs or {}).items())


def parse_shape(text: str) -> tuple:
    """'3x224x224' (or with ×, commas or spaces) -> (3, 224, 224)."""
    parts = [p for p in text.replace("×", "x").replace(",", "x").replace(" ", "x").lower().split("x") if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise SourceError(f"input shape must be channels x height x width, e.g. 3x224x224; got {text!r}")
    return shape
