"""Export a layer graph as readable, standalone PyTorch source.

Layers sit at their module paths (engine.module_paths), so the exported class's state_dict keys are the
compiled module's: weights the app saves load into it unchanged, and an imported model's original weights
load into it with strict=True. Groups of layers become nn.Sequential, block classes written once and used
many times, or holders (engine.codegen_blocks, engine.codegen_slots).

Node ids are restricted to `name_123` and module paths to Python names and numbers by the file format; user
labels only ever appear inside comments with every non-printable character removed, so nothing a user types
can become code.
"""
from __future__ import annotations

import inspect
import textwrap

from engine import modules
from engine.analysis import Analysis, analyze
from engine.codegen_blocks import INDENT, TreeWriter, build_tree
from engine.codegen_names import class_name_for, class_name_problem, safe_comment  # noqa: F401  (re-exported)
from engine.codegen_calls import tidy
from engine.codegen_slots import assignment, group_classes, resolve
from engine.compiler import GraphInvalidError, _ancestors_of_output
from engine.graph import NODE_ID_PATTERN, GraphSpec
from engine.module_paths import path_problem
from engine.registry import get_kind


def export_python(graph: GraphSpec, class_name: str | None = None, analysis: Analysis | None = None) -> str:
    """Standalone source (imports torch only) defining the network as an nn.Module subclass."""
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise GraphInvalidError(analysis)
    cls = class_name if class_name and not class_name_problem(class_name) else class_name_for(graph)
    nodes = graph.node_map()
    needed = _ancestors_of_output(graph)
    order = [nid for nid in analysis.order if nid in needed]
    for nid in order:  # defence in depth: ids and names were validated when the graph was loaded or created
        if not NODE_ID_PATTERN.match(nid) or nodes[nid].name and path_problem(nodes[nid].name):
            raise ValueError(f"layer {nid!r} has a name that is not a safe identifier")
    input_id = next(n for n in order if nodes[n].kind == "Input")
    writer = TreeWriter(graph, analysis, order)
    root = build_tree(graph, order)
    writer.classify(root)
    network = writer.network(root, input_id)
    helpers = {c.__name__ for c in _helper_classes(graph, order, writer)}
    block_sources, calls = group_classes(writer.templates, {cls} | helpers | {"OrderedDict"})
    init_lines = []
    for (attr, ctor), comment in zip(network.init, network.comments):
        label = _label(root.members.get(attr), nodes)
        if label:
            init_lines.append(f"{INDENT * 2}# {label}")
        assigned = assignment(attr, tidy(resolve(ctor, calls)))
        init_lines.append(f"{INDENT * 2}{assigned}" + (f"  # {comment}" if comment and "\n" not in assigned else ""))
    input_shape = analysis.nodes[input_id].shape
    output_id = next(n for n in order if nodes[n].kind == "Output")
    classes = analysis.nodes[output_id].shape[0]
    task = nodes[output_id].params.get("task", "classification")
    body = [f"class {cls}(nn.Module):",
            f'    """{_docstring(graph)}"""',
            "",
            # what the output means, beyond class scores; CNN Designer reads it back when it imports the file
            *([f"    task = {task!r}  # {TASK_NOTES[task]}", ""] if task in TASK_NOTES else []),
            "    def __init__(self):",
            "        super().__init__()",
            *(init_lines or ["        pass"]),
            "",
            "    def forward(self, x):",
            *(f"{INDENT * 2}{line}" for line in network.forward),
            ""]
    demo = textwrap.dedent(f'''
        if __name__ == "__main__":
            model = {cls}()
            x = torch.randn(2, {", ".join(map(str, input_shape))})
            print(model(x).shape)  # torch.Size([2, {classes}])
        ''')
    imports = ["import torch", "from torch import nn"]
    if writer.uses_ordered_dict:
        imports.insert(0, "from collections import OrderedDict")
    parts = [_header(graph, analysis, input_shape, classes), *imports, "", ""]
    for support in _helper_classes(graph, order, writer):
        parts += [inspect.getsource(support).rstrip(), "", ""]
    for source in block_sources:
        parts += [source, "", ""]
    parts += ["\n".join(body), "", demo.lstrip("\n")]
    return "\n".join(parts)


def _label(member: object, nodes: dict) -> str:
    """A layer's label as a comment, where it says more than its name."""
    if not isinstance(member, list):
        return ""
    spec = nodes[member[0]]
    return safe_comment(spec.label) if spec.label and spec.label not in (spec.name, spec.id) else ""


def _helper_classes(graph: GraphSpec, order: list, writer: TreeWriter) -> list:
    """The helper module classes the layers use (engine.modules), once, in first-use order."""
    nodes = graph.node_map()
    classes = dict.fromkeys(c for nid in order for c in get_kind(nodes[nid].kind).emit_classes)
    if writer.uses_holder:
        classes[modules.ModuleHolder] = None
    return list(classes)


TASK_NOTES = {"localization": "outputs class scores, then the box's centre x, y, width, height (before a sigmoid)",
              "detection": "outputs a heat map per class, then box width, height, centre offset x, y (before a "
                           "sigmoid)",
              "segmentation": "outputs a score map per class at the input's size"}


def _shape_text(shape) -> str:
    return "×".join(str(s) for s in shape)


def _docstring(graph: GraphSpec) -> str:
    text = safe_comment(graph.description or graph.name or "A network designed in CNN Designer.", 200)
    return text.replace("\\", "/").replace('"', "'")


def _header(graph, analysis, input_shape, classes) -> str:
    title = safe_comment(graph.name) or "network"
    return (f"# {title}: exported by CNN Designer.\n"
            f"# Input {_shape_text(input_shape)}, {classes} classes, {analysis.total_params:,} parameters, "
            f"{analysis.total_macs:,} multiply-accumulates per image.\n")
