"""Sizes in bytes as the app writes them, everywhere: powers of 1024 named KB, MB and GB.

One convention for the whole app (status bar, summary, inspector, Explain, training memory, memory limit,
file limits, downloads), so the same number never appears as "61.7 kB" in one place and "63.2 KB" in another.
"""
from __future__ import annotations

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30


def format_bytes(n: float) -> str:
    """'812 bytes', '61.7 KB', '7.7 MB', '34.3 GB' (1 KB = 1024 bytes)."""
    n = float(n)
    if abs(n) < KB:
        return f"{n:.0f} bytes"
    for unit, size in (("GB", GB), ("MB", MB)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / KB:.1f} KB"
