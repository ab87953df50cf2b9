"""The Lessons dock driven like a student would: Learn menu, canvas, answer boxes, a real training run."""
from __future__ import annotations

from PySide6.QtCore import Qt, QUrl

from engine.data import load_dataset
from engine.graph_io import load_graph
from engine.teaching.lessons import LESSONS_DIR
from engine.templates import load_template


def learn_action(window, name):
    return next(a for a in window.menu("Learn").actions() if a.objectName() == name)


def row(window, step_id):
    return next(r for r in window.lessons_panel.page.rows if r.step.id == step_id)


def settle(qtbot):
    qtbot.wait(20)   # the tracker coalesces signals with a zero-length timer


def test_lesson_1_opens_from_the_learn_menu_with_its_design_and_settings(qtbot, window):
    window.document.set_graph(load_template("small_resnet"), "")
    learn_action(window, "action_lesson_1").trigger()
    settle(qtbot)
    assert window.document.graph == load_template("lenet5")
    assert "conv2d_1" in window.scene.node_items and window.document.file_path == ""
    panel, dash = window.lessons_panel, window.training
    assert panel.lesson.number == 1 and panel.stack.currentIndex() == 1 and window.lessons_dock.isVisible()
    assert dash.data.key == "generated_digits" and dash.data.size.value() == 10000
    assert dash.form.epochs.value() == 5
    assert not row(window, "select_conv").tick.done
    assert row(window, "select_conv").objectName() == "lesson_step_current"
    window.select_node("conv2d_1")
    settle(qtbot)
    assert row(window, "select_conv").tick.done and "✔" in row(window, "select_conv").tick.text()
    assert row(window, "predict_pool").objectName() == "lesson_step_current"
    assert panel.page.progress.value() == 1
    assert "Lesson step 1 done" in window.statusBar().currentMessage()


def test_ticks_cannot_be_clicked_by_hand(qtbot, window):
    learn_action(window, "action_lesson_1").trigger()
    settle(qtbot)
    tick = row(window, "train").tick
    qtbot.mouseClick(tick, Qt.MouseButton.LeftButton)
    qtbot.mouseDClick(tick, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert "train" not in window.lessons_panel.progress.done and not tick.done and "○" in tick.text()
    window.lessons_panel.evaluate()
    assert not tick.done


def test_lesson_2_prediction_typed_in_the_answer_box(qtbot, window):
    learn_action(window, "action_lesson_2").trigger()
    settle(qtbot)
    assert window.document.graph == load_graph(LESSONS_DIR / "designs" / "stride_padding_pooling.json")
    step = row(window, "predict_conv")
    qtbot.keyClicks(step.answer, "8×28×28")
    qtbot.keyClick(step.answer, Qt.Key.Key_Return)
    settle(qtbot)
    assert not step.tick.done
    assert step.feedback.isVisible() and "⌊(W − K + 2P) / S⌋ + 1" in step.feedback.text()
    step.answer.clear()
    qtbot.keyClicks(step.answer, "8 x 26 x 26")
    qtbot.mouseClick(step.check_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert step.tick.done and step.answer.isReadOnly() and not step.feedback.isVisible()
    # an Inspector edit on the canvas's document ticks the padding step
    assert window.document.set_params("conv2d_1", {"padding": [1, 1]}) == ""
    settle(qtbot)
    assert row(window, "padding").tick.done


def test_unsaved_work_is_not_lost_when_a_lesson_opens(qtbot, window, dialog_answers, monkeypatch, tmp_path):
    from designer import dialogs

    asked = []
    monkeypatch.setattr(dialogs, "ask_unsaved_changes",
                        lambda parent, name: asked.append(name) or dialog_answers.unsaved_answer)
    window.document.add_node("Dropout", (900.0, 900.0))
    mine = window.document.graph
    dialog_answers.unsaved_answer = "cancel"
    learn_action(window, "action_lesson_2").trigger()
    settle(qtbot)
    assert asked and window.document.graph == mine and window.document.modified
    assert window.lessons_panel.lesson is None
    dialog_answers.unsaved_answer = "save"
    dialog_answers.save_path = str(tmp_path / "mine.json")
    learn_action(window, "action_lesson_2").trigger()
    settle(qtbot)
    assert load_graph(tmp_path / "mine.json") == mine          # saved before it was replaced
    assert window.lessons_panel.lesson.number == 2 and not window.document.modified
    assert window.document.file_path == ""                     # the lesson design is not tied to mine.json


def test_lessons_list_opens_a_lesson_and_progress_is_remembered(qtbot, make_window):
    window = make_window()
    learn_action(window, "action_lessons").trigger()
    panel = window.lessons_panel
    browser = panel.list_page.browser
    assert panel.stack.currentIndex() == 0 and browser.isVisible()
    assert "2. Stride, padding and pooling  ·  not started" in browser.toPlainText().replace("\xa0", " ")
    assert 'href="lesson:02-stride-padding-pooling"' in browser.toHtml()
    browser.anchorClicked.emit(QUrl("lesson:02-stride-padding-pooling"))   # what a click on the link sends
    settle(qtbot)
    assert panel.lesson.number == 2
    window.select_node("conv2d_1")
    settle(qtbot)
    assert panel.progress.done == {"select_conv"}
    window.document.undo_stack.setClean()
    again = make_window()   # a new session: same settings folder
    settle(qtbot)
    assert again.lessons_panel.lesson.number == 2 and again.lessons_panel.progress.done == {"select_conv"}
    assert row(again, "select_conv").tick.done
    assert learn_action(again, "action_lesson_2").text() == "2. Stride, padding and pooling"
    again.lessons_panel.show_list()
    assert "2. Stride, padding and pooling  ·  1 of 7 steps" in \
        again.lessons_panel.list_page.browser.toPlainText().replace("\xa0", " ")


def test_broken_lesson_files_are_listed_not_fatal(qtbot, window):
    from designer.teaching.lessons_panel import LessonsPanel

    panel = LessonsPanel(window, [], ["lesson 09-x.json is not valid JSON: Expecting value"])
    panel.show_list()
    assert "could not be read" in panel.list_page.browser.toPlainText()
    assert "09-x.json is not valid JSON" in panel.list_page.browser.toPlainText()


def test_a_real_short_training_run_ticks_the_trained_step(qtbot, window):
    learn_action(window, "action_lesson_1").trigger()
    settle(qtbot)
    dash, panel = window.training, window.lessons_panel
    digits = load_dataset("generated_digits", size=400, seed=1)
    dash.data.set_dataset(digits)           # a small set keeps the run short; its size field follows
    dash.form.epochs.setValue(3)
    dash.form.device.setCurrentText("cpu")
    assert dash.data.size.value() == 400
    with qtbot.waitSignal(dash.run_finished, timeout=60000):
        assert dash.start()
    settle(qtbot)
    assert "train" in panel.progress.done and row(window, "train").tick.done
    assert panel.progress.run_ids == (dash.record.id,)
    # the curves dock came to the front when the run started, so reading the curves ticked too
    assert "curves" in panel.progress.done
    assert not {"results", "compare"} & panel.progress.done


def test_the_lessons_data_set_loads_even_when_another_load_is_running(qtbot, window, monkeypatch):
    from designer.training import data_panel
    from designer.training.dashboard import TrainingDashboard

    monkeypatch.setattr(TrainingDashboard, "preload_on_show", True)   # as in the app: lessons load their data
    loads = []
    real_load = data_panel.load_dataset
    monkeypatch.setattr(data_panel, "load_dataset",
                        lambda key, size=None, **kw: loads.append((key, size)) or real_load(key, size=size, **kw))
    dash = window.training
    dash.data.select("uci_digits")
    dash.data.load()                                   # busy when the lesson asks for its own set
    assert dash.data.loading
    learn_action(window, "action_lesson_4").trigger()
    qtbot.waitUntil(lambda: not dash.data.loading and dash.data.dataset is not None
                    and dash.data.dataset.key == "generated_digits", timeout=30000)
    d = dash.data.dataset
    assert len(d.train) + len(d.val) + len(d.test) == 600
    assert loads == [("uci_digits", None), ("generated_digits", 600)]
