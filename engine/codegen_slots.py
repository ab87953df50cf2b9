"""One class for every group of layers with the same structure, the numbers that differ as its arguments.

Each group that the exported code writes as a class (engine.codegen_blocks) arrives as a `ClassTemplate`:
its __init__ entries as source text and its forward lines, for one instance. Instances whose text is equal
once numbers are set aside share one class. Numbers equal in every instance stay literal; the others become
constructor arguments, one per distinct column of values, named after the parameter they fill
(`in_channels`, `stride`). An instance equal to the others but for one extra layer applied to its input
(ResNet's `downsample`) shares the class, with that layer as an optional argument.
"""
from __future__ import annotations

import inspect
import keyword
import re
from dataclasses import dataclass, field

from engine.codegen_calls import canonical, tidy

INDENT = "    "
_NUMBER = re.compile(r"(?<![\w.])-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?(?![\w.])")
_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_TOKEN = re.compile(r"[A-Za-z_][\w.]*|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|==|\S", re.S)
_IN = {"in_channels", "in_features", "inplanes", "in_planes"}
_OUT = {"out_channels", "out_features", "num_features", "num_channels", "normalized_shape", "channels", "planes"}
_BUILTIN_SIGNATURES = {"torch.full": ("size", "fill_value"), "nn.Parameter": ("data", "requires_grad")}


@dataclass
class ClassTemplate:
    path: str                 # module path of the instance ("" for the network itself)
    hint: str                 # class name wanted (the original's, e.g. "BasicBlock")
    init: list                # [(attribute, constructor source)], in order of first use
    forward: list             # [forward line], the last one `return ...`
    params: list              # forward's parameter names
    optional: tuple | None = None   # (forward line index, attribute, variable): an optional shortcut layer
    placeholder: str = ""     # stands for this instance's constructor in its parent's source
    comments: list = field(default_factory=list)   # per init entry: a trailing comment (the network only)


def split_numbers(text: str) -> tuple[tuple, list]:
    """(the text's pieces between numeric literals, the literals), quoted strings left alone."""
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    pieces, numbers, last = [], [], 0
    for m in _NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        pieces.append(text[last:m.start()])
        numbers.append(m.group())
        last = m.end()
    pieces.append(text[last:])
    return tuple(pieces), numbers


def join_numbers(pieces: tuple, values: list) -> str:
    return "".join(p + v for p, v in zip(pieces, values)) + pieces[-1]


def group_classes(templates: list[ClassTemplate], taken: set[str]) -> tuple[list[str], dict[str, str]]:
    """(class sources, innermost first; {placeholder: constructor call}) for `templates`. A template is
    grouped once every placeholder in its text is resolved; equal structures resolve in the same round."""
    sources, calls, signatures = [], {}, {}
    pending = list(templates)
    while pending:
        ready = [t for t in pending if not any(p in text for p in _placeholders(pending) for _, text in t.init)]
        if not ready:   # cannot happen for a tree; never loop forever
            raise ValueError("the module tree of the export refers to itself")
        pending = [t for t in pending if t not in ready]
        for t in ready:
            t.init = [(attr, canonical(_resolve(text, calls))) for attr, text in t.init]
        for group in _groups(ready):
            name = _class_name(group[0][0].hint, taken)
            taken.add(name)
            source, args = _write_class(name, group, signatures)
            signatures[name] = args
            sources.append(source)
            for template, call in zip((g[0] for g in group), _instance_calls(name, group)):
                calls[template.placeholder] = call
    return sources, calls


def resolve(text: str, calls: dict[str, str]) -> str:
    return _resolve(text, calls)


def _placeholders(templates: list[ClassTemplate]) -> list[str]:
    return [t.placeholder for t in templates]


def _resolve(text: str, calls: dict[str, str]) -> str:
    for placeholder, call in calls.items():
        if placeholder in text:
            text = text.replace(placeholder, call)
    return text


def _key(init: list, forward: list, params: list, hint: str) -> tuple:
    return (hint, tuple((attr, split_numbers(text)[0]) for attr, text in init), tuple(forward), tuple(params))


def _groups(ready: list[ClassTemplate]) -> list[list]:
    """[[(template, optional attribute or "")...]...]: equal structures together, shortcut variants merged."""
    by_key: dict = {}
    for t in ready:
        by_key.setdefault(_key(t.init, t.forward, t.params, t.hint), []).append(t)
    groups = {key: [(t, "") for t in members] for key, members in by_key.items()}
    for key, members in list(by_key.items()):
        t = members[0]
        if t.optional is None or key not in groups:
            continue
        index, attr, var = t.optional
        reduced_init = [(a, text) for a, text in t.init if a != attr]
        word = re.compile(rf"\b{re.escape(var)}\b")
        reduced_forward = [word.sub(t.params[0], line) for i, line in enumerate(t.forward) if i != index]
        plain = _key(reduced_init, reduced_forward, t.params, t.hint)
        if plain in groups and plain != key:
            groups[plain] += [(m, attr) for m in members]
            del groups[key]
    return list(groups.values())


def _rows(group: list) -> list[list[str]]:
    rows = []
    for template, optional in group:
        numbers = []
        for attr, text in template.init:
            if attr != optional:
                numbers += split_numbers(text)[1]
        rows.append(numbers)
    return rows


def _write_class(name: str, group: list, signatures: dict) -> tuple[str, tuple]:
    """The class source and its argument names."""
    first = group[0][0]
    optional = next(((t, attr) for t, attr in group if attr), None)
    rows = _rows(group)
    columns = list(zip(*rows)) if rows and rows[0] else []
    contexts = [c for attr, text in first.init if attr != group[0][1] for c in _slot_names(text, signatures)]
    arg_of: dict = {}      # column values -> argument name
    slot_text = []
    for column in columns:
        if len(set(column)) == 1:
            slot_text.append(column[0])
            continue
        if column not in arg_of:
            arg_of[column] = None
        slot_text.append(column)
    names = _argument_names([[contexts[j] for j, c in enumerate(columns) if c == col] for col in arg_of],
                            {"self", "x", "torch", "nn"} | ({optional[1]} if optional else set()))
    arg_names = dict(zip(arg_of, names))
    values = [arg_names[v] if isinstance(v, tuple) else v for v in slot_text]
    lines = []
    position = 0
    template, opt_attr = optional if optional else (first, "")
    for attr, text in template.init:
        if attr == opt_attr:
            lines.append(f"{INDENT * 2}self.{attr} = {attr}")
            continue
        pieces, numbers = split_numbers(text)
        ctor = tidy(join_numbers(pieces, values[position:position + len(numbers)]))
        position += len(numbers)
        lines.append(f"{INDENT * 2}{assignment(attr, ctor)}")
    forward = list(template.forward)
    if optional:
        index, attr, var = template.optional
        forward[index] = f"{var} = {template.params[0]} if self.{attr} is None else self.{attr}({template.params[0]})"
    signature = ", ".join(["self", *names] + ([f"{opt_attr}=None"] if opt_attr else []))
    source = "\n".join([f"class {name}(nn.Module):",
                        f"{INDENT}def __init__({signature}):",
                        f"{INDENT * 2}super().__init__()",
                        *lines, "",
                        f"{INDENT}def forward(self, {', '.join(first.params)}):",
                        *(f"{INDENT * 2}{line}" for line in forward)])
    return source, tuple(names)


def _instance_calls(name: str, group: list) -> list[str]:
    rows = _rows(group)
    columns = list(zip(*rows)) if rows and rows[0] else []
    varying = list(dict.fromkeys(c for c in columns if len(set(c)) > 1))
    calls = []
    for i, (template, optional) in enumerate(group):
        args = [column[i] for column in varying]
        if optional:
            args.append(f"{optional}={tidy(dict(template.init)[optional])}")
        calls.append(f"{name}({', '.join(args)})")
    return calls


def assignment(attr: str, ctor: str) -> str:
    """`self.conv1 = ...` in an __init__; a name that is not a Python attribute (`"0"`, `"block1-0"`) is
    registered by add_module, or register_parameter for a bare weight."""
    ctor = ctor.replace("\n", "\n" + INDENT * 2)
    if attr.isidentifier() and not keyword.iskeyword(attr):
        return f"self.{attr} = {ctor}"
    if ctor.startswith("nn.Parameter("):
        return f'self.register_parameter("{attr}", {ctor})'
    return f'self.add_module("{attr}", {ctor})'


def _slot_names(text: str, signatures: dict) -> list[str]:
    """A parameter name for each number in `text`: the keyword it is passed as, or the constructor's own name
    for that position (`nn.Conv2d(64, ...)`: in_channels)."""
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    names = []
    for m in _NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        callee, index, kw = _call_context(text[:m.start()])
        names.append(kw or _positional_name(callee, index, signatures))
    return names


def _call_context(prefix: str) -> tuple[str, int, str]:
    """(callee, argument index, keyword) of the innermost call around the end of `prefix`."""
    stack: list = []
    previous = ""
    for m in _TOKEN.finditer(prefix):
        token = m.group()
        if token == "(":
            stack.append([previous if previous[:1].isalpha() or previous[:1] == "_" else "", 0, ""])
        elif token in "[{" and len(token) == 1:
            stack.append(["", 0, ""])
        elif token in ")]}" and len(token) == 1 and stack:
            stack.pop()
        elif token == "," and stack:
            stack[-1][1] += 1
            stack[-1][2] = ""
        elif token == "=" and stack and previous.isidentifier():
            stack[-1][2] = previous
        previous = token
    for callee, index, kw in reversed(stack):
        if callee:
            return callee, index, kw
    return "", 0, ""


def _positional_name(callee: str, index: int, signatures: dict) -> str:
    names: tuple = signatures.get(callee) or _BUILTIN_SIGNATURES.get(callee) or _constructor_names(callee)
    return names[index] if index < len(names) else "value"


def _constructor_names(callee: str) -> tuple:
    import torch.nn

    from engine import modules

    owner, _, attr = callee.rpartition(".")
    target = getattr(torch.nn, attr, None) if owner == "nn" else getattr(modules, callee, None)
    try:
        return tuple(p for p in inspect.signature(target).parameters if p != "self")
    except (TypeError, ValueError):
        return ()


def _argument_names(groups: list[list[str]], reserved: set[str]) -> list[str]:
    names, used = [], set(reserved)
    for slots in groups:
        found = set(slots)
        if found <= _IN:
            name = "in_channels"
        elif found <= _IN | _OUT:
            name = "channels" if found & _IN else "out_channels"
        else:
            name = slots[0] if slots and slots[0].isidentifier() else "value"
        if keyword.iskeyword(name):
            name += "_"
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        names.append(candidate)
    return names


def _class_name(hint: str, taken: set[str]) -> str:
    import torch.nn

    from engine.codegen_names import class_name_problem

    base = hint if hint and not class_name_problem(hint) and not hasattr(torch.nn, hint) else f"{hint or 'Group'}Block"
    base = base.lstrip("_") or "Block"
    base = base[:1].upper() + base[1:]
    if class_name_problem(base):
        base = "Block"
    candidate, n = base, 1
    while candidate in taken or class_name_problem(candidate):
        n += 1
        candidate = f"{base}{n}"
    return candidate
