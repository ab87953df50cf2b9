"""Training speed: the engine against hand-written PyTorch and against PyTorch Lightning.

    python bench/train.py [--size 6000] [--epochs 2] [--reps 3] [--device auto] [--threads N]

Same model (LeNet-5), same data (generated digits), same batch size and number of steps; runs are
interleaved in one process and the median wall time of each contender is compared. Prints a table and one
JSON line. Ratios > 1 mean the engine is faster. Lightning is optional (pip install lightning): without
it that row is skipped with a note.

Rows:
  module   compiled fx GraphModule vs hand-written nn.Sequential, same idiomatic loop (model overhead only)
  engine   engine fit() (incl. validation, snapshots, test) vs hand-written nn.Sequential + idiomatic loop
           over device tensors doing the same work (train, validate each epoch, test)
  lightning engine fit() vs Lightning Trainer + standard DataLoader(TensorDataset, shuffle=True), per epoch:
           timed from the start of the first epoch to the end of the last one, validation included, set-up
           (compiling / building the Trainer) and the final test excluded, for both

The engine trains convolutions in channels-last memory layout on CPU and CUDA (see engine/training/loop.py);
the hand-written loop and the Lightning module use PyTorch's default layout, as idiomatic code does.
On a machine shared with other work, pass --threads 1: two OpenMP threads spin-wait when one of them is
descheduled, which inflates every contender's time by a large, random factor.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compiler import compile_graph  # noqa: E402
from engine.data import load_dataset  # noqa: E402
from engine.templates import load_template  # noqa: E402
from engine.training import ActivationSnapshot, Finished, Started, TrainConfig, fit  # noqa: E402
from engine.training.devices import device_name, resolve_device  # noqa: E402


def lenet_sequential() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def handwritten(model, data, device, epochs, batch, seed):
    """The idiomatic loop: tensors on the device, shuffled index batches, Adam, .item() for the running loss,
    validation each epoch and a test pass at the end (the same work fit() does)."""
    torch.manual_seed(seed)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_tr, y_tr = data.train.images.to(device), data.train.labels.to(device)
    n = len(y_tr)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, device=device)
        running = 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            x, y = x_tr[idx], y_tr[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            running += loss.item()
        for split in (data.val,) + ((data.test,) if epoch == epochs - 1 else ()):
            model.eval()
            with torch.no_grad():
                correct = 0
                for i in range(0, len(split), 512):
                    out = model(split.images[i:i + 512].to(device))
                    correct += int((out.argmax(1) == split.labels[i:i + 512].to(device)).sum())
    sync(device)


def engine(data, device, epochs, batch, seed):
    """Whole fit() call; returns the seconds spent in the epochs (Started .. last end-of-epoch snapshot)."""
    cfg = TrainConfig(epochs=epochs, batch_size=batch, seed=seed, device=str(device), val_fraction=data.val_fraction)
    last = start = end = None
    for last in fit(load_template("lenet5"), data, cfg):
        if isinstance(last, Started):  # set-up done: the first step comes next
            start = time.perf_counter()
        elif isinstance(last, ActivationSnapshot) and last.end_of_epoch and last.epoch == epochs - 1:
            sync(device)
            end = time.perf_counter()
    assert isinstance(last, Finished), last
    sync(device)
    return end - start


def lightning_run(data, device, epochs, batch, seed):
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = lenet_sequential()

        def training_step(self, b, _):
            x, y = b
            loss = F.cross_entropy(self.net(x), y)
            self.log("loss", loss, prog_bar=False)
            return loss

        def validation_step(self, b, _):
            x, y = b
            self.log("val_loss", F.cross_entropy(self.net(x), y))

        def test_step(self, b, _):
            x, y = b
            self.log("test_loss", F.cross_entropy(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    class EpochClock(L.Callback):
        """Start of the first training epoch to the end of the last (Lightning validates before this hook)."""

        def on_train_epoch_start(self, trainer, _module):
            if trainer.current_epoch == 0:
                self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, _module):
            sync(device)
            self.end = time.perf_counter()

    L.seed_everything(seed, verbose=False)
    train = DataLoader(TensorDataset(data.train.images, data.train.labels), batch_size=batch, shuffle=True)
    val = DataLoader(TensorDataset(data.val.images, data.val.labels), batch_size=512)
    test = DataLoader(TensorDataset(data.test.images, data.test.labels), batch_size=512)
    accel = {"cuda": "gpu", "mps": "mps"}.get(device.type, "cpu")
    trainer = L.Trainer(max_epochs=epochs, accelerator=accel, devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[clock := EpochClock()])
    module = Module()
    trainer.fit(module, train, val)
    trainer.test(module, test, verbose=False)
    sync(device)
    return clock.end - clock.start


def timed(fn, *args):
    """(total seconds, seconds in the epochs or None when fn does not report them)."""
    start = time.perf_counter()
    epochs = fn(*args)
    return time.perf_counter() - start, epochs


def module_only(model, data, device, steps, batch):
    """Pure training-step throughput of one module (forward, backward, Adam) over the same batches."""
    torch.manual_seed(0)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = data.train.images.to(device), data.train.labels.to(device)
    for s in range(steps):
        i = (s * batch) % (len(y_all) - batch)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x_all[i:i + batch]), y_all[i:i + batch]).backward()
        opt.step()
    sync(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import logging
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):  # keep the table readable
        logging.getLogger(name).setLevel(logging.ERROR)
    device = resolve_device(args.device)
    data = load_dataset("generated_digits", size=args.size, seed=0)
    steps = args.epochs * -(-len(data.train) // args.batch)
    graph = load_template("lenet5")
    try:
        import lightning  # noqa: F401
        have_lightning = True
    except ImportError:
        have_lightning = False

    times = {k: [] for k in ("compiled", "sequential", "engine", "handwritten", "lightning")}
    epoch_times = {"engine": [], "lightning": []}
    for rep in range(args.reps + 1):  # the first round warms up and is discarded
        round_ = [("compiled", module_only, compile_graph(graph), data, device, steps, args.batch),
                  ("sequential", module_only, lenet_sequential(), data, device, steps, args.batch),
                  ("engine", engine, data, device, args.epochs, args.batch, 0),
                  ("handwritten", handwritten, lenet_sequential(), data, device, args.epochs, args.batch, 0)]
        if have_lightning:
            round_.append(("lightning", lightning_run, data, device, args.epochs, args.batch, 0))
        if rep % 2:
            round_.reverse()  # interleave the order so drift in machine load hits everyone alike
        for name, fn, *fargs in round_:
            t, in_epochs = timed(fn, *fargs)
            if rep:
                times[name].append(t)
                if name in epoch_times:
                    epoch_times[name].append(in_epochs)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    per_epoch = {k: statistics.median(v) / args.epochs for k, v in epoch_times.items() if v}
    rows = [("module", "compiled GraphModule vs nn.Sequential (same loop)", med["sequential"] / med["compiled"], 0.98),
            ("engine", "engine fit() vs hand-written loop (same work)", med["handwritten"] / med["engine"], 0.98)]
    if have_lightning:
        rows.append(("lightning", "engine fit() vs Lightning Trainer + DataLoader, per epoch",
                     per_epoch["lightning"] / per_epoch["engine"], 1.25))
    print(f"device: {device_name(device)} ({device}); LeNet-5 on {len(data.train)} generated digits, batch "
          f"{args.batch}, {args.epochs} epochs = {steps} steps; median of {args.reps} interleaved runs; "
          f"{torch.get_num_threads()} torch thread(s)")
    print(f"{'row':<10} {'comparison':<58} {'ratio':>7} {'target':>7}  ok")
    for key, text, ratio, target in rows:
        print(f"{key:<10} {text:<58} {ratio:7.3f} {target:7.2f}  {'yes' if ratio >= target else 'NO'}")
    if not have_lightning:
        print("lightning  skipped: PyTorch Lightning is not installed (pip install lightning)")
    print("seconds (whole run):", ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
    print("seconds per epoch (validation included, set-up and test excluded):",
          ", ".join(f"{k} {v:.3f}" for k, v in per_epoch.items()))
    print(json.dumps({"bench": "train", "device": str(device), "device_name": device_name(device),
                      "train_images": len(data.train), "steps": steps, "reps": args.reps,
                      "threads": torch.get_num_threads(), "seconds": {k: round(v, 4) for k, v in med.items()},
                      "seconds_per_epoch": {k: round(v, 4) for k, v in per_epoch.items()},
                      "ratios": {k: round(r, 4) for k, _, r, _ in rows},
                      "lightning": "measured" if have_lightning else "not installed"}))


if __name__ == "__main__":
    main()
