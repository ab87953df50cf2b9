"""Names and comments in exported code: only what is safe to write into a Python file."""
from __future__ import annotations

import builtins
import keyword
import re

from engine.graph import GraphSpec


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
