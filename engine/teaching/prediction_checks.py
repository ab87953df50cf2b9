"""Prediction steps: the student types a number or a shape before looking, and the analysis says if it is
right. The hints explain how to work it out without giving the answer away."""
from __future__ import annotations

import re

from engine.teaching.checks import Arg, CheckResult, check
from engine.teaching.lesson_state import LessonState

SHAPE_HINT = ("Not quite. Per side: ⌊(W − K + 2P) / S⌋ + 1 with the input size W, kernel K, padding P and "
              "stride S. The channels are the layer's out_channels (pooling keeps the channels).")


def parse_numbers(text: str) -> tuple:
    """The whole numbers in `text`: '6×28×28', '(6, 28, 28)' and '6 x 28 x 28' all give (6, 28, 28)."""
    return tuple(int(n) for n in re.findall(r"\d+", text or ""))


def parse_count(text: str) -> int | None:
    """A count typed with or without separators: '2,416', '2 416' and '2416' all give 2416."""
    digits = re.sub(r"[\s,._'’]", "", (text or "").strip())
    return int(digits) if digits.isdigit() else None


def _node_info(state: LessonState, node: str):
    if not state.graph.has_node(node):
        return None, f"{node} is no longer in the design; open the lesson's design again to answer."
    info = state.analysis.nodes.get(node)
    if info is None or info.shape is None:
        return None, f"{node} has no shape while the design has an error; fix the error first."
    return info, ""


@check("predicted_shape", needs_answer=True, node=Arg("node"))
def predicted_shape(state: LessonState, node: str, answer: str) -> CheckResult:
    """The typed shape equals the node's output shape in the analysis (channels×height×width)."""
    if not answer.strip():
        return CheckResult(False)
    info, problem = _node_info(state, node)
    if info is None:
        return CheckResult(False, problem)
    guess, truth = parse_numbers(answer), tuple(info.shape)
    if guess == truth:
        return CheckResult(True)
    if not guess:
        return CheckResult(False, "Type the shape as numbers, channels×height×width, e.g. 8×14×14.")
    if len(truth) == 3 and guess == (truth[1], truth[2], truth[0]):
        return CheckResult(False, "Right numbers, wrong order: this app writes shapes channels first, "
                                  "channels×height×width.")
    if len(guess) != len(truth):
        return CheckResult(False, f"The output of {node} has {len(truth)} numbers "
                                  f"({'channels×height×width' if len(truth) == 3 else 'one per dimension'}).")
    return CheckResult(False, _which_parts(guess, truth) + SHAPE_HINT.removeprefix("Not quite."))


def _which_parts(guess: tuple, truth: tuple) -> str:
    """'Channels right, height and width not yet.': which numbers of a wrong shape are right, without giving
    the right values away."""
    names = ("channels", "height", "width") if len(truth) == 3 else tuple(f"number {i + 1}" for i in range(len(truth)))
    right = [n for n, g, t in zip(names, guess, truth) if g == t]
    wrong = [n for n, g, t in zip(names, guess, truth) if g != t]
    said = lambda parts: parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]  # noqa: E731
    if not right:
        return f"Not quite: {said(wrong)} are not right yet." if len(wrong) > 1 else f"Not quite: {said(wrong)}."
    return f"{said(right).capitalize()} right, {said(wrong)} not yet."


@check("predicted_receptive_field", needs_answer=True, node=Arg("node"))
def predicted_receptive_field(state: LessonState, node: str, answer: str) -> CheckResult:
    """The typed receptive field (e.g. '5×5', or '5' for a square) equals the analysis's for the node."""
    if not answer.strip():
        return CheckResult(False)
    info, problem = _node_info(state, node)
    if info is None or info.receptive_field is None:
        return CheckResult(False, problem or f"{node} has no receptive field.")
    guess, truth = parse_numbers(answer), tuple(info.receptive_field)
    if len(guess) == 1 and truth[0] == truth[1]:
        guess = (guess[0], guess[0])
    if guess == truth:
        return CheckResult(True)
    return CheckResult(False, "Not quite. Each k×k layer with stride 1 widens the view by k − 1 pixels; a stride "
                              "or pooling before it multiplies that widening.")


@check("predicted_params", needs_answer=True, node=Arg("node"))
def predicted_params(state: LessonState, node: str, answer: str) -> CheckResult:
    """The typed number equals the node's parameter count (weights and biases)."""
    if not answer.strip():
        return CheckResult(False)
    info, problem = _node_info(state, node)
    if info is None:
        return CheckResult(False, problem)
    guess = parse_count(answer)
    if guess is None:
        return CheckResult(False, "Type one whole number, e.g. 650.")
    if guess == info.params:
        return CheckResult(True)
    if state.graph.node(node).kind == "Linear":
        return CheckResult(False, "Not quite. A fully connected layer has one weight for every input value and "
                                  "output, plus one bias per output: (inputs + 1) × outputs.")
    return CheckResult(False, "Not quite. A convolution has (K·K·C_in + 1)·C_out parameters: one K×K weight per "
                              "input channel for every output channel, plus one bias each.")
