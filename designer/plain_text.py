"""Text from files or the user, shown as typed: never interpreted as rich text.

Qt renders a tooltip, a QLabel (AutoText) or a message box as HTML whenever the text "might be rich text"
(it starts with something like a tag), so a run named `<img src='…' width=4000>` would draw a local image.
Tooltips cannot be told their format, so a text that Qt would take for HTML is handed over as HTML that
spells it out (Qt.convertFromPlainText escapes it and keeps the line breaks); labels are set to PlainText.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGui   # mightBeRichText and convertFromPlainText live in QtGui's Qt
from PySide6.QtWidgets import QLabel


def plain_tooltip(text: str) -> str:
    """`text` for setToolTip/QToolTip.showText, shown literally whatever it contains."""
    text = str(text)
    return QtGui.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpacePre) if QtGui.mightBeRichText(text) else text


def plain_label(label: QLabel) -> QLabel:
    """Make `label` show its text literally from now on (for labels that show names, notes, messages)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
