"""Lesson 1, step 6 ("change the learning rate, train again, tick both runs in the Runs tab") replayed as it
went wrong: older runs of another design ticked, two lesson runs trained without opening the Runs tab. The
step waits until both runs of the lesson are ticked in the Runs tab on screen."""
import pytest

from engine.data import load_dataset
from test_design_replaced import show_tab, tick, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=200, seed=4)


def settle(qtbot):
    qtbot.wait(20)   # the tracker coalesces signals with a zero-length timer


def test_compare_step_waits_for_both_lesson_runs_ticked_in_the_runs_tab(qtbot, window, digits):
    dash, panel = window.training, window.lessons_panel
    older = [train(qtbot, window, digits, lr=0.001).id, train(qtbot, window, digits, lr=0.01).id]
    show_tab(window, dash.runs)
    tick(dash.runs, set(older))
    assert set(dash.runs.checked_ids()) == set(older)

    next(a for a in window.menu("Learn").actions() if a.objectName() == "action_lesson_1").trigger()
    settle(qtbot)
    assert panel.lesson.number == 1 and dash.runs.checked_ids() == []   # replacing the design unticked them
    # the worst case: the older runs ticked again, in the Runs tab, during the lesson
    dash.runs.show_all.setChecked(True)
    tick(dash.runs, set(older))
    settle(qtbot)
    assert set(dash.runs.checked_ids()) == set(older) and "compare" not in panel.progress.done

    show_tab(window, dash.feature_maps)   # the Runs tab is not looked at from here on
    lesson_runs = [train(qtbot, window, digits, lr=0.001).id]
    settle(qtbot)
    lesson_runs.append(train(qtbot, window, digits, lr=0.01).id)
    settle(qtbot)
    assert panel.progress.run_ids == tuple(lesson_runs)
    assert "compare" not in panel.progress.done and not next(
        r for r in panel.page.rows if r.step.id == "compare").tick.done

    show_tab(window, dash.runs)            # looking at the tab with the older runs still ticked
    settle(qtbot)
    assert "compare" not in panel.progress.done
    tick(dash.runs, {lesson_runs[0]})      # one lesson run
    settle(qtbot)
    assert "compare" not in panel.progress.done
    tick(dash.runs, {lesson_runs[1]})      # both
    settle(qtbot)
    assert "compare" in panel.progress.done
    assert next(r for r in panel.page.rows if r.step.id == "compare").tick.done


def test_lesson_runs_ticked_while_the_runs_tab_is_hidden_count_once_it_is_seen(qtbot, window, digits):
    dash, panel = window.training, window.lessons_panel
    next(a for a in window.menu("Learn").actions() if a.objectName() == "action_lesson_1").trigger()
    settle(qtbot)
    show_tab(window, dash.feature_maps)
    runs = [train(qtbot, window, digits, lr=0.001).id, train(qtbot, window, digits, lr=0.01).id]
    dash.runs.set_checked(runs)            # e.g. ticked by the app, with nobody looking
    settle(qtbot)
    assert "compare" not in panel.progress.done
    show_tab(window, dash.runs)
    settle(qtbot)
    assert "compare" in panel.progress.done
