"""File → Save keeps the previous version as NAME.json.bak, which opens like a design and is saved under the
design's own name, never over the backup."""
from __future__ import annotations

from designer import dialogs
from engine.graph_io import load_graph
from engine.templates import load_template


def test_save_keeps_the_previous_version_which_opens_and_saves_as_the_design(tmp_path, make_window, dialog_answers,
                                                                            monkeypatch):
    path = tmp_path / "design.json"
    window = make_window()
    dialog_answers.save_path = str(path)
    assert window.files.save()                                        # a new file: nothing to back up
    assert not (tmp_path / "design.json.bak").exists()
    window.document.set_params("conv2d_1", {"out_channels": 9})
    assert window.files.save()
    assert load_graph(tmp_path / "design.json.bak") == load_template("lenet5")
    assert load_graph(path).node("conv2d_1").params["out_channels"] == 9
    # Going back one save: open the backup (All files in the Open dialog).
    assert window.files.open_path(str(tmp_path / "design.json.bak"))
    assert window.document.graph.node("conv2d_1").params["out_channels"] == 6 and not dialog_answers.errors
    offered = []
    monkeypatch.setattr(dialogs, "get_save_path", lambda parent, suggested: offered.append(suggested) or "")
    assert not window.files.save()                                    # Save on a backup asks for a name ...
    assert offered == [str(path)]                                     # ... offering the design's own
    assert load_graph(tmp_path / "design.json.bak") == load_template("lenet5")
