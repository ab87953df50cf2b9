"""The fixed registry of checklist checks a lesson step can name.

A step's condition is declarative JSON, `{"check": "trained", "min_epochs": 3}`; the name picks a function
registered here with `@check`, which receives the LessonState and the arguments and returns a CheckResult.
Each check declares its arguments (`Arg`), so a lesson file is validated when it loads, long before a
student meets the step. Conditions can be combined with `{"all": [condition, ...]}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from engine.data import list_datasets
from engine.registry import all_kinds, get_kind
from engine.teaching.lesson_state import PANELS, LessonState

if TYPE_CHECKING:
    from engine.graph import GraphSpec


class CheckArgError(ValueError):
    """A check named in a lesson file does not exist or has a wrong argument; the message says which."""


@dataclass(frozen=True)
class CheckResult:
    met: bool
    hint: str = ""      # shown under the step when it is not met (e.g. why a prediction is wrong)


@dataclass(frozen=True)
class Arg:
    """One argument of a check. type: kind (a layer kind) | node (a node id of the lesson's designs) |
    param | dataset | panel | int | number | fraction | bool | text | params | value | differ."""

    type: str
    required: bool = True
    default: object = None


@dataclass(frozen=True)
class CheckDef:
    name: str
    fn: Callable
    args: dict = field(default_factory=dict)
    needs_answer: bool = False       # the step shows an input box; fn gets answer=...
    validate: Optional[Callable] = None  # extra validation fn(args, design, where) raising CheckArgError


CHECKS: dict = {}


def check(name: str, needs_answer: bool = False, validate: Callable | None = None,
          **args: Arg) -> Callable[[Callable], Callable]:
    """Register `fn(state, **args)` (plus `answer=` when needs_answer) as the check called `name`."""
    def register(fn):
        CHECKS[name] = CheckDef(name, fn, dict(args), needs_answer, validate)
        return fn
    return register


def check_names() -> list:
    return sorted(CHECKS)


# ---- validating a condition from a lesson file -------------------------------------------------------
def validate_condition(spec: object, design: GraphSpec | None = None, where: str = "condition") -> dict:
    """Check one condition (a dict) against the registry and the lesson's design; return it with defaults
    filled in. Raises CheckArgError naming `where` and the problem."""
    if not isinstance(spec, dict):
        raise CheckArgError(f"{where} must be an object such as {{\"check\": \"trained\"}}, got {spec!r}")
    if "all" in spec:
        parts = spec["all"]
        if set(spec) != {"all"} or not isinstance(parts, list) or not parts:
            raise CheckArgError(f"{where}: \"all\" must be the only key and hold a non-empty list of conditions")
        return {"all": [validate_condition(p, design, f"{where}, part {i + 1}") for i, p in enumerate(parts)]}
    name = spec.get("check")
    if name not in CHECKS:
        raise CheckArgError(f"{where}: unknown check {name!r}; known checks: {', '.join(check_names())}")
    definition = CHECKS[name]
    unknown = sorted(set(spec) - set(definition.args) - {"check"})
    if unknown:
        known = ", ".join(sorted(definition.args)) or "none"
        raise CheckArgError(f"{where}: check {name!r} has no argument(s) {', '.join(unknown)} (it takes: {known})")
    out = {"check": name}
    for arg_name, arg in definition.args.items():
        if arg_name not in spec:
            if arg.required:
                raise CheckArgError(f"{where}: check {name!r} needs the argument {arg_name!r}")
            out[arg_name] = arg.default
            continue
        out[arg_name] = _validate_arg(spec[arg_name], arg, design, f"{where}: {name}.{arg_name}")
    if definition.validate is not None:
        definition.validate(out, design, where)
    return out


def needs_answer(condition: dict) -> bool:
    if "all" in condition:
        return any(needs_answer(c) for c in condition["all"])
    return CHECKS[condition["check"]].needs_answer


def _validate_arg(value, arg: Arg, design, where):
    t = arg.type
    if value is None and not arg.required:
        return None
    if t == "kind":
        kinds = [k.name for k in all_kinds()]
        if value not in kinds:
            raise CheckArgError(f"{where} must be a layer kind ({', '.join(kinds)}), got {value!r}")
    elif t == "node":
        if not isinstance(value, str) or (design is not None and not design.has_node(value)):
            raise CheckArgError(f"{where} must be the id of a node in the lesson's design, got {value!r}")
    elif t == "dataset":
        keys = [i.key for i in list_datasets()]
        if value not in keys:
            raise CheckArgError(f"{where} must be a data set key ({', '.join(keys)}), got {value!r}")
    elif t == "panel":
        if value not in PANELS:
            raise CheckArgError(f"{where} must be a panel name ({', '.join(PANELS)}), got {value!r}")
    elif t == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckArgError(f"{where} must be a whole number of at least 0, got {value!r}")
    elif t in ("number", "fraction"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckArgError(f"{where} must be a number, got {value!r}")
        if t == "fraction" and not 0 <= value <= 1:
            raise CheckArgError(f"{where} must be between 0 and 1 (0.9 means 90%), got {value!r}")
    elif t == "bool":
        if not isinstance(value, bool):
            raise CheckArgError(f"{where} must be true or false, got {value!r}")
    elif t in ("text", "param"):
        if not isinstance(value, str) or not value:
            raise CheckArgError(f"{where} must be a non-empty text, got {value!r}")
    elif t == "params":
        if not isinstance(value, dict) or not value:
            raise CheckArgError(f"{where} must be an object of layer parameters, got {value!r}")
    elif t == "differ":
        if value not in ("design", "config", "any"):
            raise CheckArgError(f"{where} must be \"design\", \"config\" or \"any\", got {value!r}")
    return value


def validate_param_value(kind: str, params: dict, where: str) -> dict:
    """Normalise `params` with the kind's schema (so 3 and [3, 3] compare equal); CheckArgError if invalid."""
    k = get_kind(kind)
    names = {p.name for p in k.params}
    unknown = sorted(set(params) - names)
    if unknown:
        raise CheckArgError(f"{where}: {kind} has no parameter(s) {', '.join(unknown)} "
                            f"(it has: {', '.join(sorted(names)) or 'none'})")
    try:
        full = k.normalize(dict(params))
    except ValueError as exc:
        raise CheckArgError(f"{where}: {exc}") from None
    return {name: full[name] for name in params}


# ---- evaluating ----------------------------------------------------------------------------------------
def evaluate_condition(condition: dict, state: LessonState, answer: str = "") -> CheckResult:
    """Run a validated condition; a check that raises counts as not met, with the reason as the hint."""
    if "all" in condition:
        hints = []
        for part in condition["all"]:
            result = evaluate_condition(part, state, answer)
            if not result.met:
                hints.append(result.hint)
        return CheckResult(not hints, next((h for h in hints if h), ""))
    definition = CHECKS[condition["check"]]
    args = {k: v for k, v in condition.items() if k != "check"}
    if definition.needs_answer:
        args["answer"] = answer or ""
    try:
        result = definition.fn(state, **args)
    except Exception as exc:  # a lesson must never crash the app; show why the step cannot be checked
        return CheckResult(False, f"This step cannot be checked right now ({exc}).")
    return result if isinstance(result, CheckResult) else CheckResult(bool(result))


# The checks themselves live in small modules that register on import; they need `check` defined above.
from engine.teaching import design_checks, prediction_checks, run_checks  # noqa: E402,F401
