"""A typo of 1,000,000 outputs typed into the inspector: the layer turns red with the reason, nothing is built,
training refuses with the same message, and Edit → Memory limit… changes the limit for every window."""
from __future__ import annotations

from dataclasses import replace

import pytest

import designer.memory_limit_setting as setting
from engine import memory_limit
from engine.memory_limit import GB
from engine.templates import load_template


@pytest.fixture(autouse=True)
def default_limit():
    before, source = memory_limit.current_limit(), memory_limit.limit_source()
    memory_limit.set_limit(4 * GB, "default")
    yield
    memory_limit.set_limit(before, source)


def type_into(qtbot, box, text):
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)


def test_typo_shows_an_error_and_training_refuses(qtbot, make_window, monkeypatch):
    window = make_window(load_template("alexnet"))
    window.select_node("linear_1")  # (the feature-map view builds the network as it is: 0.2 GB)
    built = []
    monkeypatch.setattr("engine.compiler.check_memory", lambda graph, analysis: built.append(graph))
    type_into(qtbot, window.inspector.editors["out_features"].box, "1000000")
    assert window.document.graph.node("linear_1").params["out_features"] == 1_000_000
    item = window.scene.node_items["linear_1"]
    assert item.issue is not None and item.issue.severity == "error"
    assert "34.3 GB for its weights" in item.issue.message and "Reduce its outputs (now 1,000,000)" in item.issue.message
    assert "34.3 GB" in item.toolTip()
    assert "1 error" in window.totals.errors.text()
    assert any("34.3 GB" in label.text() for label in window.inspector.findChildren(type(window.totals.errors)))
    # Training refuses with the message, before loading data or building anything.
    assert not window.training.start()
    message = window.training.controls.message.text()
    assert "linear_1: would need 34.3 GB" in message and "Edit → Memory limit" in message
    assert not window.training.controller.running and built == []  # nothing was built for the typo
    # Undo brings the network back within the limit.
    window.document.undo_stack.undo()
    assert window.scene.node_items["linear_1"].issue is None


def test_memory_limit_menu_changes_the_limit_for_every_window(qtbot, make_window, monkeypatch):
    alexnet = load_template("alexnet")
    typo = replace(alexnet, nodes=tuple(replace(n, params={**n.params, "out_features": 1_000_000})
                                        if n.id == "linear_1" else n for n in alexnet.nodes))
    first, second = make_window(typo), make_window(typo)
    assert not first.document.analysis.ok and not second.document.analysis.ok
    asked = []
    monkeypatch.setattr(setting, "ask_limit_gb", lambda window, current, text: asked.append((current, text)) or 64.0)
    first.memory_limit_action.trigger()
    assert asked and asked[0][0] == pytest.approx(4.0) and "0 = no limit" in asked[0][1]
    assert memory_limit.current_limit() == 64 * GB
    assert first.document.analysis.ok and second.document.analysis.ok          # both re-checked
    assert first.scene.node_items["linear_1"].issue is None
    assert first.settings().value(setting.SETTINGS_KEY) == "64GB"
    # A later start applies the saved choice; cancelling the dialog changes nothing.
    memory_limit.set_limit(4 * GB, "default")
    third = make_window(typo)
    assert memory_limit.current_limit() == 64 * GB and third.document.analysis.ok
    monkeypatch.setattr(setting, "ask_limit_gb", lambda window, current, text: None)
    assert not setting.change_limit(third)
    assert memory_limit.current_limit() == 64 * GB


def test_environment_variable_wins_over_the_saved_choice(make_window, monkeypatch):
    window = make_window()
    window.settings().setValue(setting.SETTINGS_KEY, "1GB")
    memory_limit.set_limit(8 * GB, "environment")
    setting.apply_saved_limit(window.settings())
    assert memory_limit.current_limit() == 8 * GB
    memory_limit.set_limit(4 * GB, "default")
    window.settings().setValue(setting.SETTINGS_KEY, "garbage")
    setting.apply_saved_limit(window.settings())
    assert memory_limit.current_limit() == 4 * GB and window.settings().value(setting.SETTINGS_KEY) is None
