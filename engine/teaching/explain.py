"""Explanations of one layer with its own numbers, for the teaching panel (Qt-free, plain data).

`explain_node()` turns a node of the student's design into an `Explanation`: a title, the layer kind's
teaching paragraph and sections of lines. A `Formula` line carries the symbolic rule, the same rule with
this node's numbers put in, and the result. Every result is the analysis' own value: a formula whose
arithmetic would not reach it is shown as a plain fact instead (see `checked`). Kinds without a dedicated
explainer (engine/teaching/explain_kinds.py) get a generic one built from the registry, so a new layer kind
is explained with no extra code. `explain_network()` is the overview shown when nothing is selected.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from engine.analysis import Analysis, NodeInfo
from engine.graph import GraphSpec, LayerSpec
from engine.registry import LayerKind, get_kind
from engine.summary import human_bytes, human_count, layer_count


# ---- the plain data an explanation is made of --------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """A paragraph. tone: "" (normal), "muted", "error", "warning" or "good"."""

    text: str
    tone: str = ""


@dataclass(frozen=True)
class Fact:
    """A labelled value, e.g. "Parameters: 156". `number` keeps the raw value for tests and tools."""

    label: str
    value: str
    key: str = ""
    number: Any = None


@dataclass(frozen=True)
class Formula:
    """`symbolic` = `substituted` = `result`. `substituted` uses only numbers, + − · / ( ) ⌊ ⌋ ⌈ ⌉, so it can
    be evaluated to check it; it is empty for a rule shown without numbers."""

    label: str
    symbolic: str
    substituted: str
    result: Any
    shown: str = ""     # the result as displayed ("26.2 %"); the plain number when empty
    keys: tuple = ()

    @property
    def result_text(self) -> str:
        return self.shown or number_text(self.result)


@dataclass(frozen=True)
class Grid:
    """A small table of real values (a pooling window). None marks a padding cell; `marked` cells are
    emphasised (row, col)."""

    label: str
    values: tuple
    marked: tuple = ()
    key: str = ""
    where: tuple = ()   # (channel, top row, left column, output row, output column), 0-based


@dataclass(frozen=True)
class Section:
    heading: str
    lines: tuple
    tone: str = ""


@dataclass
class Explanation:
    title: str
    kind: str
    intro: str
    sections: list
    node_id: str = ""
    summary: str = ""           # the kind's one-line help
    fix: Any = None             # engine.fixes.Fix offered for the node's error, if any

    def all_lines(self) -> Iterator[Text | Fact | Formula | Grid]:
        for section in self.sections:
            yield from section.lines

    def line(self, key: str) -> Text | Fact | Formula | Grid:
        """The first Formula, Fact or Grid carrying `key`; KeyError when none does."""
        for line in self.all_lines():
            keys = getattr(line, "keys", None) or (getattr(line, "key", ""),)
            if key in keys:
                return line
        raise KeyError(f"no line {key!r} in the explanation of {self.title}")

    def value(self, key: str) -> Any:
        line = self.line(key)
        return line.result if isinstance(line, Formula) else getattr(line, "number", None)

    def section(self, heading: str) -> Section:
        for section in self.sections:
            if section.heading == heading:
                return section
        raise KeyError(heading)

    def plain_text(self) -> str:
        """The whole explanation as plain text (copying, tests, the command line)."""
        out = [self.title, self.intro]
        for section in self.sections:
            out.append("")
            out.append(section.heading)
            for line in section.lines:
                out.append("  " + line_text(line))
        return "\n".join(out)


@dataclass
class ExplainContext:
    """What the GUI knows beyond the design, all optional: activations of the node for the probe image
    (numpy, batch dimension removed; one input per slot), whether the weights are trained, and the epoch
    metrics of the last run ({"train_accuracy": [...], "val_accuracy": [...], "train_loss": ..., ...})."""

    inputs: tuple = ()
    output: Any = None
    trained: bool = False
    epoch_metrics: Optional[dict] = None
    run_name: str = ""
    run_is_current: bool = True   # the run trained exactly the current design
    probe_note: str = ""          # why there are no activations, when the caller knows

    @property
    def missing_probe_text(self) -> str:
        return self.probe_note or "Load a data set in the Training panel to see this on the probe image."

    @property
    def input(self) -> Any:
        return self.inputs[0] if self.inputs else None

    @property
    def weights_text(self) -> str:
        return "trained weights" if self.trained else "untrained (random) weights"


@dataclass
class Subject:
    """One node with everything an explainer needs (built by explain_node)."""

    graph: GraphSpec
    analysis: Analysis
    spec: LayerSpec
    kind: LayerKind
    info: NodeInfo
    context: ExplainContext = field(default_factory=ExplainContext)

    @property
    def p(self) -> dict:
        return self.spec.params

    @property
    def in_shape(self) -> tuple | None:
        return self.info.in_shapes[0] if self.info.in_shapes else None

    @property
    def sources(self) -> list:
        """(LayerSpec, NodeInfo) feeding each input slot, in slot order."""
        return [(self.graph.node(e.source), self.analysis.nodes.get(e.source, NodeInfo()))
                for e in self.graph.in_edges(self.spec.id)]

    @property
    def image_size(self) -> tuple:
        inputs = self.graph.nodes_of_kind("Input")
        return (inputs[0].params["height"], inputs[0].params["width"]) if inputs else (1, 1)


# ---- formatting ---------------------------------------------------------------------------------------
def number_text(x: object) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.0f}" if x.is_integer() and abs(x) < 1e15 else f"{x:.4g}"
    return str(x)


def value_text(x: float) -> str:
    """An activation value, short: 0.123, −1.5, 12.3."""
    return f"{x:.3f}".replace("-", "−") if abs(x) < 100 else f"{x:.1f}".replace("-", "−")


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def shape_text(shape: Sequence[int] | None, long: bool = False) -> str:
    """"16×5×5" (with "(channels × height × width)" when long) or "400 features"."""
    if shape is None:
        return "unknown"
    if len(shape) == 3:
        return f"{shape[0]}×{shape[1]}×{shape[2]}" + (" (channels × height × width)" if long else "")
    return plural(shape[0], "feature") if len(shape) == 1 else "×".join(map(str, shape))


def plural(n: float, word: str) -> str:
    return f"{number_text(n)} {word}" + ("" if n == 1 else "s")


def param_value_text(value: object) -> str:
    if isinstance(value, tuple):
        return f"{value[0]}×{value[1]}" if value[0] != value[1] else str(value[0])
    if isinstance(value, bool):
        return "yes" if value else "no"
    return number_text(value) if not isinstance(value, str) else f"'{value}'" if value == "same" else value


def line_text(line: Text | Fact | Formula | Grid) -> str:
    if isinstance(line, Text):
        return line.text
    if isinstance(line, Fact):
        return f"{line.label}: {line.value}"
    if isinstance(line, Formula):
        parts = [part for part in (line.symbolic, line.substituted) if part]
        if line.result is not None:
            parts.append(line.result_text)
        text = " = ".join(parts)
        return f"{line.label}: {text}" if line.label else text
    if isinstance(line, Grid):
        rows = ["  ".join("pad" if v is None else value_text(v) for v in row) for row in line.values]
        return f"{line.label}\n    " + "\n    ".join(rows)
    return str(line)


def checked(formula: Formula, expected: float | None, what: str = "") -> list:
    """[formula] when its result is the analysis' value, else a plain fact with the analysis' value (the
    arithmetic shown must never disagree with the numbers shown elsewhere)."""
    if expected is not None and formula.result == expected:
        return [formula]
    return [Fact(formula.label or what, number_text(expected), formula.keys[0] if formula.keys else "", expected)]


# ---- explaining a node --------------------------------------------------------------------------------
def explain_node(graph: GraphSpec, analysis: Analysis, node_id: str,
                 context: Optional[ExplainContext] = None) -> Explanation:
    """Explain `node_id` of `graph` with the numbers of `analysis` (and the activations/run in `context`).

    Raises KeyError when the graph has no such node.
    """
    from engine.teaching.explain_kinds import explainer_for

    spec = graph.node(node_id)
    kind = get_kind(spec.kind)
    info = analysis.nodes.get(node_id) or NodeInfo()
    s = Subject(graph, analysis, spec, kind, info, context or ExplainContext())
    title = f"{spec.label} ({spec.id}) · {kind.name}" if spec.label else f"{spec.id} · {kind.name}"
    sections = problem_sections(s)
    fix = info.error.fix if info.error is not None else None
    if info.shape is not None:
        sections.append(glance_section(s))
        explainer = explainer_for(kind)
        if explainer is not None:
            sections.extend(sec for sec in explainer(s) if sec is not None and sec.lines)
    elif info.in_shapes and all(shape is not None for shape in info.in_shapes):
        sections.append(Section("What comes in", tuple(
            Fact(f"Input {i + 1}" if len(info.in_shapes) > 1 else "Input", shape_text(shape), f"in_shape_{i}", shape)
            for i, shape in enumerate(info.in_shapes))))
    settings = settings_section(s)
    if settings is not None:
        sections.append(settings)
    return Explanation(title, kind.name, kind.teaching or kind.help, sections, spec.id, kind.help, fix)


def problem_sections(s: Subject) -> list:
    out = []
    info = s.info
    if info.error is not None and info.error.severity == "todo":   # unfinished design: a hint, not an alarm
        out.append(Section("Next step", (Text(f"{s.spec.title} {info.error.message}."),)))
    elif info.error is not None:
        lines = [Text(f"{s.spec.title}: {info.error.message}", "error")]
        if info.error.fix is not None:
            lines.append(Text(f"Fix: {info.error.fix.label}. It is offered as a one-click repair (the inspector's "
                              f"Fix button, or a double-click in Messages); undo takes it back."))
        else:
            lines.append(Text("Change the highlighted setting or the connections as the message says; the "
                              "explanation fills in with this layer's numbers as soon as it is valid.", "muted"))
        out.append(Section("What is wrong", tuple(lines), "error"))
    elif info.shape is None:
        upstream = upstream_errors(s)
        where = (", ".join(upstream[:3]) + (" …" if len(upstream) > 3 else "")) if upstream else "a layer before it"
        out.append(Section("Waiting for the layers before it", (
            Text(f"This layer's input size is unknown because {where} has an error. Fix that first (see the "
                 f"Messages panel); then this layer is explained with its real numbers.", "warning"),), "warning"))
    warnings = [i for i in s.analysis.issues_for(s.spec.id) if i.severity == "warning"]
    if warnings:
        out.append(Section("Warning", tuple(Text(w.message, "warning") for w in warnings), "warning"))
    return out


def upstream_errors(s: Subject) -> list:
    """Titles of the layers above this one whose own analysis failed, nearest first."""
    seen, found, frontier = {s.spec.id}, [], [s.spec.id]
    while frontier:
        nxt = []
        for nid in frontier:
            for e in s.graph.in_edges(nid):
                if e.source in seen:
                    continue
                seen.add(e.source)
                nxt.append(e.source)
                src = s.analysis.nodes.get(e.source)
                if src is not None and src.error is not None:
                    found.append(s.graph.node(e.source).title)
        frontier = nxt
    return found


def glance_section(s: Subject) -> Section:
    info, lines = s.info, []
    shapes = [(f"Input {i + 1}" if len(info.in_shapes) > 1 else "Input", shape, f"in_shape_{i}")
              for i, shape in enumerate(info.in_shapes)]
    if s.kind.has_outputs:
        shapes.append(("Output", info.shape, "out_shape"))
    explained = False   # say "(channels × height × width)" once, at the first image-like shape
    for label, shape, key in shapes:
        long = not explained and shape is not None and len(shape) == 3
        explained |= long
        lines.append(Fact(label, shape_text(shape, long=long), key, shape))
    total = s.analysis.total_params
    share = f" ({percent(info.params / total)} of the network)" if total and info.params else ""
    lines.append(Fact("Learned parameters", number_text(info.params) + share, "n_params", info.params))
    if info.macs:
        lines.append(Fact("Multiply-adds per image", f"{number_text(info.macs)} ({human_count(info.macs)})",
                          "n_macs", info.macs))
    rf, jump = info.receptive_field, info.jump
    if rf is not None and s.kind.has_outputs and s.kind.name != "Input":
        image = s.image_size
        if len(info.shape) != 3 or (rf == image and jump == image):
            seen = f"every value sees the whole {image[0]}×{image[1]} image"
        else:
            seen = f"{rf[0]}×{rf[1]} input pixels per value" + (
                f", neighbours {plural(jump[0], 'pixel') if jump[0] == jump[1] else f'{jump[0]}×{jump[1]} pixels'}"
                f" apart" if jump else "")
        lines.append(Fact("Receptive field", seen, "rf", rf))
    if info.memory:
        lines.append(Fact("Output memory per image", human_bytes(info.memory), "memory", info.memory))
    return Section("At a glance", tuple(lines))


def settings_section(s: Subject) -> Optional[Section]:
    if not s.kind.params:
        return None
    lines = tuple(Fact(f"{ps.title} = {param_value_text(s.p.get(ps.name, ps.default))}", ps.help, f"param_{ps.name}",
                       s.p.get(ps.name, ps.default)) for ps in s.kind.params)
    return Section("Settings", lines)


# ---- the whole network ----------------------------------------------------------------------------------
def explain_network(graph: GraphSpec, analysis: Analysis) -> Explanation:
    """The overview shown when no layer is selected: totals and where the parameters are."""
    nodes = graph.node_map()
    total = analysis.total_params
    layers = [nid for nid in analysis.order if nid in nodes and nodes[nid].kind not in ("Input", "Output")]
    count = layer_count(graph)   # the Summary's count too
    lines = [Fact("Layers between Input and Output", str(count), "n_layers", count),
             Fact("Learned parameters", number_text(total), "total_params", total),
             Fact("Multiply-adds per image", f"{number_text(analysis.total_macs)} "
                  f"({human_count(analysis.total_macs)})", "total_macs", analysis.total_macs),
             Fact("Activation memory per image", human_bytes(analysis.total_memory), "total_memory",
                  analysis.total_memory)]
    if analysis.mistakes:
        lines.append(Text(f"{len(analysis.mistakes)} error(s) to fix before the network can train; select a layer "
                          f"marked in red to see what is wrong.", "error"))
    elif analysis.errors:   # only steps not taken yet (a blank design): the next one, gently
        lines.append(Text(f"Not finished yet: {analysis.errors[0]}."))
    sections = [Section("The whole network", tuple(lines))]
    holders = sorted((nid for nid in layers if analysis.nodes[nid].params), key=lambda n: -analysis.nodes[n].params)
    if total and holders:
        where = []
        for nid in holders[:6]:
            n = analysis.nodes[nid].params
            where.append(Fact(f"{nodes[nid].title} ({nodes[nid].kind})", f"{number_text(n)} = {percent(n / total)}",
                              f"share_{nid}", n / total))
        if len(holders) > 6:
            rest = sum(analysis.nodes[nid].params for nid in holders[6:])
            where.append(Text(f"{len(holders) - 6} more layer(s) hold the other {number_text(rest)}.", "muted"))
        by_category: dict = {}
        for nid in holders:
            cat = get_kind(nodes[nid].kind).category
            by_category[cat] = by_category.get(cat, 0) + analysis.nodes[nid].params
        if len(by_category) > 1:
            where.append(Text("By kind: " + ", ".join(f"{cat.lower()} {percent(n / total)}" for cat, n in
                                                       sorted(by_category.items(), key=lambda kv: -kv[1]))))
        if analysis.nodes[holders[0]].params > total / 2 and nodes[holders[0]].kind == "Linear":
            where.append(Text("Most parameters sit in one fully connected layer: pooling more before Flatten, or "
                              "global average pooling instead of Flatten + Linear, shrinks it a lot."))
        sections.append(Section("Where the parameters are", tuple(where)))
    return Explanation(graph.name or "This network", "", "Select a layer on the canvas to see it explained with "
                       "its own numbers: how its output size is computed, how many parameters it has and what it "
                       "does to the probe image.", sections)
