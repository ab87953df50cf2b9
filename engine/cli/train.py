"""`cnn-designer train DESIGN.json --data NAME ...`: train a design headless, with a live progress bar.

Under `torchrun --nproc_per_node=N` the same command trains with DistributedDataParallel; only rank 0
prints and writes files. Also runnable as `python -m engine.cli.train ...` (what torchrun -m needs).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from engine.atomic_write import write_text_atomic
from engine.cli import CommandError
from engine.templates import TEMPLATE_HELP
from engine.training.cli_options import (add_data_options, add_train_options, config_from_args, load_data,
                                         load_design)

RUN_ROOT = Path("runs")


def add_command(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.memory_limit import add_option as add_memory_option

    p = subs.add_parser(
        "train", help="train a design on a data set (CPU, GPU or torchrun cluster job)",
        description="Train a design headless. Prints a live progress bar; writes metrics (CSV and JSON), the "
                    "final weights (weights.safetensors), the confusion matrix and checkpoints to the run folder. "
                    "Ctrl-C stops cleanly after the current step, keeps a checkpoint that --resume continues from "
                    "and exits with code 130; a second Ctrl-C aborts at once. Under `torchrun --nproc_per_node=N` "
                    "it trains with DistributedDataParallel (there the ranks agree to stop at the next progress "
                    "report, at most 50 steps later).")
    p.add_argument("design", help="design file (.json), or a built-in template's name: " + TEMPLATE_HELP)
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--out", metavar="RUN_DIR", help="run folder to write (default: runs/DESIGN-DATE-TIME)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint file or a run folder (with --out "
                                                          "that same folder, its metrics continue too)")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    add_memory_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.training.devices import init_from_torchrun

    graph = load_design(args.design)
    config = config_from_args(args)
    if args.resume and not Path(args.resume).exists():
        raise CommandError(f"there is no checkpoint or run folder {args.resume} to resume from; give a run folder "
                           f"written by train, or its checkpoints/last.pt")
    world = init_from_torchrun(config.device)
    try:
        return _train(args, graph, config, world)
    finally:
        if world.distributed:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(args, graph, config, world) -> int:
    from engine.training import EpochMetrics, Failed, Finished, Started, TrainControl, fit
    from engine.training.progress import ProgressBar
    from engine.training.run_record import RunRecord

    main = world.is_main
    bar = ProgressBar(quiet=args.quiet or not main)
    data = load_data(args, graph, config, bar.message if main else None)
    out = Path(args.out) if args.out else RUN_ROOT / f"{Path(args.design).stem}-{datetime.now():%Y%m%d-%H%M%S}"
    if main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create the run folder {out}: {exc.strerror}") from None
    record = (_continued_record(out, args.resume, graph, config) if main else None) or RunRecord(
        graph=graph, config=config, dataset_key=data.key, seed=config.seed,
        name=f"{graph.name or Path(args.design).stem} on {data.info.title}",
        data_root=str(Path(args.data_root).resolve()) if args.data_root else "")
    control = TrainControl()
    previous = signal.signal(signal.SIGINT, _stop_on_first_interrupt(control, bar))
    result = 1
    try:
        for event in fit(graph, data, config, control, run_dir=out if main else None, resume=args.resume):
            bar.show(event)
            _forget_rewound(record, event)
            record.add_event(event)
            if isinstance(event, Started):
                record.status = "running"
            if main and isinstance(event, (Started, EpochMetrics)):
                # The metrics so far, written before fit() goes on to save this epoch's checkpoint: a crash in
                # between leaves the record one epoch ahead, and a resume from the older checkpoint replaces
                # that epoch's rows (_forget_rewound). Written after the checkpoint, it lost an epoch.
                record.save(out)
            if isinstance(event, Finished):
                record.test = event.test.summary() if event.test is not None else None
                record.weights = event.weights
                record.status = "stopped" if event.stopped and not event.early_stopped else "finished"
                # Only Ctrl-C stops a command-line run; say so to scripts with the usual 130 (128 + SIGINT).
                result = 130 if event.stopped and not event.early_stopped else 0
                if main:
                    _report(event, out, bar)
            elif isinstance(event, Failed):
                record.status, record.note = "failed", event.reason
                result = 2 if event.setup else 1   # 2: these inputs cannot train (as every other bad input)
                if main:
                    print(f"cnn-designer train: {_reason_with_log(event, out)}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        if main:
            record.save(out)
    return result


def _continued_record(out: Path, resume, graph, config):
    """Resuming a run in its own folder (`--resume RUN_DIR --out RUN_DIR`) continues its record, so the folder
    keeps the metrics of the whole run, from before and after the interruption. None otherwise."""
    from engine.training.run_record import RunRecord, RunRecordError

    if not resume or not (out / "run.json").is_file():
        return None
    folder = Path(resume) if Path(resume).is_dir() else Path(resume).parent.parent  # RUN_DIR/checkpoints/x.pt
    try:
        if folder.resolve() != out.resolve():
            return None
        record = RunRecord.load(out, load_weights=False)
    except (OSError, RunRecordError):
        return None
    record.graph, record.config = graph, config
    return record


def _reason_with_log(event, out: Path) -> str:
    """The command line keeps no log of its own: the details a reason refers to go to RUN_DIR/error.log."""
    if "the details are in the log" not in event.reason:
        return event.reason
    log = out / "error.log"
    try:
        write_text_atomic(log, event.detail or event.reason)
    except OSError:
        return event.reason.replace("; the details are in the log", "")
    return event.reason.replace("the details are in the log", f"the details are in {log}")


def _forget_rewound(record, event) -> None:
    """A resumed run repeats what came after its checkpoint: drop those rows before the new ones go in."""
    from engine.training import EpochMetrics, StepMetrics

    table, key = ((record.epoch_metrics, "epoch") if isinstance(event, EpochMetrics)
                  else (record.step_metrics, "step") if isinstance(event, StepMetrics) else (None, None))
    if table is None:
        return
    while table[key] and table[key][-1] >= getattr(event, key):
        for column in table.values():
            column.pop()


def _stop_on_first_interrupt(control, bar):
    def handler(signum, frame):
        if control.stopped:
            raise KeyboardInterrupt
        bar.message("\nstopping after this step (Ctrl-C again to abort without saving)")
        control.stop()
    return handler


def _report(event, out: Path, bar) -> None:
    from engine.training.task_report import result_lines

    how = ("stopped early (validation loss stopped improving)" if event.early_stopped
           else "stopped" if event.stopped else "finished")
    lines = [f"{how} after {event.epochs_completed} epoch(s) in {event.elapsed:.1f} s"]
    if event.test is not None:
        lines.extend(result_lines(event.test))
    lines.append(f"run folder: {out}  (weights.safetensors, metrics_*.csv, metrics.json, results.json, "
                 f"confusion.csv, checkpoints/)")
    print("\n".join(lines))
    sys.stdout.flush()
    write_text_atomic(out / "summary.json", json.dumps({"status": how, "epochs_completed": event.epochs_completed,
                                                        "test_accuracy": event.test.accuracy if event.test else None,
                                                        **({"test_task": event.test.task,
                                                            "test_headline": event.test.headline}
                                                           if event.test else {}),
                                                        "elapsed": event.elapsed}, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m engine.cli.train DESIGN.json ...` (for `torchrun -m engine.cli.train`)."""
    from engine.cli import run_command_line
    return run_command_line(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
