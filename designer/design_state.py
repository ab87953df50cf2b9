"""DesignState: what belongs to the open design beyond its graph, one per window, beside the GraphDocument.

It holds the design's identity token, its runs (the run store, and which runs are this design's), the
current test result, the latest weights, the newest activation snapshot and the probe image loaded from a
file. Panels are views of the document and of this object; the window builds both and hands them in.

Replacing the design (New, Open, a template, a lesson, a .cnnd bundle, an import, a restored backup) goes
through `replace_design`, which calls `GraphDocument.set_graph`. Because the state listens to the document's
`about_to_replace` / `graph_replaced` signals rather than to its own method, a direct `set_graph` call is
caught too: the old design's data is dropped before the new graph arrives, and `replaced` is emitted once
after it, so every view refreshes or empties.

Which runs are "this design's"? Every run records the identity token of the design that trained it and that
design's file (RunRecord.design_id / design_path). A token is issued whenever a design is loaded or created,
so two designs built from the same template, or a lesson opened twice, are told apart, while the runs of
one design stay together across its edits (which a graph fingerprint could not do: every edit changes it).
The file path carries a saved design's runs over to the next session, where it gets a new token. Runs
written before tokens existed are matched by what they trained (layers, parameters and wiring). Runs that
came in a .cnnd project belong to that project's design.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import QObject, Signal

from designer.training.run_store import RunStore
from engine.graph import GraphSpec


def new_identity() -> str:
    return uuid.uuid4().hex[:12]


def design_fingerprint(graph: Optional[GraphSpec]) -> tuple:
    """Layers, parameters and wiring; not positions or names (moving a layer is not a different network)."""
    if graph is None:
        return ()
    return (tuple(sorted((n.id, n.kind, tuple(sorted((k, repr(v)) for k, v in n.params.items())))
                         for n in graph.nodes)),
            tuple(sorted((e.source, e.target, e.slot) for e in graph.edges)))


@dataclass(frozen=True)
class TrainingChoice:
    """A data set and training settings chosen for the design (by a lesson); None leaves a part as it is."""

    dataset_key: Optional[str] = None
    size: Optional[int] = None
    config: object = None      # engine.training.config.TrainConfig


class DesignState(QObject):
    replaced = Signal(str)              # the design was replaced; its new identity token
    runs_changed = Signal()             # a run was added, deleted or adopted into this design
    training_chosen = Signal(object)    # TrainingChoice for the training settings to show

    def __init__(self, document, runs_dir=None, parent=None):
        super().__init__(parent)
        self.document = document
        self.store = RunStore(runs_dir)
        self.identity = new_identity()
        self.project_run_ids: set = set()   # runs that came with an opened .cnnd project
        self._settings_source = None        # the training settings' editor (see set_settings_source)
        self._clear()
        document.about_to_replace.connect(self._let_go)
        document.graph_replaced.connect(self._announce)

    # ---- replacing the design ---------------------------------------------------------------------
    def replace_design(self, graph: GraphSpec, path: str = "") -> str:
        """Make `graph` the open design (with its file `path`, '' for none); returns its identity token."""
        self.document.set_graph(graph, path)
        return self.identity

    def _clear(self) -> None:
        self.result = None          # EvaluationResult shown in Results
        self.weights = None         # latest weights (numpy) and the graph they were trained for
        self.weights_graph = None
        self.warm_start = None      # (run id, weights) the next run starts from
        self.snapshot = None        # newest ActivationSnapshot of a run of this design
        self.probe_image = None     # an image from a file, C×H×W, or None

    def _let_go(self) -> None:
        # Before the new graph is applied: handlers of the document's change signals already see a new
        # identity, so nothing of the old design is mistaken for the new one's (e.g. "edited during the run").
        self.identity = new_identity()
        self.project_run_ids = set()
        self._clear()

    def _announce(self) -> None:
        self.replaced.emit(self.identity)

    # ---- runs -------------------------------------------------------------------------------------
    def stamp(self, record) -> None:
        """Mark a new run (or an adopted import) as this design's."""
        record.design_id = self.identity
        record.design_path = self.document.file_path or ""

    def owns_run(self, record) -> bool:
        """True when `record` was trained by this design (see the module docstring for the rule)."""
        if record.id in self.project_run_ids:
            return True
        design_id = getattr(record, "design_id", "")
        if design_id:
            path = self.document.file_path
            return design_id == self.identity or bool(path) and getattr(record, "design_path", "") == path
        return design_fingerprint(record.graph) == design_fingerprint(self.document.graph)

    def own_runs(self) -> list:
        return [r for r in self.store.records() if self.owns_run(r)]

    def notify_runs_changed(self) -> None:
        """Someone saved or deleted a run in the store: the runs views list it again."""
        self.runs_changed.emit()

    def add_project_runs(self, run_ids) -> None:
        self.project_run_ids |= set(run_ids)
        self.runs_changed.emit()

    # ---- weights and training settings --------------------------------------------------------------
    def set_weights(self, weights, graph) -> None:
        self.weights, self.weights_graph = weights, graph

    def has_trained_weights(self) -> bool:
        """Weights at hand that were trained (or loaded) for exactly the design as it is now."""
        return self.weights is not None and self.weights_graph == self.document.graph

    def choose_training(self, dataset_key=None, size=None, config=None) -> None:
        """Show this data set (and size) and these settings in the training settings."""
        self.training_chosen.emit(TrainingChoice(dataset_key, size, config))

    def set_settings_source(self, source) -> None:
        """`source()` returns (data set key, TrainConfig) as the training settings show them now; the
        dashboard's form edits them, so this state asks it rather than keeping a copy that could drift."""
        self._settings_source = source

    def training_settings(self) -> tuple:
        """(data set key, TrainConfig) chosen for the design; ("", None) without a dashboard. Raises
        ValueError while a setting is half-typed."""
        return self._settings_source() if self._settings_source is not None else ("", None)
