"""The training engine: TrainConfig, TrainControl, typed events, fit(), evaluation and run records.
No Qt: the desktop app, the command line and torchrun jobs all drive this same package."""
from engine.training.config import Augmentation, TrainConfig
from engine.training.control import TrainControl
from engine.training.evaluate import EvaluationResult, evaluate
from engine.training.events import (ActivationSnapshot, CheckpointSaved, EpochMetrics, Failed, Finished, Started,
                                    StepMetrics)

__all__ = ["Augmentation", "TrainConfig", "TrainControl", "EvaluationResult", "evaluate", "ActivationSnapshot",
           "CheckpointSaved", "EpochMetrics", "Failed", "Finished", "Started", "StepMetrics", "fit"]


def __getattr__(name):
    # fit is imported lazily so importing the config or events stays cheap for the GUI.
    if name == "fit":
        from engine.training.loop import fit
        return fit
    raise AttributeError(name)
