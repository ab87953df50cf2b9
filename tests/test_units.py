"""One convention for sizes in bytes: powers of 1024 named KB, MB, GB, written by one helper everywhere."""
from __future__ import annotations

import re
from pathlib import Path

from engine.insight.memory import human_bytes as memory_bytes
from engine.summary import human_bytes as summary_bytes
from engine.units import format_bytes

ROOT = Path(__file__).resolve().parents[1]


def test_format_bytes_uses_powers_of_1024_with_one_spelling():
    assert format_bytes(812) == "812 bytes"
    assert format_bytes(63_184) == "61.7 KB"          # 63,184 / 1024; never "61.7 kB" or "63.2 KB"
    assert format_bytes(8_074_240) == "7.7 MB"
    assert format_bytes(34.3 * (1 << 30)) == "34.3 GB"


def test_every_module_writes_sizes_through_the_one_helper():
    assert summary_bytes is format_bytes and memory_bytes is format_bytes
    # no module spells a unit of its own: lower-case kB (1000-based) or a "B" with a hand-made division
    offenders = []
    for folder in ("engine", "designer"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "units.py":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\d\s?kB\b|[\"' ]kB[\"']|/ 1e6:.*MB|/ 1024\b", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
