"""Controls stay visible in both themes: an unticked check box must show its edge against the panel."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QStyle, QStyleOptionButton

from designer import theme


def _edge_contrast(box: QCheckBox) -> float:
    """The largest brightness difference between the unticked box's drawn square and the panel around it."""
    option = QStyleOptionButton()
    box.initStyleOption(option)
    rect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    image = box.grab().toImage()
    ratio = image.devicePixelRatio()
    background = image.pixelColor(int((rect.right() + 3) * ratio), int(rect.center().y() * ratio)).lightness()
    values = [image.pixelColor(int(x * ratio), int(y * ratio)).lightness()
              for x in range(rect.left(), rect.right() + 1) for y in range(rect.top(), rect.bottom() + 1)]
    return max(abs(v - background) for v in values)


@pytest.mark.parametrize("name", theme.THEMES)
def test_an_unticked_check_box_is_visible(qtbot, name):
    previous = theme.current_theme()
    theme.apply_theme(name)
    try:
        box = QCheckBox("Show runs of other designs")
        qtbot.addWidget(box)
        box.show()
        qtbot.waitExposed(box)
        assert _edge_contrast(box) >= 40, name   # light: 52; dark was 11 (invisible) before its own edge
    finally:
        theme.apply_theme(previous)
