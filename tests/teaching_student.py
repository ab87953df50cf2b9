"""A scripted student for lesson tests: edits the design with engine.graph helpers, trains (fake runs),
types answers and looks at panels, and evaluates the checklist after each action like the app does."""
from __future__ import annotations

from dataclasses import replace

from engine.graph import EdgeSpec, make_node
from engine.teaching.lesson_progress import LessonProgress
from engine.teaching.lesson_state import LessonState, RunSummary, View
from engine.teaching.lessons import evaluate_steps
from engine.training.config import Augmentation, TrainConfig


class Student:
    def __init__(self, lesson):
        self.lesson = lesson
        self.graph = lesson.design.load()
        self.selected = ""
        self.dataset = lesson.dataset.key if lesson.dataset else "generated_digits"
        self.config = lesson.training or TrainConfig()
        self.runs: list = []
        self.viewed: set = set()
        self.answers: dict = {}
        self.warm_from = ""
        self.trained_graph = None
        self.progress = LessonProgress()

    # ---- what the app would compute -------------------------------------------------------------
    def state(self) -> LessonState:
        return LessonState(graph=self.graph, selected=self.selected, dataset_key=self.dataset, config=self.config,
                           runs=tuple(self.runs), viewed=frozenset(self.viewed), answers=dict(self.answers),
                           warm_start_pending=bool(self.warm_from))

    def results(self):
        return evaluate_steps(self.lesson, self.state())

    def tick(self) -> set:
        """Evaluate, tick what is met (ticks stay), and return the ids ticked by this action."""
        self.progress, new = self.progress.with_results(self.lesson, self.results())
        return set(new)

    def hint(self, step_id: str) -> str:
        index = [s.id for s in self.lesson.steps].index(step_id)
        return self.results()[index].hint

    # ---- actions ----------------------------------------------------------------------------------
    def open_design(self, index: int) -> set:
        """Open one of the lesson's other designs (the lesson panel's buttons)."""
        self.graph = self.lesson.more_designs[index].load()
        self.selected = ""
        return self.tick()

    def select(self, node_id: str) -> set:
        self.selected = node_id
        return self.tick()

    def answer(self, step_id: str, text: str) -> set:
        self.answers[step_id] = text
        return self.tick()

    def set_params(self, node_id: str, **params) -> set:
        self.graph = self.graph.with_params(node_id, params)
        return self.tick()

    def insert_on_edge(self, source: str, target: str, kind: str, **params) -> str:
        edge = next(e for e in self.graph.edges if e.source == source and e.target == target)
        node = make_node(self.graph, kind, params)
        self.graph = self.graph.insert_on_edge(edge, node)
        return node.id

    def add_after(self, source: str, kind: str, **params) -> str:
        node = make_node(self.graph, kind, params)
        self.graph = self.graph.with_node(node).with_edge(EdgeSpec(source, node.id, 0))
        return node.id

    def connect(self, source: str, target: str, slot: int = 0) -> set:
        self.graph = self.graph.with_edge(EdgeSpec(source, target, slot))
        return self.tick()

    def delete(self, *node_ids) -> set:
        for nid in node_ids:
            self.graph = self.graph.without_node(nid)
        return self.tick()

    def choose_dataset(self, key: str) -> set:
        self.dataset = key
        return self.tick()

    def settings(self, **changes) -> set:
        self.config = replace(self.config, **changes)
        return self.tick()

    def augment(self, **fields) -> set:
        return self.settings(augmentation=Augmentation(**fields))

    def load_weights(self) -> set:
        self.warm_from = self.runs[-1].run_id
        return self.tick()

    def train(self, train_acc=0.99, val_acc=0.97, test=0.97) -> set:
        epochs = self.config.epochs
        run = RunSummary(run_id=f"run{len(self.runs) + 1}", graph=self.graph, config=self.config,
                         dataset_key=self.dataset, test_accuracy=test,
                         train_accuracy=tuple([train_acc] * epochs), val_accuracy=tuple([val_acc] * epochs),
                         warm_start_from=self.warm_from)
        self.runs.append(run)
        self.warm_from = ""
        self.trained_graph = self.graph
        return self.tick()

    def view(self, panel: str) -> set:
        kind = self.graph.node(self.selected).kind if self.selected and self.graph.has_node(self.selected) else ""
        self.viewed.add(View(panel, self.trained_graph == self.graph, kind))
        return self.tick()
