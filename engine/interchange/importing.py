"""One call per import source: the graph plus, when a weights file is given, the weights renamed to the
compiled module's keys (so `compile_graph(graph).load_state_dict(weights)` just works)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from torch import nn

from engine.graph import GraphSpec
from engine.interchange.fx_import import ImportResult, import_module
from engine.interchange.sources import build_torchvision, load_class_from_file, torchvision_info
from engine.interchange.weights import WeightsError, load_into, load_weights, match_keys


@dataclass
class ImportedModel:
    result: ImportResult
    weights: Optional[dict] = None     # compiled-module keys -> tensors, when weights were loaded

    @property
    def graph(self) -> GraphSpec:
        return self.result.graph


def import_torchvision(key: str, input_shape: Sequence[int] | None = None, num_classes: int = 1000,
                       weights_path: str | os.PathLike[str] | None = None,
                       keep_partial: bool = False) -> ImportedModel:
    info = torchvision_info(key)
    model = build_torchvision(key, num_classes)
    return _finish(model, input_shape or info.input_shape, weights_path, keep_partial, info.title,
                   f"{info.title} imported from torchvision.models.{key}.")


def import_python_class(path: str | os.PathLike[str], class_name: str, input_shape: Sequence[int], *, confirmed: bool,
                        kwargs: dict | None = None, weights_path: str | os.PathLike[str] | None = None,
                        keep_partial: bool = False) -> ImportedModel:
    model = load_class_from_file(path, class_name, confirmed=confirmed, kwargs=kwargs)
    return _finish(model, input_shape, weights_path, keep_partial, class_name, f"{class_name} imported from a Python file.")


def _finish(model, input_shape, weights_path, keep_partial, name, description) -> ImportedModel:
    weights = None
    if weights_path:
        weights = match_keys(load_weights(weights_path), set(model.state_dict()))
        try:  # load into the original first: the clearest check that the file belongs to this model
            load_into(model, weights)     # names missing, unexpected and wrong-shaped keys
        except WeightsError as exc:
            raise WeightsError(f"the weights file {weights_path} does not fit {name}: "
                               f"{str(exc).removeprefix('the weights do not fit this network: ')}") from None
    result = import_module(model, input_shape, keep_partial=keep_partial, name=name, description=description)
    return ImportedModel(result, _renamed(result, weights, model) if weights is not None else None)


def _renamed(result: ImportResult, weights: dict, model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in result.convert_state_dict(weights).items()}
