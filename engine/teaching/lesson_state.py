"""What a lesson's checklist looks at: a plain snapshot of the student's work, free of Qt.

The app builds a `LessonState` from its window (the design, the selection, the training settings, the runs
finished during the lesson, the panels looked at, the answers typed); tests build one by hand. Checks in
engine.teaching.checks read it and never change it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from engine.analysis import Analysis, Analyzer
from engine.graph import GraphSpec
from engine.training.config import TrainConfig

if TYPE_CHECKING:
    from engine.training.run_record import RunRecord

# The panels a lesson can ask the student to look at, with the words used in messages.
PANELS = {
    "curves": "the training curves",
    "feature_maps": "the feature maps",
    "filters": "the filters",
    "results": "the results",
    "runs": "the runs list",
    "runs_compare": "two runs compared in the runs list",
    "training": "the training settings",
    "explain": "the Explain panel",
    "playground": "the convolution playground",
}
DROPOUT_KINDS = ("Dropout", "Dropout2d")


@dataclass(frozen=True)
class View:
    """The student looked at `panel` while the weights were trained (or not) and `node_kind` was selected."""

    panel: str
    trained: bool = False
    node_kind: str = ""


@dataclass(frozen=True)
class RunSummary:
    """A finished training run, reduced to what checks need."""

    run_id: str
    graph: GraphSpec
    config: TrainConfig
    dataset_key: str
    test_accuracy: Optional[float] = None
    train_accuracy: tuple = ()     # per epoch, 0..1
    val_accuracy: tuple = ()       # per epoch, 0..1 (nan without a validation split)
    warm_start_from: str = ""      # id of the run whose weights it started from; "" = from scratch

    __hash__ = None

    @property
    def epochs(self) -> int:
        return len(self.train_accuracy)

    @property
    def final_gap(self) -> Optional[float]:
        """Training minus validation accuracy after the last epoch (None when unknown)."""
        if not self.train_accuracy or not self.val_accuracy:
            return None
        gap = float(self.train_accuracy[-1]) - float(self.val_accuracy[-1])
        return None if math.isnan(gap) else gap


def run_summary_from_record(record: RunRecord, warm_start_from: str = "") -> RunSummary:
    """A RunSummary from an engine.training.run_record.RunRecord (weights are not needed)."""
    epochs = record.epoch_metrics or {}
    test = record.test if isinstance(record.test, dict) else {}
    accuracy = test.get("accuracy")
    return RunSummary(run_id=record.id, graph=record.graph, config=record.config, dataset_key=record.dataset_key,
                      test_accuracy=float(accuracy) if isinstance(accuracy, (int, float)) else None,
                      train_accuracy=tuple(float(a) for a in epochs.get("train_accuracy", ())),
                      val_accuracy=tuple(float(a) for a in epochs.get("val_accuracy", ())),
                      warm_start_from=warm_start_from or "")


@dataclass(frozen=True)
class LessonState:
    """Everything a checklist can see. `analysis` is computed from `graph` when not given."""

    graph: GraphSpec
    analysis: Optional[Analysis] = None
    selected: str = ""                        # the selected node id, "" for none or several
    dataset_key: str = ""                     # the data set chosen in the training settings
    config: Optional[TrainConfig] = None      # the training settings as they are now (None: no dashboard)
    runs: tuple = ()                          # RunSummary of runs finished during this lesson, oldest first
    viewed: frozenset = frozenset()           # View records
    answers: dict = field(default_factory=dict)  # step id -> the text the student typed
    warm_start_pending: bool = False          # a run's weights are loaded for the next run

    __hash__ = None

    def __post_init__(self):
        if self.analysis is None:
            object.__setattr__(self, "analysis", Analyzer().analyze(self.graph))

    def selected_kind(self) -> str:
        return self.graph.node(self.selected).kind if self.selected and self.graph.has_node(self.selected) else ""
