"""Unsupported: what an import leaves where an operation of the original has no layer kind.

It keeps the operation's place, inputs and output shape, so everything after it still gets its shapes and
the person sees exactly what is missing. The analysis always reports it as an error, so a design holding
one can be neither trained nor exported as if it were the original; replacing it is the person's choice.
"""
from __future__ import annotations

from engine.registry import TEXT_LIMIT, LayerKind, ParamSpec, register


def _kept_shape(p, ins):
    return tuple(p["shape"])


def problem(p: dict) -> str:
    """The analysis's message for an Unsupported node."""
    where = f" from {p['source']}" if p["source"] else ""
    return (f"stands for {p['operation']}{where}, which CNN Designer cannot build ({p['reason']}). Replace it "
            f"with layers that compute the same, or delete it and connect its neighbours yourself.")


register(LayerKind(
    name="Unsupported", category="Imported", glyph="?", id_prefix="unsupported",
    help="An operation of an imported model that has no layer kind; replace it before training or export.",
    teaching="An import keeps a placeholder where the original network does something CNN Designer has no "
             "layer for. It shows what the operation was, where it came from and what shape it produced, "
             "so the layers after it still make sense. The network cannot run until it is replaced.",
    params=(ParamSpec("operation", "text", "", "What the original computes here, e.g. F.batch_norm.",
                      maximum=TEXT_LIMIT),
            ParamSpec("source", "text", "", "Where it came from in the original: its module path.",
                      maximum=TEXT_LIMIT),
            ParamSpec("reason", "text", "", "Why it could not be mapped to a layer kind.", maximum=TEXT_LIMIT),
            ParamSpec("shape", "shape", (1,), "The shape of one sample it produced in the original.")),
    min_inputs=0, max_inputs=None, infer=_kept_shape, build=None, emit=None, placeholder=True,
    summary=lambda p: p["operation"][:40],
))
