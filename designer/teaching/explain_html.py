"""Render an engine Explanation as rich text for a QTextBrowser, in the current theme's colours.

Every string that reaches the HTML goes through html.escape: layer labels are typed by users (and come from
files), and the engine's text quotes them."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtGui import QFontDatabase, QPalette

from designer import theme
from engine.registry import get_kind
from engine.teaching.explain import Fact, Formula, Grid, Text, value_text

FIX_LINK = "explain:fix"


@dataclass(frozen=True)
class Colours:
    text: str
    muted: str
    accent: str
    panel: str      # background of formula boxes
    border: str
    marked_bg: str
    marked_text: str
    error: str
    warning: str
    good: str

    @classmethod
    def from_palette(cls, palette: QPalette) -> "Colours":
        c = theme.colors()
        role = lambda r: palette.color(r).name()  # noqa: E731
        return cls(text=role(QPalette.ColorRole.Text), muted=c.muted_text.name(), accent=role(QPalette.ColorRole.Link),
                   panel=role(QPalette.ColorRole.AlternateBase), border=role(QPalette.ColorRole.Mid),
                   marked_bg=role(QPalette.ColorRole.Highlight), marked_text=role(QPalette.ColorRole.HighlightedText),
                   error=c.error_border.name(), warning=c.warning_border.name(), good=c.port_out.name())


def _mono() -> str:
    return escape(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(), quote=True)


def render(explanation, colours: Colours) -> str:
    """The whole explanation as an HTML document."""
    mono = _mono()
    out = [f'<html><body style="color:{colours.text}">']
    glyph, glyph_colour = "", colours.accent
    if explanation.kind:
        try:
            kind = get_kind(explanation.kind)
            glyph, glyph_colour = kind.glyph, theme.category_color(kind.category).name()
        except KeyError:
            pass
    out.append(f'<h2 style="margin-bottom:4px"><span style="color:{glyph_colour}">{escape(glyph)}</span> '
               f'{escape(explanation.title)}</h2>')
    out.append(f"<p>{escape(explanation.intro)}</p>")
    for section in explanation.sections:
        tone = {"error": colours.error, "warning": colours.warning}.get(section.tone, colours.accent)
        out.append(f'<h3 style="color:{tone}; margin-top:14px; margin-bottom:4px">{escape(section.heading)}</h3>')
        facts: list = []
        for line in section.lines:
            if isinstance(line, Fact):
                facts.append(line)
                continue
            if facts:
                out.append(_facts(facts, colours))
                facts = []
            out.append(_line(line, colours, mono))
        if facts:
            out.append(_facts(facts, colours))
        if section.tone == "error" and explanation.fix is not None:
            out.append(f'<p><a href="{FIX_LINK}" style="color:{colours.accent}">Apply the fix: '
                       f'{escape(explanation.fix.label)}</a></p>')
    out.append("</body></html>")
    return "".join(out)


def _tone(tone: str, colours: Colours) -> str:
    return {"muted": colours.muted, "error": colours.error, "warning": colours.warning,
            "good": colours.good}.get(tone, colours.text)


def _line(line, colours: Colours, mono: str) -> str:
    if isinstance(line, Text):
        return f'<p style="color:{_tone(line.tone, colours)}; margin-top:3px; margin-bottom:3px">{escape(line.text)}</p>'
    if isinstance(line, Formula):
        return _formula(line, colours, mono)
    if isinstance(line, Grid):
        return _grid(line, colours, mono)
    return f"<p>{escape(str(line))}</p>"


def _facts(facts, colours: Colours) -> str:
    """Label and value on one wrapping line each: reads well in a narrow dock."""
    rows = []
    for f in facts:
        if f.key.startswith("param_"):   # a setting: its value, then the schema's help
            rows.append(f'<b>{escape(f.label)}</b> <span style="color:{colours.muted}">— {escape(f.value)}</span>')
        else:
            rows.append(f'<span style="color:{colours.muted}">{escape(f.label)}:</span> {escape(f.value)}')
    return f'<p style="margin-top:3px; margin-bottom:3px">{"<br/>".join(rows)}</p>'


def _formula(f: Formula, colours: Colours, mono: str) -> str:
    label = f'<span style="color:{colours.muted}">{escape(f.label)}</span><br/>' if f.label else ""
    parts = [escape(f.symbolic)] if f.symbolic else []
    if f.substituted:
        parts.append(escape(f.substituted))
    result = f" = <b>{escape(f.result_text)}</b>" if f.result is not None else ""
    body = "<br/>= ".join(parts) if f.symbolic and f.substituted else " = ".join(parts)
    return (f'<table width="100%" cellspacing="0" cellpadding="6" style="margin-top:4px; margin-bottom:4px; '
            f'background-color:{colours.panel}"><tr><td>{label}'
            f'<span style="font-family:\'{mono}\'">{body}{result}</span></td></tr></table>')


def _grid(g: Grid, colours: Colours, mono: str) -> str:
    marked = set(g.marked)
    rows = []
    for r, row in enumerate(g.values):
        cells = []
        for c, v in enumerate(row):
            if v is None:
                cells.append(f'<td align="center" style="color:{colours.muted}">pad</td>')
            elif (r, c) in marked:
                cells.append(f'<td align="right" style="background-color:{colours.marked_bg}; '
                             f'color:{colours.marked_text}"><b>{escape(value_text(v))}</b></td>')
            else:
                cells.append(f'<td align="right">{escape(value_text(v))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<p style="color:{colours.muted}; margin-bottom:2px">{escape(g.label)}</p>'
            f'<table border="1" cellspacing="0" cellpadding="5" style="border-color:{colours.border}; '
            f'border-style:solid; font-family:\'{mono}\'; margin-bottom:4px">{"".join(rows)}</table>')
