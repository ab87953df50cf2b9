"""The Training settings panel reads top to bottom: the settings first, the sample images last (a tall grid
in the middle pushed Epochs out of sight in a side dock)."""
from __future__ import annotations

from PySide6.QtCore import QPoint


def _top(widget, ancestor) -> int:
    return widget.mapTo(ancestor, QPoint(0, 0)).y()


def test_every_setting_comes_before_the_sample_images(window):
    dash = window.training
    content = dash.settings_panel.widget()
    samples = _top(dash.data.samples, content)
    for setting in (dash.data.choice, dash.form.epochs, dash.form.lr, dash.form.batch_size):
        assert _top(setting, content) < samples, setting
    assert dash.data.samples.isVisibleTo(content)
