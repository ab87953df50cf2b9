"""The window composes its panels explicitly: each gets the document, the DesignState and the panels it uses
as arguments, so no panel looks another up through the window, and nothing registers itself on import (so
the import order cannot matter)."""
import re
from pathlib import Path

PANEL_PACKAGES = ("training", "teaching", "interchange")


def test_every_panel_gets_the_same_dashboard_and_state(make_window):
    window = make_window()
    dash, state = window.training, window.state
    assert dash.state is state and dash.store is state.store
    assert window.lessons_panel.tracker.dashboard is dash and window.lessons_panel.state is state
    assert window.lessons_panel.tracker.panels == {"explain": window.explain_panel, "playground": window.playground}
    assert window.explain_panel.training is dash
    assert window.playground.image.training is dash
    assert window.interchange.state is state and window.interchange.dashboard is dash
    assert window.files.state is state and ".cnnd" in window.files.loaders and ".cnnd" in window.files.savers


def test_no_panel_finds_another_through_the_window():
    root = Path(__file__).resolve().parents[2] / "designer"
    lookups = re.compile(r"getattr\(\s*(self\.)?window\s*,|window\.(training|lessons_panel|explain_panel|playground"
                         r"|interchange)\b")
    found = [f"{path.relative_to(root)}:{n}: {line.strip()}"
             for package in PANEL_PACKAGES for path in sorted((root / package).glob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if lookups.search(line)]
    assert found == []
