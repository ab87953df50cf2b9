"""Checks on the design itself and on what the student selects and looks at."""
from __future__ import annotations

from typing import Any

from engine.teaching.checks import Arg, CheckArgError, CheckResult, check, validate_param_value
from engine.teaching.lesson_state import DROPOUT_KINDS, PANELS, LessonState


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@check("node_of_kind_present", kind=Arg("kind"), min_count=Arg("int", False, 1))
def node_of_kind_present(state: LessonState, kind: str, min_count: int) -> CheckResult:
    """The design has at least `min_count` layers of `kind`."""
    have = len(state.graph.nodes_of_kind(kind))
    return CheckResult(have >= min_count, "" if have >= min_count else
                       f"The design has {_plural(have, kind + ' layer')}; this step needs {min_count}.")


@check("no_node_of_kind", kind=Arg("kind"))
def no_node_of_kind(state: LessonState, kind: str) -> CheckResult:
    """The design has no layer of `kind` left."""
    have = len(state.graph.nodes_of_kind(kind))
    return CheckResult(have == 0, "" if have == 0 else f"{_plural(have, kind + ' layer')} still in the design.")


@check("dropout_added", min_count=Arg("int", False, 1))
def dropout_added(state: LessonState, min_count: int) -> CheckResult:
    """The design has at least `min_count` Dropout or Dropout2d layers."""
    have = sum(len(state.graph.nodes_of_kind(k)) for k in DROPOUT_KINDS)
    return CheckResult(have >= min_count)


def _validate_kind_params(args, design, where):
    args["params"] = validate_param_value(args["kind"], args["params"], f"{where}: kind_with_params.params")


@check("kind_with_params", validate=_validate_kind_params, kind=Arg("kind"), params=Arg("params"),
       min_count=Arg("int", False, 1))
def kind_with_params(state: LessonState, kind: str, params: dict, min_count: int) -> CheckResult:
    """At least `min_count` layers of `kind` whose parameters include `params` (e.g. a 1×1 Conv2d)."""
    have = sum(1 for n in state.graph.nodes_of_kind(kind) if all(n.params.get(k) == v for k, v in params.items()))
    return CheckResult(have >= min_count)


def _validate_param_equals(args, design, where):
    if design is None:
        return
    kind = design.node(args["node"]).kind
    if "value" not in args or args["value"] is None:
        raise CheckArgError(f"{where}: param_equals needs a value")
    args["value"] = validate_param_value(kind, {args["param"]: args["value"]}, f"{where}: param_equals")[args["param"]]


@check("param_equals", validate=_validate_param_equals, node=Arg("node"), param=Arg("param"), value=Arg("value"))
def param_equals(state: LessonState, node: str, param: str, value: Any) -> CheckResult:
    """The node's parameter equals `value` (compared after normalising, so 1 equals [1, 1])."""
    if not state.graph.has_node(node):
        return CheckResult(False, f"{node} is no longer in the design; open the lesson's design again.")
    n = state.graph.node(node)
    wanted = validate_param_value(n.kind, {param: value}, "param_equals")[param]
    return CheckResult(n.params.get(param) == wanted)


@check("graph_has_no_errors")
def graph_has_no_errors(state: LessonState) -> CheckResult:
    """The analysis reports no error (warnings are fine)."""
    errors = state.analysis.errors
    return CheckResult(not errors, f"First problem: {errors[0]}" if errors else "")


@check("param_count_below", limit=Arg("int"))
def param_count_below(state: LessonState, limit: int) -> CheckResult:
    """The whole design has fewer than `limit` parameters (and no errors, so the count is complete)."""
    total = state.analysis.total_params
    if not state.analysis.ok:
        return CheckResult(False, "Fix the design's errors first: parameters are only counted for a valid design.")
    return CheckResult(total < limit, "" if total < limit else
                       f"The design has {total:,} parameters; this step needs fewer than {limit:,}.")


@check("contains_kind_after", kind=Arg("kind"), after=Arg("kind"))
def contains_kind_after(state: LessonState, kind: str, after: str) -> CheckResult:
    """Some layer of `kind` is downstream of (fed, maybe indirectly, by) a layer of kind `after`."""
    g = state.graph
    frontier = [n.id for n in g.nodes_of_kind(after)]
    seen = set(frontier)
    while frontier:
        for e in g.out_edges(frontier.pop()):
            if e.target in seen:
                continue
            if g.has_node(e.target) and g.node(e.target).kind == kind:
                return CheckResult(True)
            seen.add(e.target)
            frontier.append(e.target)
    return CheckResult(False)


def _validate_selected(args, design, where):
    if args.get("node") is None and args.get("kind") is None:
        raise CheckArgError(f"{where}: check 'selected' needs a node or a kind")


@check("selected", validate=_validate_selected, node=Arg("node", False), kind=Arg("kind", False))
def selected(state: LessonState, node: str | None, kind: str | None) -> CheckResult:
    """The student selected `node` (or any layer of `kind`) on the canvas."""
    if node is not None and state.selected != node:
        return CheckResult(False)
    if kind is not None and state.selected_kind() != kind:
        return CheckResult(False)
    return CheckResult(bool(state.selected))


@check("dataset_selected", dataset=Arg("dataset"))
def dataset_selected(state: LessonState, dataset: str) -> CheckResult:
    """The training settings have `dataset` chosen."""
    return CheckResult(state.dataset_key == dataset)


@check("viewed", panel=Arg("panel"), trained=Arg("bool", False), node_kind=Arg("kind", False))
def viewed(state: LessonState, panel: str, trained: bool | None, node_kind: str | None) -> CheckResult:
    """The student had `panel` in view; optionally with trained (or untrained) weights, with a layer of
    `node_kind` selected."""
    for v in state.viewed:
        if v.panel == panel and (trained is None or v.trained == trained) and \
                (node_kind is None or v.node_kind == node_kind):
            return CheckResult(True)
    return CheckResult(False, "" if panel in PANELS else f"unknown panel {panel}")
