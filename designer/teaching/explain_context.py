"""What the explain panel adds to the design's numbers: the probe image's activations and the last run's epoch
metrics, read from the training dashboard (read-only) and handed to the engine as plain data."""
from __future__ import annotations

import logging

import numpy as np

from engine.insight.activations import layer_outputs
from engine.registry import get_kind
from engine.teaching.explain import ExplainContext

log = logging.getLogger(__name__)

# Kinds whose explanation shows the probe image's real values (the others need only the analysis).
PROBE_KINDS = {"MaxPool2d", "AvgPool2d", "Global average pool", "Add", "Output", "Softmax"}


def needs_activations(kind_name: str) -> bool:
    try:
        kind = get_kind(kind_name)
    except KeyError:
        return False
    return kind.name in PROBE_KINDS or kind.category == "Activation"


class ProbeActivations:
    """Activations of the probe image, computed with the dashboard's current module and kept while the same
    module (same design and weights) and the same probe image are in use, so switching between layers or
    redrawing costs no forward pass."""

    def __init__(self):
        self._module = None
        self._probe = None
        self._outputs: dict = {}

    def outputs(self, module, probe, node_ids) -> dict:
        # The dashboard hands out a fresh array for the same probe image each time: compare the values.
        if module is not self._module or self._probe is None or not np.array_equal(probe, self._probe):
            self._module, self._probe, self._outputs = module, np.array(probe, copy=True), {}
        wanted = [nid for nid in node_ids if nid not in self._outputs]
        if wanted:
            self._outputs.update(layer_outputs(module, probe, wanted))
        return self._outputs

    def clear(self):
        self._module = self._probe = None
        self._outputs = {}


def build_context(training, graph, analysis, node_id: str, cache: ProbeActivations,
                  with_activations: bool) -> ExplainContext:
    """The ExplainContext for `node_id`: epoch metrics of the most relevant run and, when asked, the node's
    input and output activations for the probe image (with a note saying why when they cannot be had)."""
    if training is None:
        return ExplainContext(probe_note="The training dashboard is not available, so there is no probe image.")
    metrics, run_name, current = run_metrics(training, graph)
    ctx = ExplainContext(trained=_call(training, "has_trained_weights", False), epoch_metrics=metrics,
                         run_name=run_name, run_is_current=current)
    if not with_activations:
        return ctx
    inputs, output, note = probe_activations(training, graph, analysis, node_id, cache)
    ctx.inputs, ctx.output, ctx.probe_note = inputs, output, note
    return ctx


def probe_activations(training, graph, analysis, node_id, cache):
    """(inputs per slot, output, note) for the probe image; note says why they are missing, if they are."""
    if not analysis.ok:
        return (), None, "Fix the errors in the network to see this on the probe image."
    probe = _call(training, "current_probe", None)
    if probe is None:
        return (), None, "Load a data set in the Training panel (Data set → Load) to see this on the probe image."
    inputs = graph.nodes_of_kind("Input")
    if not inputs or tuple(np.shape(probe)) != tuple(analysis.nodes[inputs[0].id].shape or ()):
        return (), None, "The loaded data set's images do not fit the Input layer; load the data set again."
    module = _call(training, "current_module", None)
    if module is None:
        return (), None, "The network cannot be built yet, so there is no probe image to show."
    order = set(getattr(module, "node_order", ()))
    sources = [e.source for e in graph.in_edges(node_id)]
    wanted = [nid for nid in sources + [node_id] if nid in order]
    if node_id not in order and graph.node(node_id).kind != "Output":
        return (), None, "This layer does not lead to the Output, so the network never computes it."
    try:
        outs = cache.outputs(module, probe, wanted)
    except (RuntimeError, ValueError) as exc:   # a design PyTorch refuses at run time: explain without values
        log.info("probe activations failed: %s", exc)
        return (), None, f"PyTorch could not run the probe image through the network: {exc}"
    by_source = tuple(probe if graph.node(src).kind == "Input" else outs.get(src) for src in sources)
    return by_source, outs.get(node_id), ""


def run_metrics(training, graph):
    """(epoch metrics, run name, trained this very design) of the newest run of exactly this graph, else of
    the open design's newest run (before its latest edits); (None, "", True) when there is none. Runs of other
    designs never count: their numbers would describe another network."""
    state = getattr(training, "state", None)
    owns = state.owns_run if state is not None else (lambda _record: True)
    record = getattr(training, "record", None)
    candidates = ([record] if record is not None else []) + list(reversed(_call(getattr(training, "store", None),
                                                                               "records", [])))
    with_metrics = [r for r in candidates if (r.epoch_metrics or {}).get("train_accuracy") and owns(r)]
    for rec in with_metrics:
        if rec.graph == graph:
            return dict(rec.epoch_metrics), rec.name or rec.id, True
    if with_metrics:
        return dict(with_metrics[0].epoch_metrics), with_metrics[0].name or with_metrics[0].id, False
    return None, "", True


def _call(obj, name, default):
    method = getattr(obj, name, None)
    return method() if callable(method) else default
