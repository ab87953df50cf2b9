"""Property-based test: long random edit sequences on the real GraphDocument, with the canvas scene, the
inspector, the messages panel and the summary table attached, as in the window.

Every step is one thing a person can do (add any registered kind, delete, connect, reconnect, disconnect,
edit a parameter in the inspector with extreme values, type raw values, rename, insert on a connection,
paste, apply a fix-it, auto-layout, move, undo, redo). After every step: the incremental analysis equals a
fresh one and did not raise, the graph survives save → load unchanged, stored parameters are within their
schema, and the canvas mirrors the document. At the end, undoing everything gives the starting design back
and redoing everything gives the final one.

Default run: 40 sequences × up to 40 steps. `pytest -m soak` runs 300 × 100.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)
from PySide6.QtCore import QPointF

from designer.canvas.scene import GraphScene
from designer.document import GraphDocument
from designer.graph_edits import (blank_graph, can_insert_on_edge, connection_problem, free_offset,
                                  input_port_count, subgraph)
from designer.inspector import Inspector
from designer.messages_panel import MessagesPanel
from designer.param_widgets import INT_LIMIT
from designer.summary_panel import SummaryPanel
from engine.analysis import analyze
from engine.graph import EdgeSpec, GraphSpec, make_node
from engine.graph_io import graph_from_json, graph_to_json
from engine.registry import all_kinds, get_kind
from engine.templates import load_template

KINDS = sorted(k.name for k in all_kinds())
INSERTABLE = [k for k in KINDS if can_insert_on_edge(k)]
STARTS = ["blank", "empty", "lenet5", "nin", "small_resnet", "inception"]
EXTREME_INTS = [0, -1, 1, 2, 3, 7, 64, 65, 4096, 10**9, -10**9, INT_LIMIT]
FLOAT_TEXTS = ["0", "-1", "0.5", "1", "1e-13", "0.1", "1e9", "-1e9", "nan", "inf", "-inf", "1e400", "abc", "",
               " 0.25 "]
RAW_VALUES = st.one_of(
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 10**9, 10**400, True, False, None, "3", "same", "relu", [1, 2], [1, 2, 3], [],
                     [float("inf"), 1], {}, (2, 2)]))
LABELS = st.one_of(st.text(max_size=80),
                   st.sampled_from(['<img src=x onerror=alert(1)><b>bold</b>', '"""\nimport os\n"""', "a\u2028b",
                                    "\x00\r\n", "   ", "conv2d_1"]))


class DocumentMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.document = GraphDocument()
        # The views the window attaches: they must follow every edit without raising.
        self.scene = GraphScene(self.document)
        self.inspector = Inspector(self.document)
        self.messages = MessagesPanel(self.document)
        self.summary = SummaryPanel(self.document)
        self.start = None

    # ---- helpers --------------------------------------------------------------------------------------
    @property
    def graph(self) -> GraphSpec:
        return self.document.graph

    def node_ids(self):
        return [n.id for n in self.graph.nodes]

    def pick_ids(self, data, at_least=1):
        ids = self.node_ids()
        return data.draw(st.lists(st.sampled_from(ids), min_size=at_least, max_size=min(4, len(ids)), unique=True))

    # ---- rules ----------------------------------------------------------------------------------------
    @initialize(start=st.sampled_from(STARTS))
    def open_design(self, start):
        graph = {"blank": blank_graph(), "empty": GraphSpec()}.get(start) or load_template(start)
        self.document.set_graph(graph, "")
        self.start = graph
        assert self.graph == graph and not self.document.undo_stack.canUndo()

    @rule(kind=st.sampled_from(KINDS), x=st.integers(-3000, 3000), y=st.integers(-3000, 3000))
    def add_node(self, kind, x, y):
        before = len(self.graph.nodes)
        nid = self.document.add_node(kind, (float(x), float(y)))
        assert len(self.graph.nodes) == before + 1 and self.graph.node(nid).kind == kind

    @precondition(lambda self: self.graph.nodes)
    @rule(data=st.data())
    def remove_nodes(self, data):
        ids = self.pick_ids(data)
        self.document.remove_nodes(ids)
        assert not any(self.graph.has_node(i) for i in ids)
        assert not any(e.source in ids or e.target in ids for e in self.graph.edges)

    @precondition(lambda self: len(self.graph.nodes) >= 2)
    @rule(data=st.data())
    def connect(self, data):
        src = data.draw(st.sampled_from(self.node_ids()), "source")
        dst = data.draw(st.sampled_from(self.node_ids()), "target")
        slot = data.draw(st.integers(0, input_port_count(self.graph, dst)), "slot")
        edge, before = EdgeSpec(src, dst, slot), self.graph
        expected = connection_problem(before, edge)
        problem = self.document.connect(edge)
        assert problem == expected
        if problem:
            assert self.graph == before  # refused: nothing changed, and the reason is given
        else:
            assert edge in self.graph.edges

    @precondition(lambda self: len(self.graph.nodes) >= 2)
    @rule(data=st.data())
    def connect_free_ports(self, data):
        """A connection the canvas would accept (random pairs are mostly refused, so aim for valid ones too)."""
        g = self.graph
        free = _free_connections(g)
        if free:
            edge = data.draw(st.sampled_from(free), "edge")
            assert connection_problem(g, edge) == ""   # the canvas's own rule agrees with the fast listing
            assert self.document.connect(edge) == "" and edge in self.graph.edges

    @precondition(lambda self: self.graph.edges)
    @rule(data=st.data())
    def reconnect(self, data):
        """Drag a connected input port to another port (the canvas's re-attach)."""
        old = data.draw(st.sampled_from(list(self.graph.edges)), "edge")
        dst = data.draw(st.sampled_from(self.node_ids()), "new target")
        edge = EdgeSpec(old.source, dst, data.draw(st.integers(0, input_port_count(self.graph, dst))))
        before = self.graph
        problem = self.document.connect(edge, replacing=old)
        if problem:
            assert self.graph == before
        else:
            assert edge in self.graph.edges and (old == edge or old not in self.graph.edges)

    @precondition(lambda self: self.graph.edges)
    @rule(data=st.data())
    def disconnect(self, data):
        edges = data.draw(st.lists(st.sampled_from(list(self.graph.edges)), min_size=1, max_size=3, unique=True))
        self.document.remove_edges(edges)
        assert not set(edges) & set(self.graph.edges)

    @precondition(lambda self: any(get_kind(n.kind).params for n in self.graph.nodes))
    @rule(data=st.data())
    def edit_in_inspector(self, data):
        """The inspector's own widgets: spin boxes clamp, text fields refuse what the schema refuses."""
        nid = data.draw(st.sampled_from([n.id for n in self.graph.nodes if get_kind(n.kind).params]), "node")
        kind = get_kind(self.graph.node(nid).kind)
        spec = data.draw(st.sampled_from(kind.params), "param")
        self.inspector.show_node(nid)
        editor = self.inspector.editors[spec.name]
        old = self.graph.node(nid).params[spec.name]
        lo = int(spec.minimum) if spec.minimum is not None else -INT_LIMIT
        hi = int(spec.maximum) if spec.maximum is not None else INT_LIMIT
        if spec.kind == "int":
            value = data.draw(st.sampled_from(EXTREME_INTS), "value")
            editor.box.setValue(value)
            expected = min(max(value, lo), hi)
        elif spec.kind in ("pair", "padding"):
            if spec.kind == "padding" and data.draw(st.booleans(), "same"):
                editor.mode.setCurrentIndex(1)
                expected = "same"
            else:
                if editor.mode is not None:
                    editor.mode.setCurrentIndex(0)
                h, w = data.draw(st.sampled_from(EXTREME_INTS)), data.draw(st.sampled_from(EXTREME_INTS))
                square = data.draw(st.booleans(), "square link")
                editor.square.setChecked(square)
                editor.h.setValue(h)
                editor.w.setValue(w)
                expected = (min(max(h, lo), hi), min(max(w, lo), hi))
                if square:   # linked: the width typed last sets both
                    expected = (expected[1], expected[1])
        elif spec.kind == "float":
            text = data.draw(st.sampled_from(FLOAT_TEXTS), "text")
            editor.edit.setText(text)
            editor.edit.textEdited.emit(text)
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            accepted = math.isfinite(number) and spec.minimum <= number <= spec.maximum
            expected = number if accepted else old
            error = self.inspector.error_labels[spec.name]
            assert error.isHidden() != (not accepted) and bool(error.text()) == (not accepted)
        elif spec.kind == "bool":
            editor.box.setChecked(not old)
            expected = not old
        elif spec.kind in ("text", "shape"):   # what an import recorded: shown as plain text, never edited
            assert editor.label.text() == ("×".join(map(str, old)) if spec.kind == "shape" else old or "—")
            expected = old
        else:  # choice
            expected = data.draw(st.sampled_from(spec.choices), "choice")
            editor.box.setCurrentIndex(list(spec.choices).index(expected))
        assert self.graph.node(nid).params[spec.name] == expected

    @precondition(lambda self: any(get_kind(n.kind).params for n in self.graph.nodes))
    @rule(data=st.data(), value=RAW_VALUES)
    def set_raw_param(self, data, value):
        """Any value through the document's edit call: accepted as the schema's canonical value, or refused
        with a message and no change."""
        nid = data.draw(st.sampled_from([n.id for n in self.graph.nodes if get_kind(n.kind).params]), "node")
        spec = data.draw(st.sampled_from(get_kind(self.graph.node(nid).kind).params), "param")
        before = self.graph
        message = self.document.set_params(nid, {spec.name: value})
        assert isinstance(message, str)
        if message:
            assert self.graph == before and spec.name in message
        else:
            assert self.graph.node(nid).params[spec.name] == spec.coerce(value)

    @precondition(lambda self: self.graph.nodes)
    @rule(data=st.data())
    def set_unknown_param(self, data):
        nid = data.draw(st.sampled_from(self.node_ids()))
        before = self.graph
        assert "no parameter 'bogus'" in self.document.set_params(nid, {"bogus": 1})
        assert self.graph == before

    @precondition(lambda self: self.graph.nodes)
    @rule(data=st.data(), label=LABELS)
    def rename(self, data, label):
        nid = data.draw(st.sampled_from(self.node_ids()))
        self.document.set_label(nid, label, merge=data.draw(st.booleans()))
        assert self.graph.node(nid).label == label.strip()

    @precondition(lambda self: self.graph.edges)
    @rule(data=st.data(), kind=st.sampled_from(INSERTABLE))
    def insert_on_edge(self, data, kind):
        edge = data.draw(st.sampled_from(list(self.graph.edges)))
        nid = self.document.insert_on_edge(edge, kind)
        g = self.graph
        assert edge not in g.edges and g.node(nid).kind == kind
        assert EdgeSpec(edge.source, nid, 0) in g.edges and EdgeSpec(nid, edge.target, edge.slot) in g.edges

    @precondition(lambda self: self.graph.nodes)
    @rule(data=st.data())
    def copy_paste(self, data):
        """What Copy then Paste do: the selection as design JSON, read back with the clipboard's checks."""
        part = subgraph(self.graph, self.pick_ids(data))
        pasted = graph_from_json(graph_to_json(part), "the clipboard")
        assert pasted == part
        self._paste(pasted)

    @rule(key=st.sampled_from(["lenet5", "nin", "inception"]))
    def paste_from_another_window(self, key):
        self._paste(graph_from_json(graph_to_json(load_template(key)), "the clipboard"))

    def _paste(self, part):
        before = self.graph
        ids = self.document.paste(part, free_offset(before, part.nodes, (40.0, 40.0)))
        assert len(ids) == len(part.nodes) == len(self.graph.nodes) - len(before.nodes)
        assert len(self.graph.edges) == len(before.edges) + len(part.edges)
        assert [self.graph.node(i).kind for i in ids] == [n.kind for n in part.nodes]

    @precondition(lambda self: any(i.fix is not None for i in self.document.analysis.issues))
    @rule(data=st.data())
    def apply_fix(self, data):
        fixes = [i.fix for i in self.document.analysis.issues if i.fix is not None]
        fix = data.draw(st.sampled_from(fixes))
        before = self.graph
        self.document.apply_fix(fix)
        assert self.graph != before  # a fix that is offered always changes something

    @rule()
    def auto_layout(self):
        self.document.auto_layout()

    @precondition(lambda self: self.graph.nodes)
    @rule(data=st.data(), dx=st.integers(-500, 500), dy=st.integers(-500, 500))
    def move(self, data, dx, dy):
        ids = self.pick_ids(data)
        self.document.move_nodes({i: (self.graph.node(i).pos[0] + dx, self.graph.node(i).pos[1] + dy)
                                  for i in ids})

    @rule(times=st.integers(1, 5))
    def undo(self, times):
        for _ in range(times):
            self.document.undo_stack.undo()

    @rule(times=st.integers(1, 5))
    def redo(self, times):
        for _ in range(times):
            self.document.undo_stack.redo()

    @rule()
    def undo_all_then_redo_all(self):
        self._check_history()

    # ---- invariants -----------------------------------------------------------------------------------
    @invariant()
    def analysis_is_fresh_and_complete(self):
        fresh = analyze(self.graph)  # must not raise, whatever the graph
        assert fresh == self.document.analysis, "the incremental analysis differs from a fresh one"
        assert set(fresh.nodes) == set(self.node_ids())

    @invariant()
    def saves_and_reloads_identically(self):
        text = graph_to_json(self.graph)
        assert graph_from_json(text) == self.graph
        for n in self.graph.nodes:  # every stored value is one the schema accepts
            assert get_kind(n.kind).normalize(n.params) == n.params

    @invariant()
    def canvas_mirrors_document(self):
        g = self.graph
        assert set(self.scene.node_items) == set(self.node_ids())
        assert set(self.scene.edge_items) == set(g.edges)
        for n in g.nodes:
            item = self.scene.node_items[n.id]
            # (the item keeps the spec it was last drawn from; moves update only its position)
            assert (item.spec.kind, item.spec.params, item.spec.label) == (n.kind, n.params, n.label)
            assert item.pos() == QPointF(*n.pos)
            assert len(item.input_ports) == input_port_count(g, n.id)
        assert [r[0] for r in self.summary.model.rows] == [nid for nid in self.document.analysis.order]
        expected_rows = max(1, len(self.document.analysis.issues))
        assert self.messages.list.count() == expected_rows

    def _check_history(self):
        """Undo everything, redo everything, then return to where we were (which may be mid-history)."""
        stack, here, current = self.document.undo_stack, self.document.undo_stack.index(), self.graph
        while stack.canRedo():
            stack.redo()
        end = self.graph  # the newest state the history holds
        while stack.canUndo():
            stack.undo()
        assert self.graph == self.start, "undoing everything did not give the starting design back"
        while stack.canRedo():
            stack.redo()
        assert self.graph == end, "redoing everything did not give the final design back"
        stack.setIndex(here)
        assert self.graph == current

    def teardown(self):
        if self.start is not None:
            self._check_history()
        for widget in (self.inspector, self.messages, self.summary):
            widget.deleteLater()


def _free_connections(g: GraphSpec) -> list:
    """Every edge connection_problem() accepts, listed in linear time per free input rather than by asking it
    about all node pairs (that took most of the soak's time once designs grew past a hundred layers)."""
    ids = [n.id for n in g.nodes]
    kinds = {n.id: get_kind(n.kind) for n in g.nodes}
    taken = {(e.target, e.slot) for e in g.edges}
    outgoing: dict = {}
    for e in g.edges:
        outgoing.setdefault(e.source, []).append(e.target)
    sources = [i for i in ids if kinds[i].has_outputs]
    free = []
    for t in ids:
        if kinds[t].max_inputs == 0:
            continue
        slots = [slot for slot in range(input_port_count(g, t)) if (t, slot) not in taken]
        if not slots:
            continue
        below, stack = {t}, [t]   # t and everything it feeds: connecting any of them into t makes a cycle
        while stack:
            for nxt in outgoing.get(stack.pop(), ()):
                if nxt not in below:
                    below.add(nxt)
                    stack.append(nxt)
        free += [EdgeSpec(src, t, slot) for src in sources if src not in below for slot in slots]
    return free


def _run(examples, steps):
    run_state_machine_as_test(DocumentMachine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_random_edit_sequences_keep_the_document_consistent(qapp):
    _run(examples=40, steps=40)


@pytest.mark.soak
def test_random_edit_sequences_soak(qapp):
    _run(examples=300, steps=100)


def test_connections_into_inputs_a_layer_lacks_are_refused():
    g = blank_graph()
    g = g.with_node(make_node(g, "ReLU"))
    assert connection_problem(g, EdgeSpec("input_1", "relu_1", 0)) == ""
    assert connection_problem(g, EdgeSpec("input_1", "relu_1", 1)) == "relu_1 has no input 2."
    assert connection_problem(g, EdgeSpec("input_1", "relu_1", -1)) == "relu_1 has no input 0."
    g = g.with_node(make_node(g, "Add"))
    assert connection_problem(g, EdgeSpec("input_1", "add_1", 7)) == ""   # Add and Concat take any number


@pytest.mark.parametrize("start", ["blank", "inception", "small_unet"])
def test_the_fast_listing_of_free_connections_is_the_canvas_rule(start):
    graph = blank_graph() if start == "blank" else load_template(start)
    brute = {EdgeSpec(s, t, slot) for s in (n.id for n in graph.nodes) for t in (n.id for n in graph.nodes)
             for slot in range(input_port_count(graph, t)) if not connection_problem(graph, EdgeSpec(s, t, slot))}
    assert set(_free_connections(graph)) == brute and brute
