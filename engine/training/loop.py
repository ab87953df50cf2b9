"""fit(): train a designed network on a data set, yielding typed events as it goes.

The generator checks the TrainControl between steps (pause holds, stop ends the run with a consistent
"last" checkpoint), turns every fault into a Failed event, and runs unchanged as one rank of a torchrun
job (DistributedDataParallel; each rank trains on its own shard; metrics are summed across ranks; only
rank 0 writes files and takes activation snapshots).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.analysis import analyze
from engine.compiler import compile_graph, input_shape
from engine.data.adapt import needed_fixes
from engine.data.base import DatasetError
from engine.graph_io import graph_to_json
from engine.training.batches import BatchSource, evaluation_batches
from engine.module_paths import frozen_layers
from engine.training.tasks import dice_counts, dice_loss, label_count, metric_counts, objective_loss, task_mismatch
from engine.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint, state_dict_mismatch
from engine.training.config import TrainConfig
from engine.training.control import TrainControl
from engine.training.devices import all_reduce_sum, current_world, device_name, resolve_device
from engine.training.evaluate import evaluate
from engine.training.events import (ActivationSnapshot, CheckpointSaved, EpochMetrics, Finished, Started,
                                    StepMetrics)
from engine.training.faults import CheckpointError, NonFiniteLoss, TrainingSetupError, failing_layer, failure
from engine.training.optim import build_optimizer, build_schedule
from engine.training.snapshots import capture

if TYPE_CHECKING:
    from engine.data.base import Dataset
    from engine.graph import GraphSpec
    from engine.training.events import Event

EVAL_BATCH = 512
CHANNELS_LAST_DEVICES = ("cpu", "cuda")  # not MPS: its NHWC kernels have had correctness bugs


def fit(graph: GraphSpec, data: Dataset, config: TrainConfig | None = None, control: TrainControl | None = None,
        run_dir: str | os.PathLike[str] | None = None, probe: int | torch.Tensor | np.ndarray | None = None,
        resume: str | os.PathLike[str] | None = None) -> Iterator[Event]:
    """Train `graph` on `data` (an engine.data.Dataset); a generator of Started, StepMetrics, EpochMetrics,
    ActivationSnapshot, CheckpointSaved and finally Finished or Failed.

    run_dir: where checkpoints/last.pt and checkpoints/best.pt go (None = no files). probe: an index into
    the test split or a C×H×W image for activation snapshots (default: test image 0). resume: a
    checkpoint file or run folder to continue from.
    """
    config = config or TrainConfig()
    run = _Run(graph, data, config, control or TrainControl(), run_dir, probe, resume)
    try:
        yield from run.events()
    except GeneratorExit:
        raise
    except Exception as exc:  # every fault becomes an event; the caller never sees a traceback
        yield failure(exc, config.batch_size, run.layer_name(failing_layer(exc, getattr(run, "model", None))),
                      run.when())


class _Run:
    def __init__(self, graph, data, config, control, run_dir, probe, resume):
        self.graph, self.config, self.control = graph, config, control
        self.run_dir, self.probe_arg, self.resume = run_dir, probe, resume
        self.data = data
        self.phase = ("setup",)   # what the run is doing, for error messages: see when()

    def when(self) -> str:
        """Where the run was, in words, for a Failed message: "at epoch 2, step 130" and the like."""
        what, *at = self.phase
        if what == "train":
            return f"at epoch {at[0] + 1}, step {at[1]}"
        if what == "validate":
            return f"while validating after epoch {at[0] + 1}"
        if what == "snapshot":
            return f"while taking a feature-map snapshot at step {at[0]}"
        if what == "test":
            return "while evaluating the test set"
        return "while preparing the run"

    def layer_name(self, node_id: str | None) -> str | None:
        """'conv2d_1 (Conv2d)' for a node id of the graph being trained."""
        node = self.graph.node_map().get(node_id) if node_id else None
        return f"{node.id} ({node.kind})" if node is not None else node_id

    # ---- setup -----------------------------------------------------------------------------------
    def _setup(self):
        cfg, graph = self.config, self.graph
        analysis = analyze(graph)
        if not analysis.ok:
            first = analysis.errors[0]
            raise TrainingSetupError(f"The network cannot be built yet: {first}. Fix the errors marked on the canvas "
                                     f"({len(analysis.errors)} in total) and start again.")
        want, have = tuple(input_shape(graph)), tuple(self.data.input_shape)
        if want != have:
            try:
                fixes = needed_fixes(have, want)
                hint = f"or reload the data set with the fix {' + '.join(fixes)}"
            except DatasetError:
                hint = "or choose a data set with matching channels"
            raise TrainingSetupError(f"The data set's images are {'×'.join(map(str, have))} but the network's Input "
                                     f"expects {'×'.join(map(str, want))}; set the Input to "
                                     f"{'×'.join(map(str, have))} {hint}.")
        output = graph.nodes_of_kind("Output")[0].params
        task, wanted = self.data.task, output.get("task", "classification")
        self.task = task
        if task != wanted:
            raise TrainingSetupError(task_mismatch(wanted, self.data.info.title, task))
        classes = output["classes"]
        if classes != self.data.num_classes:
            raise TrainingSetupError(f"The network's Output has {classes} classes but the data set has "
                                     f"{self.data.num_classes}; set the Output's classes to {self.data.num_classes}.")
        self.data = self.data.with_val_fraction(cfg.val_fraction)
        self.world = world = current_world()
        try:
            self.device = device = resolve_device(cfg.device, world)
        except ValueError as exc:
            raise TrainingSetupError(f"{exc}.") from None
        torch.manual_seed(cfg.seed)
        self.model = model = compile_graph(graph, analysis).to(device)
        if device.type in CHANNELS_LAST_DEVICES and input_shape(graph) and len(input_shape(graph)) == 3:
            # Convolutions run markedly faster in channels-last (NHWC) layout on CPUs (oneDNN) and on
            # CUDA tensor cores; the weights keep their shapes and values, only the memory layout differs.
            model.to(memory_format=torch.channels_last)
        frozen, unknown = frozen_layers(graph, cfg.freeze, model)
        if unknown:
            raise TrainingSetupError(f"Cannot freeze {', '.join(unknown)}: no such layer with weights in the network "
                                     f"(give layer ids such as conv2d_1, or module paths such as layer1.0.conv1).")
        for nid in frozen:
            getattr(model, nid).requires_grad_(False)
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        if not self.trainable:
            raise TrainingSetupError("The network has no trainable weights (all frozen or none present); "
                                     "unfreeze a layer or add a Linear or Conv2d layer.")
        if len(self.data.train) < world.size:
            raise TrainingSetupError(f"The training split has {len(self.data.train)} images, fewer than the "
                                     f"{world.size} processes; use a larger data set.")
        self.source = BatchSource(self.data.train, device, cfg, world, name=self.data.info.title)
        self.optimizer = build_optimizer(self.trainable, cfg)
        self.schedule = build_schedule(self.optimizer, cfg, self.source.steps_per_epoch)
        self.amp = device.type == "cuda" and cfg.mixed_precision
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp) if self.amp else None
        self.epoch, self.skip, self.global_step = 0, 0, 0
        self.best_val, self.bad_epochs = math.inf, 0
        if self.resume is not None:
            self._load(self.resume)
        self.train_model = model
        if world.distributed:
            from torch.nn.parallel import DistributedDataParallel
            self.train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        self.probe_index, self.probe = self._probe_image()

    def _probe_image(self):
        p = self.probe_arg
        if isinstance(p, (torch.Tensor, np.ndarray)):
            img = torch.as_tensor(p, dtype=torch.float32)
            img = img.unsqueeze(0) if img.dim() == 3 else img
            if tuple(img.shape[1:]) != tuple(self.data.input_shape):
                raise TrainingSetupError(f"The probe image is {tuple(img.shape[1:])} but the network expects "
                                         f"{tuple(self.data.input_shape)}.")
            return -1, img[:1].to(self.device)
        index = int(p or 0)
        test = self.data.test if len(self.data.test) else self.data.train
        index = min(max(index, 0), len(test) - 1)
        return index, test.images[index:index + 1].to(self.device)

    def _load(self, where):
        try:
            state = load_checkpoint(where)
        except ValueError as exc:
            raise TrainingSetupError(f"Cannot resume: {exc}.") from None
        try:
            self.model.load_state_dict(state["model"])
        except (RuntimeError, TypeError, AttributeError):
            raise TrainingSetupError(
                f"Cannot resume: the checkpoint was saved from a different network "
                f"({state_dict_mismatch(self.model.state_dict(), state['model'])}). Open the design it was trained "
                f"with, or start a new run.") from None
        saved = state.get("config") or {}
        for name in ("optimizer", "schedule"):  # their saved states only fit the same kind of optimizer/schedule
            if saved.get(name, getattr(self.config, name)) != getattr(self.config, name):
                raise TrainingSetupError(f"Cannot resume: the checkpoint was trained with {name} {saved[name]!r}, "
                                         f"not {getattr(self.config, name)!r}; resume with {name} {saved[name]!r} "
                                         f"or start a new run.")
        try:  # a tampered or foreign checkpoint: its optimizer state may be anything tensors and dicts can hold
            if not isinstance(state.get("epoch"), int) or isinstance(state["epoch"], bool) or state["epoch"] < 0:
                raise ValueError("its epoch is not a whole number")
            self.optimizer.load_state_dict(state["optimizer"])
            if self.schedule is not None and state.get("schedule"):
                self.schedule.load_state_dict(state["schedule"])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            self.epoch, self.skip = int(state["epoch"]), int(state.get("step_in_epoch", 0))
            self.global_step = int(state.get("global_step", 0))
            self.best_val = float(state.get("best_val_loss", math.inf))
            self.bad_epochs = int(state.get("bad_epochs", 0))
            if state.get("rng") is not None:
                torch.set_rng_state(state["rng"])
            if state.get("cuda_rng") is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"], self.device)
            self.source.set_state(state.get("aug_rng"))
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError, OverflowError) as exc:
            raise TrainingSetupError(f"Cannot resume: the checkpoint {where} is damaged ({type(exc).__name__}: "
                                     f"{str(exc)[:120]}). Resume from another checkpoint (checkpoints/best.pt) or "
                                     f"start a new run.") from None

    def _state(self, epoch: int, step_in_epoch: int) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict() if self.schedule is not None else {},
                "scaler": self.scaler.state_dict() if self.scaler is not None else {},
                "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": self.global_step,
                "best_val_loss": self.best_val, "bad_epochs": self.bad_epochs,
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "aug_rng": self.source.state(), "config": self.config.to_dict(),
                "graph": graph_to_json(self.graph), "dataset_key": self.data.key, "world_size": self.world.size}

    def _checkpoint(self, which: str, epoch: int, step_in_epoch: int = 0):
        if self.run_dir is None or not self.world.is_main:
            return None
        path, state = checkpoint_path(self.run_dir, which), self._state(epoch, step_in_epoch)
        try:
            save_checkpoint(path, state)
        except (OSError, RuntimeError) as exc:   # torch.save reports a failed write as a RuntimeError
            why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).strip().splitlines()[0]
            raise CheckpointError(f"Could not save the {which} checkpoint to {path} ({why}). Free "
                                  f"some disk space (or make the runs folder writable) and start again; the "
                                  f"previous checkpoint is kept.") from exc
        return CheckpointSaved(str(path), which, epoch)

    # ---- the run ---------------------------------------------------------------------------------
    def events(self):
        self._setup()
        cfg, src, world = self.config, self.source, self.world
        spe = src.steps_per_epoch
        total = spe * cfg.epochs
        report_every = cfg.report_every or max(1, min(50, spe // 20))
        snap_every = cfg.snapshot_every if cfg.snapshot_every > 0 else (max(1, spe // 4) if cfg.snapshot_every == 0 else 0)
        yield Started(str(self.device), device_name(self.device), len(self.data.train), len(self.data.val),
                      len(self.data.test), spe, total, sum(p.numel() for p in self.trainable),
                      self.data.class_names, world.size, self.epoch, self.amp)
        self.t0 = time.perf_counter()
        steps_done, stopped, early = 0, False, False
        completed = self.epoch
        for epoch in range(self.epoch, cfg.epochs):
            self.model.train()
            win = torch.zeros(2, device=self.device, dtype=torch.float64)
            win_n, win_m, win_images, win_t = 0, 0, 0, time.perf_counter()
            ep_loss = ep_correct = ep_n = ep_m = 0.0
            step_in_epoch = self.skip
            for x, y in src.batches(epoch, self.skip):
                if not world.distributed and self._should_stop():
                    stopped = True
                    break
                self.phase = ("train", epoch, self.global_step + 1)
                loss, logits = self._train_step(x, y)
                with torch.no_grad():   # the loss per image, or per pixel of a segmentation mask
                    labels = label_count(self.task, y)
                    win[0] += loss.detach().double() * labels
                    right, counted = metric_counts(self.task, logits.detach(), y)
                    win[1] += right
                win_n += labels
                win_m += counted
                win_images += y.shape[0]
                self.global_step += 1
                step_in_epoch += 1
                steps_done += 1
                if self.global_step % report_every == 0 or step_in_epoch == spe:
                    loss_sum, correct, n, m, images, stop_votes = all_reduce_sum(
                        [*win.tolist(), win_n, win_m, win_images, float(self.control.stopped)], self.device, world)
                    if not math.isfinite(loss_sum):
                        raise NonFiniteLoss(loss_sum, epoch, self.global_step, self.optimizer.param_groups[0]["lr"],
                                            self._damaged_images())
                    now = time.perf_counter()
                    elapsed = now - self.t0
                    eta = elapsed / steps_done * (total - self.global_step)
                    yield StepMetrics(epoch, self.global_step, spe, total, loss_sum / n, correct / max(m, 1),
                                      self.optimizer.param_groups[0]["lr"], images / max(now - win_t, 1e-9), elapsed, eta)
                    ep_loss, ep_correct, ep_n, ep_m = ep_loss + loss_sum, ep_correct + correct, ep_n + n, ep_m + m
                    win.zero_()
                    win_n, win_m, win_images, win_t = 0, 0, 0, time.perf_counter()
                    if world.distributed and stop_votes > 0:
                        stopped = True
                        break
                if snap_every and self.global_step % snap_every == 0 and world.is_main:
                    yield self._snapshot(epoch, False)
            self.skip = 0
            if stopped:
                saved = self._checkpoint("last", epoch, step_in_epoch)
                if saved:
                    yield saved
                break
            completed = epoch + 1
            yield from self._end_epoch(epoch, ep_loss, ep_correct, ep_n, ep_m)
            if cfg.early_stopping_patience and self.bad_epochs >= cfg.early_stopping_patience:
                early = True
                break
        yield self._finish(stopped, early, completed, steps_done)

    def _should_stop(self) -> bool:
        if self.control.paused:
            while not self.control.wait_while_paused(0.2):
                pass
        return self.control.stopped

    def _train_step(self, x, y):
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        if self.amp:
            with torch.autocast("cuda", dtype=torch.float16):
                logits = self.train_model(x)
                loss = objective_loss(self.task, logits, y, dice_weight=self.config.dice_weight)
            self.scaler.scale(loss).backward()
            if self.config.grad_clip:
                self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(self.trainable, self.config.grad_clip)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            logits = self.train_model(x)
            loss = objective_loss(self.task, logits, y, dice_weight=self.config.dice_weight)
            loss.backward()
            if self.config.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.trainable, self.config.grad_clip)
            opt.step()
        if self.schedule is not None:
            self.schedule.step()
        return loss, logits

    def _damaged_images(self) -> int:
        """Training images holding NaN or infinite pixels: after a non-finite loss, this tells a damaged data
        set from a learning rate that is too high. Counted in chunks so no full-size mask is allocated."""
        images = self.data.train.images
        if getattr(images, "lazy", False):   # decoded from image files: never NaN, and too many to read again
            return 0
        return sum(int((~torch.isfinite(images[i:i + 4096].flatten(1))).any(1).sum())
                   for i in range(0, len(images), 4096))

    def _snapshot(self, epoch: int, end_of_epoch: bool) -> ActivationSnapshot:
        self.phase = ("snapshot", self.global_step)
        acts, filters = capture(self.model, self.probe, self.model.node_order)
        return ActivationSnapshot(epoch, self.global_step, end_of_epoch, self.probe_index, acts, filters,
                                  self.probe[0].float().cpu().numpy())

    def _end_epoch(self, epoch, loss_sum, correct, n, m):
        self.phase = ("validate", epoch)
        val_loss, val_acc = self._validate()
        lr = self.optimizer.param_groups[0]["lr"]
        yield EpochMetrics(epoch, self.config.epochs, loss_sum / max(n, 1), correct / max(m, 1), val_loss, val_acc,
                           lr, time.perf_counter() - self.t0)
        if self.world.is_main:
            yield self._snapshot(epoch, True)
        score = val_loss if math.isfinite(val_loss) else loss_sum / max(n, 1)
        if score < self.best_val:
            self.best_val, self.bad_epochs = score, 0
            saved = self._checkpoint("best", epoch + 1)
            if saved:
                yield saved
        else:
            self.bad_epochs += 1
        saved = self._checkpoint("last", epoch + 1)
        if saved:
            yield saved

    @torch.no_grad()
    def _validate(self):
        """Validation loss and the task's metric; each rank evaluates its share and the sums are combined."""
        val = self.data.val
        if len(val) == 0:
            return math.nan, math.nan
        idx = torch.arange(self.world.rank, len(val), self.world.size)
        self.model.eval()
        loss_sum = correct = count = counted = 0.0
        dice = self.config.dice_weight if self.task == "segmentation" else 0.0
        inter = total = 0.0
        try:
            for x, y in evaluation_batches(val, idx, EVAL_BATCH, self.device, "validation"):
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                    logits = self.model(x)
                loss_sum += float(objective_loss(self.task, logits.float(), y, reduction="sum"))
                right, m = metric_counts(self.task, logits, y)
                correct, counted = correct + float(right), counted + m
                count += label_count(self.task, y)   # images, or pixels of segmentation masks
                if dice:   # the same objective as training: Dice over the whole split, from summed counts
                    i, t = dice_counts(logits, y)
                    inter, total = inter + i.double().cpu(), total + t.double().cpu()
        finally:
            self.model.train()
        sums = all_reduce_sum([loss_sum, correct, count, counted, *(inter.tolist() if dice else []),
                               *(total.tolist() if dice else [])], self.device, self.world)
        loss_sum, correct, n, m = sums[:4]
        loss = loss_sum / n
        if dice:
            k = len(inter)
            loss += dice * float(dice_loss(torch.tensor(sums[4:4 + k]), torch.tensor(sums[4 + k:])))
        return loss, correct / max(m, 1)

    def _finish(self, stopped, early, completed, steps_done) -> Finished:
        test = None
        self.phase = ("test",)
        # An aborted run (the app is closing) skips the test set: nobody would see the result.
        if (steps_done or completed) and len(self.data.test) and not self.control.aborted:
            test = evaluate(self.model, self.data.test, self.data.class_names, self.device, EVAL_BATCH, self.amp)
        weights = {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}
        return Finished(stopped or early, completed, test, weights, self.best_val, early, time.perf_counter() - self.t0)
