"""`cnn-designer import-model`: turn a PyTorch model into a design (and its weights)."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import CommandError
from engine.graph_io import save_graph


def add_command(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser(
        "import-model", help="import a torchvision architecture, an nn.Module class or an ONNX file as a design",
        description="Trace a PyTorch model with torch.fx, or read an ONNX file, and save it as a design (.json) or "
                    "project bundle (.cnnd, with weights). Importing from a Python file runs its code: pass "
                    "--trust-code.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--torchvision", metavar="NAME", help="a torchvision architecture (see --list)")
    src.add_argument("--file", metavar="MODEL.py", help="a Python file defining the model class")
    src.add_argument("--onnx", metavar="MODEL.onnx", help="an ONNX model file (weights included; checked against "
                                                          "onnxruntime)")
    src.add_argument("--list", action="store_true", help="list the importable torchvision architectures")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="the nn.Module class in --file")
    p.add_argument("--kwargs", metavar="JSON", help='constructor arguments for --class, e.g. \'{"num_classes": 10}\'')
    p.add_argument("--trust-code", action="store_true", help="confirm that running --file's code is safe")
    p.add_argument("--input", metavar="CxHxW", help="input shape, e.g. 3x224x224 (torchvision: a small default; "
                                                    "ONNX: the file's, when it fixes one)")
    p.add_argument("--classes", type=int, default=1000, help="number of classes (torchvision; default 1000)")
    p.add_argument("--weights", metavar="FILE", help="weights for the model (.safetensors, .pt or .pth state_dict)")
    p.add_argument("--keep-partial", action="store_true",
                   help="keep what maps when some operations do not, with a placeholder for each of those")
    p.add_argument("--list-unsupported", action="store_true",
                   help="list every operation that does not map, one per line (default: grouped, at most 25 groups)")
    p.add_argument("-o", "--output", metavar="OUT", help="design .json or bundle .cnnd to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.interchange.fx_import import ImportFailedError, unmapped_summary
    from engine.interchange.importing import import_python_class, import_torchvision
    from engine.interchange.onnx_import import import_onnx
    from engine.interchange.sources import TORCHVISION_MODELS, SourceError, parse_kwargs, parse_shape
    from engine.interchange.weights import WeightsError

    if args.list:
        for m in TORCHVISION_MODELS:
            print(f"{m.key:20s} {m.title}  (default input {'x'.join(map(str, m.input_shape))})")
        return 0
    if not args.output:
        raise CommandError("say where to write the design: -o design.json (or project.cnnd to keep weights)")
    out = Path(args.output)
    if out.suffix not in (".json", ".cnnd"):
        raise CommandError(f"the output must be a design .json or a bundle .cnnd, not {out.name}")
    try:
        shape = parse_shape(args.input) if args.input else None
        if args.torchvision:
            imported = import_torchvision(args.torchvision, shape, args.classes, args.weights, args.keep_partial)
        elif args.onnx:
            if args.weights:
                raise CommandError("an ONNX file holds its own weights; leave out --weights")
            imported = import_onnx(args.onnx, shape, args.keep_partial)
        else:
            if not args.class_name:
                raise CommandError("--file needs --class NAME: the nn.Module class to import")
            if not args.trust_code:
                raise CommandError(f"importing {args.file} runs the code in it. If you trust that file, "
                                   f"run again with --trust-code.")
            if shape is None:
                raise CommandError("--file needs --input CxHxW, the shape of one input image (e.g. 3x32x32)")
            imported = import_python_class(args.file, args.class_name, shape, confirmed=True,
                                           kwargs=parse_kwargs(args.kwargs), weights_path=args.weights,
                                           keep_partial=args.keep_partial)
    except (ImportFailedError, SourceError, WeightsError) as exc:
        unmapped = getattr(exc, "unmapped", None)
        if unmapped and args.list_unsupported:   # every one, on standard output (errors are kept to one line)
            print("\n".join(f"not mapped: {u}" for u in unmapped))
            raise CommandError(f"{len(unmapped)} operation(s) have no layer kind in CNN Designer (listed above). "
                               f"Run again with --keep-partial to keep what maps, with placeholders.") from None
        hint = "\nRun again with --keep-partial to keep what maps, with placeholders." if unmapped else ""
        raise CommandError(f"{exc}{hint}") from None
    result = imported.result
    if result.unmapped:
        print("kept as placeholders (errors in the design until you replace them):")
        print("\n".join(f"  - {u}" for u in result.unmapped) if args.list_unsupported
              else unmapped_summary(result.unmapped))
    for w in result.warnings:
        print(f"note: {w}")
    print(f"check: {result.verification}")
    _write(imported, out)
    print(f"{result.counts_text()} -> {out}")
    return 0


def _write(imported, out: Path):
    from engine.interchange.bundle import Bundle, BundleError, save_bundle
    from engine.interchange.weights import save_weights

    try:
        if out.suffix == ".cnnd":
            save_bundle(Bundle(imported.graph, weights=imported.weights), out)
            return
        save_graph(imported.graph, out)
        if imported.weights is not None:
            weights = out.with_suffix(".safetensors")
            save_weights(imported.weights, weights)
            print(f"weights (keys renamed to the design's layers) -> {weights}")
    except (OSError, BundleError) as exc:
        raise CommandError(f"cannot write {out}: {exc}") from None
