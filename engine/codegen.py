"""Export a layer graph as readable, standalone PyTorch source.

The class defines one attribute per node id, exactly like the compiled module, so a state_dict saved from
`compile_graph(graph)` loads into it unchanged. Node ids are restricted to `name_123` by the file format,
and user labels only ever appear inside comments with every non-printable character removed, so nothing a
user types can become code.
"""
from __future__ import annotations

import builtins
import keyword
import re
import textwrap

from engine.analysis import Analysis, analyze
from engine.compiler import GraphInvalidError, _ancestors_of_output
from engine.graph import NODE_ID_PATTERN, GraphSpec
from engine.registry import get_kind

def safe_comment(text: str, limit: int = 80) -> str:
    """Text that is safe inside a `#` comment: printable characters only, one line, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return re.sub(r"\s+", " ", cleaned).strip()[:limit]


# Names the generated module already uses: a class called `torch`, `Exception` or `__builtins__` would
# shadow them (Python folds ｔｏｒｃｈ to torch too, hence ASCII only).
RESERVED_NAMES = frozenset(dir(builtins)) | {"torch", "nn"}


def class_name_problem(name: str, reserved: frozenset[str] | set[str] = frozenset()) -> str:
    """Why `name` cannot be the exported network's class name ("" when it can): not a plain ASCII identifier,
    a keyword, a __dunder__ name, or a name Python or the exported code (plus `reserved`) already uses."""
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier():
        return "a class name uses only letters, digits and underscores (ASCII), not starting with a digit"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name} is a Python keyword"
    if name.startswith("__") and name.endswith("__"):
        return f"names like {name} are reserved by Python"
    if name in RESERVED_NAMES or name in reserved:
        return f"{name} is already used by Python or by the exported code"
    if len(name) > 100:
        return "a class name has at most 100 characters"
    return ""


def class_name_for(graph: GraphSpec, fallback: str = "Network",
                   reserved: frozenset[str] | set[str] = frozenset()) -> str:
    words = re.findall(r"[A-Za-z0-9]+", graph.name or "")
    name = "".join(w[:1].upper() + w[1:] for w in words)[:60]
    if not name or not name[0].isalpha():
        return fallback
    return name if not class_name_problem(name, reserved) else name + "Net"   # "Exception" -> "ExceptionNet"


def export_python(graph: GraphSpec, class_name: str | None = None, analysis: Analysis | None = None) -> str:
    """Standalone source (imports torch only) defining the network as an nn.Module subclass."""
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise GraphInvalidError(analysis)
    cls = class_name if class_name and not class_name_problem(class_name) else class_name_for(graph)
    nodes = graph.node_map()
    needed = _ancestors_of_output(graph)
    order = [nid for nid in analysis.order if nid in needed]
    for nid in order:  # defence in depth: ids were validated when the graph was loaded or created
        if not NODE_ID_PATTERN.match(nid):
            raise ValueError(f"node id {nid!r} is not a safe identifier")
    consumers = {nid: 0 for nid in order}
    for e in graph.edges:
        if e.source in consumers and e.target in consumers:
            consumers[e.source] += 1
    init_lines, fwd_lines = [], []
    names: dict = {}
    input_shape = None
    result = "x"
    for nid in order:
        spec, info = nodes[nid], analysis.nodes[nid]
        kind = get_kind(spec.kind)
        args = [names[e.source] for e in graph.in_edges(nid)]
        comment = safe_comment(spec.label)
        if spec.kind == "Input":
            names[nid] = "x"
            input_shape = info.shape
            continue
        if spec.kind == "Output":
            result = args[0]
            continue
        if kind.emit_forward:  # a plain expression such as `a + b`: no submodule, no weights
            call = kind.emit_forward(args)
            if comment:
                fwd_lines.append(f"        # {comment}")
        else:
            ctor = kind.emit(spec.params, list(info.in_shapes)).replace("\n", "\n        ")
            if comment:
                init_lines.append(f"        # {comment}")
            init_lines.append(f"        self.{nid} = {ctor}  # -> {_shape_text(info.shape)}")
            call = f"self.{nid}({args[0]})"
        # Straight runs reuse `x`, as hand-written PyTorch does; branch points keep their node id.
        sources = [e.source for e in graph.in_edges(nid)]
        reuse = len(args) == 1 and args[0] == "x" and consumers[sources[0]] == 1
        names[nid] = "x" if reuse else nid
        fwd_lines.append(f"        {names[nid]} = {call}")
    output_id = next(n for n in order if nodes[n].kind == "Output")
    classes = analysis.nodes[output_id].shape[0]
    header = _header(graph, analysis, input_shape, classes)
    body = [f"class {cls}(nn.Module):",
            f'    """{_docstring(graph)}"""',
            "",
            "    def __init__(self):",
            "        super().__init__()",
            *(init_lines or ["        pass"]),
            "",
            "    def forward(self, x):",
            *fwd_lines,
            f"        return {result}",
            ""]
    demo = textwrap.dedent(f'''
        if __name__ == "__main__":
            model = {cls}()
            x = torch.randn(2, {", ".join(map(str, input_shape))})
            print(model(x).shape)  # torch.Size([2, {classes}])
        ''')
    parts = [header, "import torch", "from torch import nn", "", ""]
    for support in _support_classes(graph, order):
        parts += [support, "", ""]
    parts += ["\n".join(body), "", demo.lstrip("\n")]
    return "\n".join(parts)


def _support_classes(graph: GraphSpec, order: list) -> list:
    """The source of each helper module class the layers use (engine.modules), once, in first-use order."""
    import inspect

    nodes = graph.node_map()
    classes = dict.fromkeys(c for nid in order for c in get_kind(nodes[nid].kind).emit_classes)
    return [inspect.getsource(c).rstrip() for c in classes]


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
