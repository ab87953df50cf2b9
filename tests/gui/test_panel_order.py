"""Panels install in a fixed order whatever was imported first: the teaching panels need the dashboard."""
import importlib
import sys


def test_teaching_panels_connect_to_the_dashboard_even_when_imported_before_it(make_window, monkeypatch):
    from designer import panels

    # the state a test module (or plug-in) that imports designer.teaching first leaves behind
    monkeypatch.setattr(panels, "PANEL_INSTALLERS", [])
    for name in [m for m in sys.modules if m == "designer.teaching" or m == "designer.training"
                 or m == "designer.interchange"]:
        monkeypatch.delitem(sys.modules, name)
    importlib.import_module("designer.teaching")
    importlib.import_module("designer.training")
    assert [i.__module__ for i in panels.PANEL_INSTALLERS][0].startswith("designer.teaching")

    window = make_window()
    dash = window.training
    # tracker and explain panel each listen to run_finished, beside the dashboard's own listeners
    assert window.lessons_panel.tracker.dashboard is dash
    assert window.explain_panel._connected_training is dash
