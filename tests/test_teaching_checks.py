"""The checklist checks one by one, the validation of lesson files, the markup and the stored progress."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.teaching.checks import CheckArgError, evaluate_condition, validate_condition
from engine.teaching.lesson_markup import inline_html, paragraph_html, plain_text
from engine.teaching.lesson_progress import LessonProgress
from engine.teaching.lesson_state import LessonState, RunSummary, View
from engine.teaching.lessons import LESSONS_DIR, LessonError, load_lesson, load_lessons
from engine.templates import load_template
from engine.training.config import Augmentation, TrainConfig

LENET = load_template("lenet5")


def met(condition: dict, state: LessonState, answer: str = "") -> bool:
    return evaluate_condition(validate_condition(condition, LENET), state, answer).met


def hint(condition: dict, state: LessonState, answer: str = "") -> str:
    return evaluate_condition(validate_condition(condition, LENET), state, answer).hint


def run(graph=LENET, dataset="generated_digits", epochs=3, test=0.9, warm="", **config) -> RunSummary:
    return RunSummary(f"r{abs(hash((dataset, epochs, warm, str(config)))) % 10**8}", graph, TrainConfig(**config),
                      dataset, test, (0.9,) * epochs, (0.8,) * epochs, warm)


# ---- design checks -------------------------------------------------------------------------------------
def test_kind_counts_and_params():
    state = LessonState(LENET)
    assert met({"check": "node_of_kind_present", "kind": "Conv2d", "min_count": 2}, state)
    assert not met({"check": "node_of_kind_present", "kind": "Conv2d", "min_count": 3}, state)
    assert "has 2 Conv2d layers" in hint({"check": "node_of_kind_present", "kind": "Conv2d", "min_count": 3}, state)
    assert met({"check": "no_node_of_kind", "kind": "Dropout"}, state)
    assert not met({"check": "no_node_of_kind", "kind": "Linear"}, state)
    five = {"check": "kind_with_params", "kind": "Conv2d", "params": {"kernel_size": 5, "out_channels": 16}}
    assert met(five, state)     # 5 is normalised to (5, 5) before comparing
    assert not met({**five, "params": {"kernel_size": 3}}, state)
    assert met({"check": "param_equals", "node": "conv2d_1", "param": "padding", "value": [2, 2]}, state)
    assert not met({"check": "param_equals", "node": "conv2d_1", "param": "padding", "value": 1}, state)
    gone = LessonState(LENET.without_node("conv2d_1"))
    assert "no longer in the design" in hint({"check": "param_equals", "node": "conv2d_1", "param": "padding",
                                              "value": 1}, gone)


def test_errors_parameters_and_order():
    broken = LessonState(LENET.without_node("flatten_1"))
    assert not met({"check": "graph_has_no_errors"}, broken)
    assert hint({"check": "graph_has_no_errors"}, broken).startswith("First problem:")
    assert not met({"check": "param_count_below", "limit": 10**9}, broken)
    ok = LessonState(LENET)
    assert met({"check": "param_count_below", "limit": 61_707}, ok)       # LeNet-5 here has 61,706
    assert "61,706 parameters" in hint({"check": "param_count_below", "limit": 61_706}, ok)
    assert met({"check": "contains_kind_after", "kind": "Linear", "after": "Conv2d"}, ok)
    assert not met({"check": "contains_kind_after", "kind": "Conv2d", "after": "Linear"}, ok)


def test_contains_kind_after_follows_branches():
    g = GraphSpec()
    nodes = [make_node(g, "Input", {}, node_id="input_1"), make_node(g, "Conv2d", {}, node_id="conv2d_1"),
             make_node(g, "ReLU", {}, node_id="relu_1"), make_node(g, "Add", {}, node_id="add_1")]
    for n in nodes:
        g = g.with_node(n)
    for e in (("input_1", "conv2d_1", 0), ("conv2d_1", "relu_1", 0), ("relu_1", "add_1", 0), ("input_1", "add_1", 1)):
        g = g.with_edge(EdgeSpec(*e))
    assert met({"check": "contains_kind_after", "kind": "Add", "after": "Conv2d"}, LessonState(g))
    assert not met({"check": "contains_kind_after", "kind": "Conv2d", "after": "Add"}, LessonState(g))


def test_selection_data_set_and_views():
    state = LessonState(LENET, selected="relu_1", dataset_key="uci_digits",
                        viewed=frozenset({View("filters", True, "Conv2d"), View("explain", False, "ReLU")}))
    assert met({"check": "selected", "kind": "ReLU"}, state)
    assert not met({"check": "selected", "node": "conv2d_1"}, state)
    assert met({"check": "dataset_selected", "dataset": "uci_digits"}, state)
    assert not met({"check": "dataset_selected", "dataset": "generated_digits"}, state)
    assert met({"check": "viewed", "panel": "filters"}, state)
    assert met({"check": "viewed", "panel": "filters", "trained": True, "node_kind": "Conv2d"}, state)
    assert not met({"check": "viewed", "panel": "filters", "trained": False}, state)
    assert not met({"check": "viewed", "panel": "explain", "node_kind": "Conv2d"}, state)
    assert not met({"check": "viewed", "panel": "curves"}, state)


# ---- predictions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["6×14×14", "6x14x14", "(6, 14, 14)", "[6,14,14]", " 6 14 14 "])
def test_predicted_shape_accepts_usual_spellings(text):
    assert met({"check": "predicted_shape", "node": "maxpool2d_1"}, LessonState(LENET), text)


def test_predicted_shape_hints():
    cond, state = {"check": "predicted_shape", "node": "maxpool2d_1"}, LessonState(LENET)
    assert hint(cond, state, "") == "" and not met(cond, state, "")
    assert "channels first" in hint(cond, state, "14×14×6")
    assert "numbers" in hint(cond, state, "six")
    assert "3 numbers" in hint(cond, state, "6×14")
    assert "⌊(W − K + 2P) / S⌋ + 1" in hint(cond, state, "6×28×28")
    # the student hears which part of the shape (6×14×14) is wrong, never the right values
    assert hint(cond, state, "6×28×28").startswith("Channels right, height and width not yet.")
    assert hint(cond, state, "16×14×14").startswith("Height and width right, channels not yet.")
    assert hint(cond, state, "16×28×14").startswith("Width right, channels and height not yet.")
    assert hint(cond, state, "3×7×7").startswith("Not quite: channels, height and width are not right yet.")
    assert "14" not in hint(cond, state, "6×28×28")


def test_receptive_field_and_parameter_predictions():
    state = LessonState(LENET)
    rf = {"check": "predicted_receptive_field", "node": "conv2d_1"}
    assert met(rf, state, "5") and met(rf, state, "5×5") and not met(rf, state, "3×3")
    params = {"check": "predicted_params", "node": "conv2d_1"}
    assert met(params, state, "156") and not met(params, state, "150")
    assert "(K·K·C_in + 1)·C_out" in hint(params, state, "150")
    linear = {"check": "predicted_params", "node": "linear_1"}
    assert met(linear, state, "48 120") and met(linear, state, "48,120")
    assert "(inputs + 1) × outputs" in hint(linear, state, "48000")
    assert "whole number" in hint(linear, state, "lots")


# ---- runs and settings -----------------------------------------------------------------------------------
def test_trained_filters_and_their_hints():
    dropout_graph = LENET.insert_on_edge(LENET.in_edges("linear_1")[0], make_node(LENET, "Dropout"))
    runs = (run(), run(dataset="uci_digits", epochs=1, test=0.5, warm="abc",
                       freeze=("conv2d_1", "conv2d_2")),
            run(graph=dropout_graph, augmentation=Augmentation(rotation=10.0)))
    state = LessonState(LENET, runs=runs)
    yes = [{}, {"dataset": "uci_digits"}, {"min_epochs": 3}, {"min_test_accuracy": 0.9},
           {"design_has": "Conv2d", "design_has_count": 2}, {"design_lacks": "Dropout"}, {"dropout": True},
           {"augmentation": True}, {"warm_start": True}, {"frozen_kind": "Conv2d"},
           {"dataset": "uci_digits", "warm_start": True, "frozen_kind": "Conv2d"}]
    no = [{"dataset": "generated_shapes"}, {"min_epochs": 4}, {"min_test_accuracy": 0.95},
          {"design_has": "Conv2d", "design_has_count": 3}, {"design_lacks": "Conv2d"},
          {"dataset": "uci_digits", "min_epochs": 2}, {"dropout": True, "augmentation": False}]
    for f in yes:
        assert met({"check": "trained", **f}, state), f
    for f in no:
        assert not met({"check": "trained", **f}, state), f
    assert "needs Generated shapes" in hint({"check": "trained", "dataset": "generated_shapes"}, state)
    assert not met({"check": "trained"}, LessonState(LENET))
    assert hint({"check": "trained"}, LessonState(LENET)) == ""


def test_runs_compared_needs_the_same_data_set_and_a_difference():
    a, b = run(), run(lr=0.01)
    other_data = run(dataset="uci_digits", lr=0.01)
    other_design = run(graph=LENET.with_params("conv2d_1", {"out_channels": 8}))
    moved = run(graph=LENET.with_node(replace(LENET.node("conv2d_1"), pos=(500.0, 500.0))))
    cpu = run(device="cpu")
    cond = {"check": "runs_compared"}
    assert met(cond, LessonState(LENET, runs=(a, b)))
    assert not met(cond, LessonState(LENET, runs=(a, other_data)))
    assert not met(cond, LessonState(LENET, runs=(a, a)))
    assert "same designs or settings" in hint(cond, LessonState(LENET, runs=(a, a)))
    assert not met(cond, LessonState(LENET, runs=(a, moved)))      # moving a box is not a new design
    assert not met(cond, LessonState(LENET, runs=(a, cpu)))        # nor is another device
    assert met({**cond, "differ": "design"}, LessonState(LENET, runs=(a, other_design)))
    assert not met({**cond, "differ": "design"}, LessonState(LENET, runs=(a, b)))
    assert met({**cond, "differ": "config"}, LessonState(LENET, runs=(a, b)))
    assert met({**cond, "dataset": "uci_digits"}, LessonState(LENET, runs=(a, other_data, run(dataset="uci_digits"))))
    assert met({**cond, "differ": "config"}, LessonState(LENET, runs=(a, run(warm="abc"))))


def test_settings_checks():
    plain = LessonState(LENET, config=TrainConfig())
    assert not met({"check": "augmentation_enabled"}, plain)
    assert met({"check": "augmentation_enabled"}, LessonState(LENET, config=TrainConfig(
        augmentation=Augmentation(affine_scale=0.1))))
    flipped = run(augmentation=Augmentation(hflip=True))
    assert met({"check": "augmentation_enabled"}, LessonState(LENET, runs=(flipped,)))
    assert not met({"check": "frozen_layers"}, plain)
    assert met({"check": "frozen_layers"}, LessonState(LENET, config=TrainConfig(freeze=("conv2d_2", "conv2d_1"))))
    assert met({"check": "frozen_layers", "kind": "Linear"},
               LessonState(LENET, runs=(run(freeze=("linear_1", "linear_2", "linear_3")),)))
    no_convs = LessonState(LENET.without_node("conv2d_1").without_node("conv2d_2"), config=TrainConfig(freeze=("x_1",)))
    assert not met({"check": "frozen_layers"}, no_convs)           # nothing to freeze is not "all frozen"
    assert not met({"check": "weights_loaded"}, plain)
    assert met({"check": "weights_loaded"}, LessonState(LENET, warm_start_pending=True))
    assert met({"check": "weights_loaded"}, LessonState(LENET, runs=(run(warm="abc"),)))


def test_a_check_that_fails_inside_is_unmet_with_the_reason():
    from engine.teaching import checks

    def broken(state):
        raise RuntimeError("boom")

    checks.CHECKS["broken_for_test"] = checks.CheckDef("broken_for_test", broken)
    try:
        result = evaluate_condition({"check": "broken_for_test"}, LessonState(LENET))
    finally:
        del checks.CHECKS["broken_for_test"]
    assert not result.met and "boom" in result.hint


def test_all_reports_the_first_unmet_hint():
    cond = {"all": [{"check": "graph_has_no_errors"}, {"check": "node_of_kind_present", "kind": "Add"}]}
    assert not met(cond, LessonState(LENET))
    assert "has 0 Add layers" in hint(cond, LessonState(LENET))


# ---- validating conditions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("condition, message", [
    ("trained", "must be an object"),
    ({"check": "teleport"}, "unknown check 'teleport'"),
    ({"check": "trained", "epochs": 3}, "has no argument(s) epochs"),
    ({"check": "node_of_kind_present"}, "needs the argument 'kind'"),
    ({"check": "node_of_kind_present", "kind": "Conv3d"}, "must be a layer kind"),
    ({"check": "node_of_kind_present", "kind": "Conv2d", "min_count": -1}, "whole number"),
    ({"check": "node_of_kind_present", "kind": "Conv2d", "min_count": True}, "whole number"),
    ({"check": "predicted_shape", "node": "conv2d_9"}, "id of a node in the lesson's design"),
    ({"check": "trained", "dataset": "imagenet"}, "must be a data set key"),
    ({"check": "trained", "min_test_accuracy": 95}, "between 0 and 1"),
    ({"check": "trained", "dropout": "yes"}, "true or false"),
    ({"check": "viewed", "panel": "everything"}, "must be a panel name"),
    ({"check": "param_equals", "node": "conv2d_1", "param": "size", "value": 1}, "Conv2d has no parameter(s) size"),
    ({"check": "param_equals", "node": "conv2d_1", "param": "padding", "value": "lots"}, "padding"),
    ({"check": "kind_with_params", "kind": "Conv2d", "params": {}}, "object of layer parameters"),
    ({"check": "kind_with_params", "kind": "Conv2d", "params": {"kernel": 1}}, "no parameter(s) kernel"),
    ({"check": "selected"}, "needs a node or a kind"),
    ({"check": "runs_compared", "differ": "colour"}, "\"design\", \"config\" or \"any\""),
    ({"all": []}, "non-empty list"),
    ({"all": [{"check": "trained"}], "check": "trained"}, "only key"),
    ({"all": [{"check": "trained"}, {"check": "nope"}]}, "part 2: unknown check"),
])
def test_bad_conditions_are_refused_with_a_clear_message(condition, message):
    with pytest.raises(CheckArgError) as info:
        validate_condition(condition, LENET, "step 1")
    assert message in str(info.value) and "step 1" in str(info.value)


# ---- lesson files -----------------------------------------------------------------------------------------------
def _good() -> dict:
    return json.loads((LESSONS_DIR / "01-first-cnn.json").read_text(encoding="utf-8"))


def _write(folder, data, name="01-test.json"):
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def lesson_dir(tmp_path):
    shutil.copytree(LESSONS_DIR / "designs", tmp_path / "designs")
    broken = json.loads((tmp_path / "designs" / "overfit_big.json").read_text(encoding="utf-8"))
    broken["edges"] = broken["edges"][:-1]   # the Output loses its input
    (tmp_path / "designs" / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    (tmp_path / "outside.json").write_text((tmp_path / "designs" / "overfit_big.json").read_text())
    return tmp_path


def _steps(n):
    return [{"id": f"s{i}", "text": "Select it.", "done_when": {"check": "selected", "node": "conv2d_1"}}
            for i in range(n)]


@pytest.mark.parametrize("change, message", [
    (lambda d: "{not json", "is not valid JSON"),
    (lambda d: [1, 2], "must be a JSON object"),
    (lambda d: {**d, "format": "cnn-designer-graph"}, "\"format\" must be \"cnn-designer-lesson\""),
    (lambda d: {**d, "version": 2}, "newer CNN Designer"),
    (lambda d: {**d, "version": "1"}, "\"version\" must be a whole number"),
    (lambda d: {**d, "colour": "red"}, "unknown field(s) colour"),
    (lambda d: {**d, "title": ""}, "\"title\" must be a non-empty text"),
    (lambda d: {**d, "introduction": "one paragraph"}, "\"introduction\" must be a list of paragraphs"),
    (lambda d: {**d, "design": {"template": "lenet6"}}, "no template 'lenet6'"),
    (lambda d: {**d, "design": {"template": "lenet5", "file": "designs/overfit_big.json"}}, "\"design\" must be"),
    (lambda d: {**d, "design": {"file": "../outside.json", "title": "x"}}, "must name an existing .json file"),
    (lambda d: {**d, "design": {"file": "designs/missing.json", "title": "x"}}, "must name an existing .json file"),
    (lambda d: {**d, "design": {"file": "designs/broken.json", "title": "x"}}, "has errors"),
    (lambda d: {**d, "more_designs": [{"file": "designs/overfit_big.json"}]}, "needs a \"title\""),
    (lambda d: {**d, "dataset": {"key": "imagenet"}}, "\"dataset\" must be"),
    (lambda d: {**d, "dataset": {"key": "uci_digits", "size": 500}}, "has a fixed size"),
    (lambda d: {**d, "dataset": {"key": "generated_digits", "size": 50}}, "at least 100"),
    (lambda d: {**d, "training": {"epochs": 0}}, "\"training\": epochs must be at least 1"),
    (lambda d: {**d, "training": {"freeze": ["conv2d_1"]}}, "cannot set freeze"),
    (lambda d: {**d, "training": {"speed": 3}}, "unknown field(s) 'speed'"),
    (lambda d: {**d, "steps": _steps(3)}, "4 to 8 steps"),
    (lambda d: {**d, "steps": _steps(9)}, "4 to 8 steps"),
    (lambda d: {**d, "steps": _steps(3) + [{**_steps(1)[0]}]}, "unique short name"),
    (lambda d: {**d, "steps": _steps(3) + [{"id": "Bad Id", "text": "x",
                                             "done_when": {"check": "graph_has_no_errors"}}]}, "unique short name"),
    (lambda d: {**d, "steps": _steps(3) + [{"id": "x", "text": "x", "done_when": {"check": "graph_has_no_errors"},
                                             "points": 3}]}, "unknown field(s) points"),
    (lambda d: {**d, "steps": _steps(3) + [{"id": "x", "text": "", "done_when": {"check": "graph_has_no_errors"}}]},
     "\"text\" must be a non-empty text"),
    (lambda d: {**d, "steps": _steps(3) + [{"id": "x", "text": "Predict",
                                             "done_when": {"check": "predicted_shape", "node": "conv2d_1"}}]},
     "needs a \"prompt\""),
    (lambda d: {**d, "steps": _steps(3) + [{"id": "x", "text": "t", "done_when": {"check": "trained", "epochs": 2}}]},
     "step 4 (x) done_when: check 'trained' has no argument(s) epochs"),
])
def test_broken_lesson_files_give_clear_errors(lesson_dir, change, message):
    path = _write(lesson_dir, change(_good()))
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    assert message in str(info.value) and "01-test.json" in str(info.value)


def test_a_broken_lesson_is_listed_as_a_problem_and_the_others_still_load(lesson_dir):
    _write(lesson_dir, _good(), "01-good.json")
    _write(lesson_dir, {**_good(), "steps": []}, "02-bad.json")
    _write(lesson_dir, _good(), "no-number.json")        # not a lesson file name: ignored
    _write(lesson_dir, _good(), "3-misnamed-but-numbered.json")
    lessons, problems = load_lessons(lesson_dir)
    assert [x.id for x in lessons] == ["01-good", "3-misnamed-but-numbered"]
    assert len(problems) == 1 and "02-bad.json" in problems[0]
    assert lessons[1].number == 3


def test_a_lesson_file_opens_its_own_designs(lesson_dir):
    data = {**_good(), "design": {"file": "designs/overfit_big.json", "title": "Big"},
            "steps": [{"id": f"s{i}", "text": "t", "done_when": {"check": "selected", "node": "linear_2"}}
                      for i in range(4)]}
    lesson = load_lesson(_write(lesson_dir, data))
    assert lesson.design.load().name == "Big network" and lesson.design.title == "Big"


# ---- markup and progress ------------------------------------------------------------------------------------------
def test_markup_is_escaped_before_formatting():
    assert inline_html("<script>alert(1)</script> & **bold**") == \
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <b>bold</b>"
    assert inline_html("*a* and `2*3*4` and **b**") == "<i>a</i> and <code>2*3*4</code> and <b>b</b>"
    assert inline_html('<a href="x">link</a>').startswith("&lt;a href=&quot;x&quot;&gt;")
    assert paragraph_html("- one\n- **two**") == \
        "<ul style='margin-top:0; margin-bottom:0'><li>one</li><li><b>two</b></li></ul>"
    assert paragraph_html("line one\nline two") == "<p>line one line two</p>"
    assert plain_text("Press **Load** in `Data set`") == "Press Load in Data set"


def test_progress_from_settings_drops_whatever_is_malformed():
    lesson = load_lesson(LESSONS_DIR / "01-first-cnn.json")
    progress = LessonProgress.from_dict({
        "done": ["train", 3, None], "runs": ["abc", "../../etc", "abc", 5],
        "warm_starts": {"abc": "def", "x/y": "abc", "ghi": 7}, "answers": {"s": "6×14×14", "t": 3},
        "viewed": [["curves", True, ""], ["nowhere", True, ""], ["filters", "yes", ""], "junk"]})
    assert progress.done == {"train"} and progress.run_ids == ("abc",)
    assert progress.warm_starts == {"abc": "def"} and progress.answers == {"s": "6×14×14"}
    assert progress.viewed == {View("curves", True, "")}
    assert LessonProgress.from_dict("garbage") == LessonProgress()
    assert progress.next_step(lesson) == 0 and progress.count_done(lesson) == 1
    assert progress.with_run("abc") is progress and progress.with_answer("s", "x" * 500).answers["s"] == "x" * 200
