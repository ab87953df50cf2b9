"""Panels squeezed into a laptop's dock keep their controls usable."""
from __future__ import annotations

from designer.training.feature_maps import FeatureMapsView


def test_the_epoch_slider_keeps_a_draggable_width_in_a_narrow_dock(qtbot):
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.resize(420, 300)    # the feature-map tab of a bottom dock shared with the curves at ~1500 px
    view.show()
    qtbot.waitExposed(view)
    assert view.timelapse.width() >= 120 > 3 * view.timelapse.style().pixelMetric(
        view.timelapse.style().PixelMetric.PM_SliderLength)
