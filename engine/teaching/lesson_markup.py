"""The small markup lesson texts use, turned into safe HTML for Qt's rich-text labels.

Everything is HTML-escaped first, so a lesson file can never inject tags, links or images. Then:
**bold**, *italic*, `code`, and a paragraph whose lines start with "- " becomes a bullet list.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`]+)`")


def inline_html(text: str) -> str:
    """One line or paragraph of lesson text as escaped HTML with bold, italic and code."""
    out = html.escape(str(text), quote=True)
    codes: list = []

    def keep_code(m):  # code is verbatim: no bold or italic inside it
        codes.append(m.group(1))
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE.sub(keep_code, out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", out)


def paragraph_html(text: str) -> str:
    """A paragraph: bullet lines ("- ...") become a list, other lines join into one <p>."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if lines and all(ln.startswith("- ") for ln in lines):
        items = "".join(f"<li>{inline_html(ln[2:])}</li>" for ln in lines)
        return f"<ul style='margin-top:0; margin-bottom:0'>{items}</ul>"
    return f"<p>{inline_html(' '.join(lines))}</p>"


def paragraphs_html(paragraphs: Iterable[str]) -> str:
    return "".join(paragraph_html(p) for p in paragraphs)


def plain_text(text: str) -> str:
    """The text without markup (for tooltips, menus and the status bar)."""
    text = _CODE.sub(r"\1", str(text))
    text = _BOLD.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)
