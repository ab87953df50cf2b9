"""Design / Train / Learn layouts: the canvas keeps its room on a laptop screen, layouts switch from the
toolbar and the keyboard, each remembers how the user left it, Canvas Only hides everything and comes back,
and a design that was opened or laid out shows readably."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication

from designer.canvas.view import READABLE_PIXELS, text_pixels
from designer.workspace import LAYOUTS
from engine.graph_io import load_graph
from engine.teaching.lessons import LESSONS_DIR
from engine.templates import load_template

LAPTOP = (1280, 720)
# The least share of the window the canvas viewport keeps, per layout, at 1280×720.
LEAST_CANVAS_SHARE = {"design": 0.5, "train": 1 / 3, "learn": 1 / 3}


def settle():
    """Let the window lay out its docks (resizes and the layouts' deferred dock sizing are posted events)."""
    for _ in range(3):
        QCoreApplication.processEvents()


def laptop_window(make_window, graph=None):
    window = make_window(graph)
    window.resize(*LAPTOP)
    settle()
    return window


def canvas_share(window) -> float:
    viewport = window.canvas.viewport()
    return viewport.width() * viewport.height() / (window.width() * window.height())


def shown_docks(window) -> set:
    return {d.objectName() for d in window.workspace.docks() if d.isVisible()}


def readable_or_starts_at_input(window) -> bool:
    view = window.canvas
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    inputs = [item for item in window.scene.node_items.values() if item.spec.kind == "Input"]
    return text_pixels(view.zoom()) >= READABLE_PIXELS - 1e-6 and \
        any(visible.contains(item.sceneBoundingRect()) for item in inputs)


@pytest.mark.parametrize("mode", list(LAYOUTS))
def test_canvas_keeps_its_share_of_a_laptop_window_in_every_layout(make_window, mode):
    window = laptop_window(make_window)
    window.workspace.switch_to(mode)
    settle()
    # the docks' minimum sizes must not push the window wider or taller than the screen it is on
    assert (window.width(), window.height()) == LAPTOP
    assert canvas_share(window) >= LEAST_CANVAS_SHARE[mode], (mode, window.canvas.viewport().size())


def test_layouts_switch_from_toolbar_and_keyboard_and_show_their_panels(make_window):
    window = laptop_window(make_window)
    ws = window.workspace
    assert ws.mode == "design" and ws.mode_actions["design"].isChecked()
    assert {"dock_palette", "dock_inspector", "dock_messages"} <= shown_docks(window)
    assert "dock_training_curves" not in shown_docks(window)
    labels = [a.text() for a in ws.toolbar.actions()]
    assert labels == ["Design", "Train", "Learn"]
    assert [ws.mode_actions[m].shortcut().toString() for m in LAYOUTS] == ["Alt+1", "Alt+2", "Alt+3"]

    ws.mode_actions["train"].trigger()
    settle()
    assert ws.mode == "train" and ws.mode_actions["train"].isChecked()
    assert {"dock_training", "dock_training_curves"} <= shown_docks(window)
    assert "dock_palette" not in shown_docks(window)
    ws.mode_actions["learn"].trigger()
    settle()
    assert ws.mode == "learn" and window.lessons_dock.isVisible()
    assert not window.lessons_dock.visibleRegion().isEmpty()   # its tab is the one in front


def test_no_layout_key_is_taken_twice(make_window):
    window = make_window()
    seen: dict = {}
    for action in window.findChildren(type(window.workspace.reset_action)):
        for key in action.shortcuts():
            text = key.toString()
            assert text not in seen or seen[text] is action, f"{text}: {seen.get(text) and seen[text].text()} " \
                                                             f"and {action.text()}"
            seen[text] = action


def test_each_layout_remembers_how_it_was_left_and_can_be_reset(make_window):
    window = laptop_window(make_window)
    ws = window.workspace
    window.messages_dock.hide()           # the user closes Messages in Design
    ws.switch_to("train")
    settle()
    assert window.messages_dock.isVisible()   # Train's own arrangement has it
    ws.switch_to("design")
    settle()
    assert window.messages_dock.isHidden()    # Design as the user left it
    window.close()

    again = laptop_window(make_window)        # the next start: same layout, same arrangement
    assert again.workspace.mode == "design" and again.messages_dock.isHidden()
    again.workspace.reset_action.trigger()
    settle()
    assert again.messages_dock.isVisible()


def test_canvas_only_hides_every_panel_and_brings_them_back(make_window):
    window = laptop_window(make_window)
    before = shown_docks(window)
    share = canvas_share(window)
    action = window.workspace.full_canvas_action
    assert {k.toString() for k in action.shortcuts()} == {"F11", "Ctrl+Shift+F"}
    action.trigger()
    settle()
    assert shown_docks(window) == set() and window.toolbar.isHidden() and window.workspace.toolbar.isHidden()
    assert canvas_share(window) > max(0.8, share)
    action.trigger()
    settle()
    assert shown_docks(window) == before and window.toolbar.isVisible()
    assert not window.workspace.full_canvas


def test_a_layout_switch_leaves_canvas_only(make_window):
    window = laptop_window(make_window)
    window.workspace.full_canvas_action.trigger()
    window.workspace.switch_to("train")
    settle()
    assert not window.workspace.full_canvas and not window.workspace.full_canvas_action.isChecked()
    assert "dock_training_curves" in shown_docks(window)


def test_opening_a_lesson_shows_the_learn_layout_and_the_design_readably(make_window):
    window = laptop_window(make_window)
    assert window.lessons_panel.open_lesson(window.lessons_panel.lessons[0].id)
    settle()
    assert window.workspace.mode == "learn"
    assert readable_or_starts_at_input(window)


def test_a_big_design_opened_on_a_laptop_shows_its_input_readably(make_window, dialog_answers):
    window = laptop_window(make_window)
    dialog_answers.template = load_graph(LESSONS_DIR / "designs" / "deep_plain.json")
    assert window.files.new_design()
    settle()
    assert readable_or_starts_at_input(window)


def test_auto_layout_fits_the_design_again(make_window):
    window = laptop_window(make_window, load_template("lenet5"))
    window.canvas.zoom_by(0.2)               # the user zoomed far out…
    window.canvas.centerOn(5000, 5000)      # …and wandered off
    window.actions_["auto_layout"].trigger()
    settle()
    assert readable_or_starts_at_input(window)


def test_the_fit_follows_the_docks_until_the_user_moves_the_view(make_window):
    window = laptop_window(make_window, load_template("lenet5"))
    window.canvas.show_design()
    window.workspace.switch_to("train")      # a smaller canvas: the design is fitted again
    settle()
    view = window.canvas
    shown = view.zoom(), view.mapToScene(view.viewport().rect().center())
    view.show_design()                       # what a fresh fit of this viewport gives
    assert shown == (pytest.approx(view.zoom()), view.mapToScene(view.viewport().rect().center()))
    assert readable_or_starts_at_input(window)
    window.canvas.zoom_in()                  # the user takes over…
    zoom = window.canvas.zoom()
    window.workspace.switch_to("design")
    settle()
    assert window.canvas.zoom() == pytest.approx(zoom)   # …and the view stays theirs


def test_starting_a_run_from_design_shows_the_train_layout_but_not_from_learn(make_window):
    window = laptop_window(make_window)
    running_changed = window.training.controller.running_changed
    running_changed.emit(True)
    running_changed.emit(False)
    assert window.workspace.mode == "train"
    window.workspace.switch_to("learn")
    running_changed.emit(True)
    running_changed.emit(False)
    assert window.workspace.mode == "learn"   # the lesson's checklist stays on screen


def test_a_tall_window_has_room_for_the_summary_in_design(make_window):
    window = make_window()
    window.resize(1920, 1080)
    settle()
    window.workspace.reset()
    settle()
    assert window.summary_dock.isVisible() and canvas_share(window) >= 0.45   # 1262×~760 px of canvas
    window.resize(*LAPTOP)
    settle()
    window.workspace.reset()
    settle()
    assert window.summary_dock.isHidden()
