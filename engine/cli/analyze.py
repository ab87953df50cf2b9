"""`cnn-designer analyze DESIGN`: print a layer summary (shapes, parameters, MACs) or the errors.

DESIGN is a design file or a built-in template's name (`cnn-designer analyze lenet5`)."""
from __future__ import annotations

import argparse

from engine.analysis import analyze
from engine.cli import CommandError
from engine.graph_io import GraphFileError
from engine.summary import summary_table
from engine.templates import TEMPLATE_HELP, load_design_or_template


def add_command(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.memory_limit import add_option as add_memory_option

    p = subs.add_parser("analyze", help="print shapes, parameters, MACs and errors of a design",
                        description="Print a layer-by-layer summary of a design, or its errors.")
    p.add_argument("design", help="design file (.json), or a built-in template's name: " + TEMPLATE_HELP)
    add_memory_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_design_or_template(args.design)
    except GraphFileError as exc:
        raise CommandError(str(exc)) from None
    analysis = analyze(graph)
    print(summary_table(graph, analysis))
    for issue in analysis.issues:
        print(f"{issue.severity}: {issue}")
    return 0 if analysis.ok else 1
