"""The commands take a built-in template by name where they take a design file."""
import pytest

from engine.cli import run_command_line
from engine.graph_io import GraphFileError, load_graph
from engine.templates import TEMPLATE_DIR, load_design_or_template, load_template, template_names


def test_analyze_takes_a_template_name(capsys):
    assert run_command_line(["analyze", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "conv2d_1" in out and "Total: 61,706 parameters" in out


def test_an_unknown_name_lists_the_templates(capsys):
    assert run_command_line(["analyze", "lenet6"]) == 2
    err = capsys.readouterr().err
    assert "Cannot open lenet6" in err and "lenet5" in err and "small_resnet" in err


def test_a_file_of_the_same_name_wins_over_the_template(tmp_path, monkeypatch):
    design = load_template("nin")
    (tmp_path / "lenet5").write_text((TEMPLATE_DIR / "nin.json").read_text())
    monkeypatch.chdir(tmp_path)
    assert load_design_or_template("lenet5") == design
    assert load_design_or_template("alexnet") == load_template("alexnet")


def test_a_broken_file_is_reported_as_itself(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(GraphFileError) as info:
        load_design_or_template(bad)
    assert "built-in template" not in str(info.value)


def test_every_template_is_listed():
    assert set(template_names()) >= {"lenet5", "alexnet", "vgg11", "nin", "small_resnet", "inception"}


def test_train_takes_a_template_name(tmp_path, capsys):
    out = tmp_path / "run"
    code = run_command_line(["train", "lenet5", "--data", "generated_digits", "--size", "200", "--epochs", "1",
                             "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    assert load_graph(out / "graph.json") == load_template("lenet5")
