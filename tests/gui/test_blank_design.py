"""A blank design greets the user with the next steps, not with red layers and a count of errors."""
from __future__ import annotations

from designer.graph_edits import blank_graph


def test_a_blank_design_shows_hints_not_errors(make_window):
    window = make_window(blank_graph())
    for item in window.scene.node_items.values():
        assert item.issue is not None and item.issue.severity == "todo", item.node_id
    assert "error" not in window.totals.errors.text()
    assert window.totals.errors.text() == "Not finished: see Messages"
    texts = [window.messages.list.item(i).text() for i in range(window.messages.list.count())]
    assert any("waits for the first layer" in t for t in texts)
    window.select_node("input_1")
    assert window.inspector.issue_label.text().startswith("Next step: ")
    assert window.inspector.issue_label.property("role") == "help"     # quiet text, not the red of errors
    # one layer dropped but not connected is a real problem again
    window.document.add_node("ReLU", (300.0, 0.0))
    assert window.totals.errors.text().startswith("1 error")


def test_explain_and_summary_of_a_blank_design_speak_of_next_steps(make_window):
    from engine.teaching.explain import explain_network

    window = make_window(blank_graph())
    text = " ".join(str(getattr(line, "text", "")) for s in explain_network(window.document.graph,
                                                                           window.document.analysis).sections
                    for line in s.lines)
    assert "Not finished yet" in text and "error" not in text
    assert window.summary.model.error_ids == set()


def test_the_template_gallery_counts_layers_as_the_summary_does():
    from designer.template_gallery import template_entries
    from engine.summary import layer_count
    from engine.templates import load_template

    sizes = {key: size for key, _title, _text, size in template_entries()}
    assert sizes[""] == "no layers yet"
    assert sizes["lenet5"].startswith(f"{layer_count(load_template('lenet5'))} layers ·")   # 12, not 14
