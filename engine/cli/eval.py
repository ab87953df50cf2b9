"""`cnn-designer eval RUN_DIR` or `cnn-designer eval DESIGN.json --weights FILE --data NAME`: evaluate
saved weights on a data set's test split (accuracy, per-class accuracy, confusion matrix)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.atomic_write import write_text_atomic
from engine.cli import CommandError


def add_command(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.memory_limit import add_option as add_memory_option
    from engine.training.cli_options import add_data_options

    p = subs.add_parser("eval", help="evaluate saved weights on a data set's test split",
                        description="Evaluate trained weights: test loss, accuracy, per-class accuracy and the "
                                    "confusion matrix. Give a run folder written by `train` (its design, weights, "
                                    "data set and seed are used unless overridden), or a design with --weights.")
    p.add_argument("target", help="a run folder, or a design file (.json) together with --weights")
    p.add_argument("--weights", metavar="FILE", help="weights: .safetensors, or a .pt state_dict/checkpoint "
                                                     "(read with torch.load(weights_only=True))")
    add_data_options(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--out", metavar="RESULTS.json", help="also write the results as JSON")
    add_memory_option(p)
    p.set_defaults(run=run, data=None)


def run(args: argparse.Namespace) -> int:
    from engine.compiler import GraphInvalidError, compile_graph
    from engine.training.cli_options import load_data, load_design
    from engine.training.config import TrainConfig
    from engine.training.devices import resolve_device
    from engine.training.evaluate import evaluate
    from engine.training.run_record import RunRecord, RunRecordError, load_weights_file

    target = Path(args.target)
    config = TrainConfig()
    try:
        if target.is_dir():
            record = RunRecord.load(target, load_weights=False)
            graph, config = record.graph, record.config
            args.data = args.data or record.dataset_key
            args.data_root = args.data_root or record.data_root or None   # where the run's data was read
            weights_path = Path(args.weights) if args.weights else target / "weights.safetensors"
        else:
            graph = load_design(target)
            if not args.weights:
                raise CommandError("give --weights FILE with a design file (or pass a run folder instead)")
            weights_path = Path(args.weights)
        weights = load_weights_file(weights_path)
    except RunRecordError as exc:
        raise CommandError(str(exc)) from None
    args.data = args.data or "generated_digits"
    args.design = str(target)
    seed = config.seed if args.seed is None else args.seed
    config = TrainConfig.from_dict({**config.to_dict(), "seed": seed,
                                    "data_size": args.size if args.size is not None else config.data_size})
    try:
        model = compile_graph(graph)
        model.load_state_dict(weights)
        device = resolve_device(args.device)
    except GraphInvalidError as exc:
        raise CommandError(str(exc)) from None
    except RuntimeError:
        raise CommandError(f"the weights in {weights_path} do not fit this design: "
                           f"{_mismatch(model.state_dict(), weights)}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = load_data(args, graph, config, lambda m: print(m, file=sys.stderr))
    result = evaluate(model.to(device), data.test, data.class_names, device, batch_size=args.batch_size)
    _print(result, data)
    if args.out:
        write_text_atomic(Path(args.out), json.dumps(result.summary(), indent=1) + "\n")
        print(f"results written to {args.out}")
    return 0


def _mismatch(expected: dict, got: dict) -> str:
    from engine.training.checkpoint import state_dict_mismatch
    return state_dict_mismatch(expected, got) + ". Use the design the weights were trained with."


def _print(result, data) -> None:
    from engine.training.task_report import result_lines

    print(f"{data.info.title}, test split: {result.count} images")
    names = [str(n)[:8] for n in result.class_names]
    width = max(6, *(len(n) for n in names)) + 1
    if result.task != "classification":
        print("\n".join(result_lines(result)))
        what = "pixels" if result.task == "segmentation" else "objects (the last row and column: nothing there, or missed)" \
            if result.task == "detection" else "images by class, boxes aside"
        print(f"\nconfusion matrix of {what} (rows = true class, columns = predicted):")
    else:
        print(f"accuracy {result.accuracy:.2%}   loss {result.loss:.4f}   misclassified {len(result.misclassified)}")
        print("\nper-class accuracy:")
        for name, acc in zip(names, result.per_class_accuracy):
            print(f"  {name:<{width}} {'-' if acc != acc else f'{acc:.1%}'}")
        print("\nconfusion matrix (rows = true class, columns = predicted):")
    print(" " * width + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, result.confusion):
        print(f"{name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
