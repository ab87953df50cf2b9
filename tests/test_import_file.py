"""Importing a class from a Python file runs its code only after confirmation; weight files are read
without unpickling arbitrary objects; the command line wraps it all in clear messages."""
import pickle
import textwrap

import pytest
import torch

from engine.cli import run_command_line
from engine.compiler import compile_graph
from engine.graph_io import load_graph
from engine.interchange.importing import import_python_class
from engine.interchange.sources import SourceError
from engine.interchange.weights import WeightsError, load_weights


pytestmark = pytest.mark.usefixtures("one_thread")

MODEL = textwrap.dedent('''
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, classes=4):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU6(), nn.AdaptiveAvgPool2d(2))
            self.head = nn.Linear(24, classes)

        def forward(self, x):
            return self.head(torch.flatten(self.features(x), 1))
''')


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def test_file_import_needs_confirmation(model_file, tmp_path):
    marker = tmp_path / "ran"
    model_file.write_text(MODEL + f"\nopen({str(marker)!r}, 'w').close()\n")
    with pytest.raises(SourceError, match="runs its code"):
        import_python_class(model_file, "Net", (1, 8, 8), confirmed=False)
    assert not marker.exists()


def test_file_import_with_state_dict_weights(model_file, tmp_path):
    torch.manual_seed(0)
    namespace = {}
    exec(MODEL, namespace)
    original = namespace["Net"](classes=3).eval()
    weights = tmp_path / "w.pt"
    torch.save({"state_dict": original.state_dict()}, weights)  # a checkpoint dict is unwrapped
    imported = import_python_class(model_file, "Net", (1, 8, 8), confirmed=True, kwargs={"classes": 3},
                                   weights_path=weights)
    compiled = compile_graph(imported.graph).eval()
    compiled.load_state_dict(imported.weights, strict=True)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), original(x))
    assert {n.kind for n in imported.graph.nodes} >= {"ReLU6", "AdaptiveAvgPool2d", "Flatten"}


def test_missing_class_lists_the_ones_there(model_file):
    with pytest.raises(SourceError, match="its nn.Module classes are: Net"):
        import_python_class(model_file, "Missing", (1, 8, 8), confirmed=True)


class Payload:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/cnnd_pickle_ran",))


def test_pickle_payload_in_weights_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"conv.weight": Payload()}, f)
    with pytest.raises(WeightsError, match="cannot be read as plain weights"):
        load_weights(path)
    import os
    assert not os.path.exists("/tmp/cnnd_pickle_ran")


def test_cli_import_model(model_file, tmp_path, capsys):
    out = tmp_path / "net.json"
    assert run_command_line(["import-model", "--file", str(model_file), "--class", "Net", "--input", "1x8x8",
                             "-o", str(out)]) == 2
    assert "--trust-code" in capsys.readouterr().err and not out.exists()
    assert run_command_line(["import-model", "--file", str(model_file), "--class", "Net", "--input", "1x8x8",
                             "--trust-code", "-o", str(out)]) == 0
    assert load_graph(out).nodes_of_kind("Output")[0].params["classes"] == 4
    bundle = tmp_path / "sq.cnnd"
    assert run_command_line(["import-model", "--torchvision", "squeezenet1_1", "--classes", "3", "--weights",
                             str(tmp_path / "missing.pt"), "-o", str(bundle)]) == 2
    assert "no weights file" in capsys.readouterr().err
    assert run_command_line(["import-model", "--list"]) == 0
    assert "resnet18" in capsys.readouterr().out


def test_junk_weights_file_gets_a_readable_reason(tmp_path):
    (tmp_path / "junk.pt").write_text("junk\n")
    with pytest.raises(WeightsError, match=r"\(it is not a PyTorch file\)"):
        load_weights(tmp_path / "junk.pt")
