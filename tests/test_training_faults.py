"""Training faults end in one clear Failed message (what happened, how to fix it) or a clean stop: divergence,
an exception inside a layer, out of memory, data that disappears mid-run and Stop before the first step.

Faults are injected the way they happen for real: a layer kind registered for the test (its module raises,
blocks or produces huge values from a chosen step on), a learning rate that really diverges, a real failed
CPU allocation, a data source whose reads fail inside DataLoader worker processes, files deleted mid-run.
"""
import os
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from engine import registry
from engine.data import load_dataset
from engine.data.base import Split
from engine.graph import chain
from engine.training import (CheckpointSaved, Failed, Finished, Started, StepMetrics, TrainConfig, TrainControl,
                             fit)
from engine.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread", "faulty")  # every test may build the Faulty kind


class FaultyLayer(nn.Module):
    """Identity until training step `after`, then does `fault` (an exception to raise, "inf" for logits
    whose loss overflows, or a callable run once per training forward with the step number)."""

    def __init__(self, fault=None, after=0, in_eval=False):
        super().__init__()
        self.fault, self.after, self.in_eval, self.steps = fault, after, in_eval, 0

    def forward(self, x):
        if self.training:
            self.steps += 1
        if self.in_eval and not self.training:
            raise self.fault
        if self.in_eval or self.fault is None or self.steps <= self.after:
            return x
        if callable(self.fault) and not isinstance(self.fault, BaseException):
            self.fault(self.steps)
            return x
        if self.fault == "inf":
            # every sample's loss is huge and finite or +inf, never NaN: the batch's loss is +inf
            big = torch.zeros_like(x)
            big[:, 0], big[:, 1] = 3e38, -3e38
            return x * 0 + big
        raise self.fault


@pytest.fixture
def faulty(monkeypatch):
    """Register the test-only layer kind "Faulty"; faulty.module(...) sets what the next compile builds."""
    registry.all_kinds()  # load the built-in kinds first: the registry loads them only while empty

    class Factory:
        args: dict = {}

        def module(self, fault=None, after=0, in_eval=False):
            self.args = dict(fault=fault, after=after, in_eval=in_eval)

    factory = Factory()
    kind = registry.LayerKind(name="Faulty", category="Activation", help="test-only fault injector",
                              params=(), infer=lambda p, ins: ins[0], emit=None,
                              build=lambda p, ins: FaultyLayer(**factory.args))
    monkeypatch.setitem(registry.REGISTRY, "Faulty", kind)
    return factory


def tiny(*, faulty_at_end=False, extra=()):
    """Input 1×28×28 → Conv2d(4) → ReLU → [Faulty] → Flatten → Linear(10) → [Faulty] → Output: a network
    that trains in milliseconds."""
    inner = [("Faulty", {})] if not faulty_at_end else []
    outer = [("Faulty", {})] if faulty_at_end else []
    return chain([("Input", {}), ("Conv2d", {"out_channels": 4, "kernel_size": (3, 3)}), ("ReLU", {}), *inner,
                  ("Flatten", {}), ("Linear", {"out_features": 10}), *outer, *extra, ("Output", {"classes": 10})])


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=300, seed=1)


def events_of(*args, **kwargs):
    return list(fit(*args, **kwargs))


def only(events, kind):
    return [e for e in events if isinstance(e, kind)]


CFG = TrainConfig(epochs=1, batch_size=32, report_every=1, snapshot_every=-1)


# ---- divergence ---------------------------------------------------------------------------------------

def test_a_learning_rate_far_too_high_diverges_with_advice_to_lower_it(digits, tmp_path):
    linear = chain([("Input", {}), ("Flatten", {}), ("Linear", {"out_features": 64}),
                    ("Linear", {"out_features": 64}), ("Linear", {"out_features": 10}), ("Output", {"classes": 10})])
    events = events_of(linear, digits, TrainConfig(epochs=3, batch_size=32, optimizer="sgd", lr=10.0,
                                                   report_every=1, snapshot_every=-1), run_dir=tmp_path)
    failed = events[-1]
    assert isinstance(failed, Failed) and not only(events, Finished)
    assert "diverged" in failed.reason and ("NaN" in failed.reason or "infinite" in failed.reason)
    assert "Lower the learning rate (try 0.01)" in failed.reason   # not lr / 10 = 1 for a rate this far off
    # every reported loss before the failure was finite, and no checkpoint holds the diverged weights
    assert all(np.isfinite(m.loss) for m in only(events, StepMetrics))
    for saved in only(events, CheckpointSaved):
        state = load_checkpoint(saved.path)
        assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_an_infinite_loss_is_reported_as_infinite(faulty, digits):
    faulty.module("inf", after=2)
    events = events_of(tiny(faulty_at_end=True), digits, CFG)
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert "loss became infinite at epoch 1, step 3" in failed.reason and "learning rate" in failed.reason
    assert len(only(events, StepMetrics)) == 2


def test_nan_or_inf_pixels_in_the_data_blame_the_data_not_the_learning_rate(digits):
    damaged = load_dataset("generated_digits", size=300, seed=1)
    damaged.train.images[5, 0, 3, 3] = float("inf")
    damaged.train.images[9] = float("nan")
    failed = events_of(tiny(), damaged, CFG)[-1]
    assert isinstance(failed, Failed)
    assert "2 training image(s) contain NaN or infinite pixel values" in failed.reason
    assert "Reload the data set" in failed.reason and "learning rate" not in failed.reason


# ---- an exception inside a layer ----------------------------------------------------------------------

def test_an_exception_inside_a_layer_names_the_layer_and_the_step(faulty, digits):
    faulty.module(ValueError("kernel exploded\nsecond line"), after=3)
    events = events_of(tiny(), digits, CFG)
    failed = events[-1]
    assert isinstance(failed, Failed) and len(only(events, StepMetrics)) == 3
    assert failed.reason.startswith("Training stopped: layer faulty_1 (Faulty) raised ValueError: kernel exploded "
                                    "at epoch 1, step 4.")
    assert "second line" not in failed.reason and "Check that layer's settings" in failed.reason
    assert "Traceback" in failed.detail and "kernel exploded" in failed.detail


def test_an_exception_while_validating_says_so(faulty, digits):
    faulty.module(KeyError("missing"), in_eval=True)
    events = events_of(tiny(), digits, CFG)
    failed = events[-1]
    assert isinstance(failed, Failed) and only(events, StepMetrics)
    assert "layer faulty_1 (Faulty) raised KeyError: 'missing' while validating after epoch 1" in failed.reason


def test_a_shape_error_inside_a_built_in_layer_names_that_layer(digits, monkeypatch):
    """A layer that breaks inside torch's own code (here: Linear gets the wrong width) is named too."""
    from engine.training import loop

    real_compile = loop.compile_graph

    def swap_linear(graph, analysis):
        model = real_compile(graph, analysis)
        model.linear_1 = nn.Linear(7, 10)   # the flattened input is 4·26·26 wide, not 7
        return model

    monkeypatch.setattr(loop, "compile_graph", swap_linear)
    failed = events_of(tiny(), digits, CFG)[-1]
    assert isinstance(failed, Failed) and "layer linear_1 (Linear) raised RuntimeError" in failed.reason
    assert "at epoch 1, step 1" in failed.reason


# ---- out of memory ------------------------------------------------------------------------------------

@pytest.mark.parametrize("error, device_words", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "device ran out of memory"),
    (RuntimeError("CUDA out of memory. Tried to allocate 512.00 MiB"), "device ran out of memory"),
    (MemoryError(), "computer ran out of memory"),
])
def test_out_of_memory_mid_run_suggests_a_smaller_batch(faulty, digits, error, device_words):
    faulty.module(error, after=2)
    failed = events_of(tiny(), digits, CFG)[-1]
    assert isinstance(failed, Failed)
    assert f"{device_words} at epoch 1, step 3 with batch size 32" in failed.reason
    assert "try 16" in failed.reason


def test_a_real_failed_cpu_allocation_is_reported_as_out_of_memory_and_the_next_run_works(faulty, digits):
    def allocate_400_terabytes(step):
        torch.empty(10 ** 14)

    faulty.module(allocate_400_terabytes, after=1)
    failed = events_of(tiny(), digits, CFG)[-1]
    assert isinstance(failed, Failed) and "computer ran out of memory" in failed.reason, failed.reason
    faulty.module()
    done = events_of(tiny(), digits, CFG)[-1]
    assert isinstance(done, Finished) and done.epochs_completed == 1


# ---- data that disappears mid-run ---------------------------------------------------------------------

def test_a_folder_data_set_deleted_mid_run_still_trains_to_the_end(tmp_path):
    from PIL import Image

    root = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for c, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(30):
            pixels = rng.integers(0, 100, (12, 12)) + 150 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    data = load_dataset("folder", root=root, input_shape=(1, 12, 12))
    graph = chain([("Input", {"channels": 1, "height": 12, "width": 12}), ("Flatten", {}),
                   ("Linear", {"out_features": 2}), ("Output", {"classes": 2})])
    events = []
    for event in fit(graph, data, TrainConfig(epochs=3, batch_size=8, report_every=1, snapshot_every=-1)):
        events.append(event)
        if isinstance(event, Started):
            shutil.rmtree(root)   # the images were decoded into memory when the set was loaded
    assert not root.exists()
    done = events[-1]
    assert isinstance(done, Finished) and not done.stopped and done.epochs_completed == 3


class VanishingImages:
    """Stands in for a split's image tensor whose backing files disappear: the third read in each
    process raises FileNotFoundError (reads happen in DataLoader worker processes, forked from this one)."""

    def __init__(self, images):
        self.images, self.reads = images, 0
        self.shape = images.shape

    def dim(self):
        return self.images.dim()

    def element_size(self):
        return self.images.element_size()

    def nelement(self):
        return self.images.nelement()

    def index_select(self, dim, index):
        self.reads += 1
        if self.reads >= 3:
            raise FileNotFoundError(2, "No such file or directory", "/data/train/shard_7.bin")
        return self.images.index_select(dim, index)


def test_a_streamed_data_set_whose_files_vanish_fails_with_a_message_naming_it(digits, monkeypatch):
    from engine.training import batches

    monkeypatch.setattr(batches, "keeps_resident", lambda device, nbytes: False)   # the DataLoader path
    data = load_dataset("generated_digits", size=300, seed=1)
    data.train = Split(VanishingImages(data.train.images), data.train.labels)
    events = events_of(tiny(), data, CFG)
    failed = events[-1]
    assert isinstance(failed, Failed) and len(only(events, StepMetrics)) >= 2
    assert failed.reason.startswith("The data set “Generated digits” could not be read during epoch 1 (batch ")
    assert "FileNotFoundError: [Errno 2] No such file or directory: '/data/train/shard_7.bin'" in failed.reason
    assert "reload the data set" in failed.reason


def test_a_streamed_data_set_trains_like_a_resident_one(digits, monkeypatch):
    """The guarded DataLoader path yields every batch: same steps and weights as the in-memory path."""
    from engine.training import batches

    resident = events_of(tiny(), digits, CFG)[-1]
    monkeypatch.setattr(batches, "keeps_resident", lambda device, nbytes: False)
    streamed = events_of(tiny(), digits, CFG)[-1]
    assert isinstance(streamed, Finished) and streamed.epochs_completed == 1
    assert all(np.allclose(resident.weights[k], streamed.weights[k], atol=1e-6) for k in resident.weights)


# ---- Stop before the first step completes -------------------------------------------------------------

def _final_weights(graph, data, cfg, **kwargs):
    done = events_of(graph, data, cfg, **kwargs)[-1]
    assert isinstance(done, Finished), getattr(done, "reason", done)
    return done.weights


def test_stop_before_the_first_step_ends_cleanly_and_resumes_exactly(faulty, digits, tmp_path):
    faulty.module()
    control, events = TrainControl(), []
    for event in fit(tiny(), digits, CFG, control=control, run_dir=tmp_path):
        events.append(event)
        if isinstance(event, Started):
            control.stop()
    assert [type(e) for e in events] == [Started, CheckpointSaved, Finished]
    done = events[-1]
    assert done.stopped and done.epochs_completed == 0 and done.test is None
    state = load_checkpoint(tmp_path)
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, 0, 0)
    resumed = _final_weights(tiny(), digits, CFG, resume=tmp_path)
    straight = _final_weights(tiny(), digits, CFG)
    assert all(np.array_equal(resumed[k], straight[k]) for k in straight)


def test_stop_pressed_during_the_first_batch_finishes_that_step_and_resumes_exactly(faulty, digits, tmp_path):
    control = TrainControl()
    faulty.module(lambda step: control.stop(), after=0)   # Stop arrives while batch 1 is in the network
    events = events_of(tiny(), digits, CFG, control=control, run_dir=tmp_path)
    done = events[-1]
    assert isinstance(done, Finished) and done.stopped and done.epochs_completed == 0
    assert len(only(events, StepMetrics)) == 1 and done.test is not None
    state = load_checkpoint(tmp_path)
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, 1, 1)
    faulty.module()
    resumed = _final_weights(tiny(), digits, CFG, resume=tmp_path)
    straight = _final_weights(tiny(), digits, CFG)
    assert all(np.array_equal(resumed[k], straight[k]) for k in straight)


def test_abort_skips_the_test_evaluation_but_keeps_the_last_checkpoint(faulty, digits, tmp_path):
    """What closing the window does: the run ends right after the current step."""
    control = TrainControl()
    faulty.module(lambda step: step == 2 and control.abort(), after=0)
    events = events_of(tiny(), digits, CFG, control=control, run_dir=tmp_path)
    done = events[-1]
    assert isinstance(done, Finished) and done.stopped and done.test is None
    assert load_checkpoint(tmp_path)["global_step"] == 2


# ---- a full disk ----------------------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to simulate a full disk")
def test_a_full_disk_while_saving_a_checkpoint_fails_with_a_clear_message(digits, tmp_path, monkeypatch):
    import engine.atomic_write as atomic_write

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    real_mkstemp = atomic_write.tempfile.mkstemp

    def full_disk_mkstemp(*args, **kwargs):   # the temporary file is /dev/full: every write fails, ENOSPC
        fd, name = real_mkstemp(*args, **kwargs)
        os.close(fd)
        os.unlink(name)
        os.symlink("/dev/full", name)
        return os.open(name, os.O_WRONLY), name

    monkeypatch.setattr(atomic_write.tempfile, "mkstemp", full_disk_mkstemp)
    events = events_of(tiny(), digits, CFG, run_dir=tmp_path)
    failed = events[-1]
    assert isinstance(failed, Failed), failed
    assert failed.reason.startswith(f"Could not save the best checkpoint to {folder / 'best.pt'} "
                                  "(No space left on device).")
    assert "Free some disk space" in failed.reason
    assert sorted(p.name for p in folder.iterdir()) == []   # no half-written file is left behind
