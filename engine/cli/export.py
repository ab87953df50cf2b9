"""`cnn-designer export DESIGN --format py|script|onnx|torchscript|safetensors|state_dict|cnnd -o OUT`."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import CommandError
from engine.templates import TEMPLATE_HELP

FORMATS = {"py": ".py", "script": "_train.py", "onnx": ".onnx", "torchscript": ".ts.pt",
           "safetensors": ".safetensors", "state_dict": ".pt", "cnnd": ".cnnd"}
NEEDS_WEIGHTS = ("safetensors", "state_dict")


def add_command(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.memory_limit import add_option as add_memory_option

    p = subs.add_parser(
        "export", help="export a design as PyTorch code, a training script, ONNX, TorchScript, weights or a bundle",
        description="Export a design (.json) or project bundle (.cnnd). Weights come from --weights, else the "
                    "bundle's weights, else its last run's; without any, ONNX/TorchScript use fresh random ones.")
    p.add_argument("design", help="design file (.json), project bundle (.cnnd) or a built-in template's name: "
                                  + TEMPLATE_HELP)
    p.add_argument("--format", "-f", choices=sorted(FORMATS), default="py")
    p.add_argument("-o", "--output", metavar="OUT", help="file to write (default: next to the design)")
    p.add_argument("--weights", metavar="FILE", help="weights to use (.safetensors or .pt state_dict)")
    p.add_argument("--run", dest="run_choice", metavar="N", help="which run of a bundle supplies config and weights (number or id; "
                                              "default: the last)")
    p.add_argument("--class-name", metavar="NAME", help="py/script: the network's class name (default: from the "
                                                        "design's name)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the newest the installed tools support)")
    p.add_argument("--fixed-size", action="store_true",
                   help="ONNX: keep the design's height and width (default: dynamic where the network accepts "
                        "other sizes, i.e. it ends in global pooling rather than a Flatten sized for one input)")
    p.add_argument("--dataset", metavar="KEY", help="script: the data set (default: the run's)")
    p.add_argument("--data-root", metavar="PATH",
                   help="with --data-out: where the data set's files are (a folder set, or mnist, fashion_mnist, "
                        "cifar10 already downloaded); default $CNN_DESIGNER_DATA or ~/.cache/cnn-designer/datasets")
    p.add_argument("--no-download", action="store_true", help="with --data-out: never use the network")
    p.add_argument("--data-out", metavar="FILE.pt", help="script: also save the data set as a tensor file the "
                                                         "script trains on (--dataset tensors)")
    add_memory_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.compiler import GraphInvalidError, ResourceLimitError
    from engine.interchange.bundle import BundleError, open_project
    from engine.interchange.exporters import ExportError
    from engine.interchange.weights import WeightsError, load_weights

    try:
        project = open_project(args.design)
    except BundleError as exc:
        raise CommandError(str(exc)) from None
    run_record = _pick_run(project.runs, args.run_choice)
    _check_class_name(args.class_name)
    out = Path(args.output) if args.output else _default_output(Path(args.design), args.format)
    try:
        weights = load_weights(args.weights) if args.weights else (
            project.weights if project.weights is not None else (run_record.weights if run_record else None))
        if args.format in NEEDS_WEIGHTS and weights is None:
            raise CommandError("there are no weights to export: train the design, or pass --weights FILE")
        print(_export(project, run_record, weights, out, args))
    except (GraphInvalidError, ResourceLimitError) as exc:
        raise CommandError(str(exc)) from None
    except (ExportError, WeightsError, BundleError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    return 0


def _export(project, run_record, weights, out: Path, args) -> str:
    from engine.interchange import exporters
    from engine.interchange.bundle import Bundle, save_bundle
    from engine.interchange.train_script import write_training_script

    graph = project.graph
    fmt = args.format
    if fmt == "py":
        return exporters.export_source(graph, out, args.class_name).summary()
    if fmt == "script":
        dataset_key = args.dataset or (run_record.dataset_key if run_record else project.dataset.get("key", ""))
        config = run_record.config if run_record else None
        data_path = ""
        if args.data_out:
            data_path = _save_dataset(graph, dataset_key, config, Path(args.data_out), args.data_root,
                                      not args.no_download)
        write_training_script(graph, out, config, dataset_key, data_path, args.class_name)
        return f"wrote {out}: run it with 'python {out.name}' or 'torchrun --nproc_per_node=N {out.name}'"
    if fmt == "onnx":
        _check_opset(args.opset)
        return exporters.export_onnx(graph, out, weights, opset=args.opset,
                                     dynamic_size=False if args.fixed_size else None).summary()
    if fmt == "torchscript":
        return exporters.export_torchscript(graph, out, weights).summary()
    if fmt in NEEDS_WEIGHTS:
        if fmt == "safetensors" and out.suffix != ".safetensors":
            raise CommandError("safetensors output must end in .safetensors")
        if fmt == "state_dict" and out.suffix not in (".pt", ".pth"):
            raise CommandError("state_dict output must end in .pt or .pth")
        return exporters.export_weights(graph, weights, out).summary()
    if fmt == "cnnd":
        bundle = Bundle(graph, list(project.runs), weights, dict(project.dataset), project.seed)
        return f"wrote {save_bundle(bundle, out)} ({len(bundle.runs)} runs)"
    raise CommandError(f"unknown format {fmt}")


def _check_class_name(name) -> None:
    """The class may not shadow what the exported code uses (torch, nn, builtins, the script's own names)."""
    from engine.interchange.train_script import script_class_name_problem

    problem = script_class_name_problem(name) if name is not None else ""
    if problem:
        raise CommandError(f"--class-name {name!r} cannot name a Python class here: {problem}; choose another "
                           f"name (e.g. --class-name MyNet)")


def _check_opset(opset) -> None:
    from engine.interchange.exporters import MIN_OPSET, choose_opset

    if opset is not None and not MIN_OPSET <= opset <= choose_opset():
        raise CommandError(f"--opset {opset} is not available; the installed tools export opsets {MIN_OPSET} to "
                           f"{choose_opset()} (leave out --opset for {choose_opset()})")


def _pick_run(runs, which):
    if not runs:
        if which:
            raise CommandError("--run was given but the design has no runs (only .cnnd bundles hold runs)")
        return None
    if not which:
        return runs[-1]
    if which.isascii() and which.isdigit() and 1 <= int(which) <= len(runs):  # not "²", which isdigit() too
        return runs[int(which) - 1]
    for r in runs:
        if r.id == which or r.name == which:
            return r
    raise CommandError(f"no run {which!r}; the bundle has runs 1..{len(runs)}: "
                       + ", ".join(r.name or r.id for r in runs))


def _default_output(design: Path, fmt: str) -> Path:
    return design.with_name(design.stem + FORMATS[fmt])


def _save_dataset(graph, key, config, path: Path, root=None, download: bool = True) -> str:
    """The app's data set as plain tensors (torch.save of tensors and a list of names: weights_only-safe)."""
    import torch

    from engine.atomic_write import replacing
    from engine.compiler import input_shape
    from engine.data import DatasetError, load_dataset

    try:
        shape = input_shape(graph)
    except (IndexError, KeyError):
        raise CommandError("cannot export the data set: the design has no Input layer, so the image size is "
                           "unknown; add an Input layer (or leave out --data-out)") from None
    try:
        # a tensor file holds every image: the folder is read into memory, within its limits
        data = load_dataset(key or "generated_digits", size=getattr(config, "data_size", None),
                            seed=getattr(config, "seed", 0), input_shape=shape, root=root, download=download,
                            data_mode="memory")
    except DatasetError as exc:
        raise CommandError(f"cannot export the data set: {exc.message}") from None
    images = torch.cat([data.train.images, data.val.images])
    labels = torch.cat([data.train.labels, data.val.labels])
    with replacing(path) as tmp, open(tmp, "wb") as f:  # never over a device or FIFO, never half-written
        torch.save({"images": images, "labels": labels, "test_images": data.test.images,
                    "test_labels": data.test.labels, "class_names": list(data.class_names)}, f)
    return str(path)
