"""What a student has done in one lesson, kept between sessions (the app stores it as JSON in its settings).

A ticked step stays ticked: the checklist records achievements, so selecting another layer or editing the
design later does not take a tick away. The runs finished during the lesson, the answers typed and the
panels looked at are kept too, so the checklist sees the same state after the app restarts.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from engine.teaching.lesson_state import PANELS, View
from engine.training.run_record import RUN_ID_PATTERN

if TYPE_CHECKING:
    from engine.teaching.checks import CheckResult
    from engine.teaching.lessons import Lesson

MAX_ANSWER = 200


@dataclass(frozen=True)
class LessonProgress:
    done: frozenset = frozenset()          # ids of ticked steps
    run_ids: tuple = ()                    # runs finished during the lesson, oldest first
    warm_starts: dict = field(default_factory=dict)   # run id -> id of the run whose weights it started from
    answers: dict = field(default_factory=dict)       # step id -> typed text
    viewed: frozenset = frozenset()        # View records

    __hash__ = None

    def with_results(self, lesson: Lesson, results: Iterable[CheckResult]) -> tuple:
        """(progress with every met step ticked, ids of the steps ticked just now)."""
        new = [s.id for s, r in zip(lesson.steps, results) if r.met and s.id not in self.done]
        return (replace(self, done=self.done | frozenset(new)) if new else self), new

    def next_step(self, lesson: Lesson) -> int:
        """Index of the first step not ticked, or -1 when the lesson is complete."""
        return next((i for i, s in enumerate(lesson.steps) if s.id not in self.done), -1)

    def count_done(self, lesson: Lesson) -> int:
        return sum(1 for s in lesson.steps if s.id in self.done)

    def with_run(self, run_id: str, warm_start_from: str = "") -> "LessonProgress":
        if run_id in self.run_ids:
            return self
        warm = {**self.warm_starts, run_id: warm_start_from} if warm_start_from else self.warm_starts
        return replace(self, run_ids=self.run_ids + (run_id,), warm_starts=warm)

    def with_answer(self, step_id: str, text: str) -> "LessonProgress":
        return replace(self, answers={**self.answers, step_id: str(text)[:MAX_ANSWER]})

    def with_views(self, views: Iterable[View]) -> "LessonProgress":
        views = frozenset(views) - self.viewed
        return replace(self, viewed=self.viewed | views) if views else self

    def to_dict(self) -> dict:
        return {"done": sorted(self.done), "runs": list(self.run_ids), "warm_starts": dict(self.warm_starts),
                "answers": dict(self.answers),
                "viewed": sorted([v.panel, v.trained, v.node_kind] for v in self.viewed)}

    @classmethod
    def from_dict(cls, data: object) -> "LessonProgress":
        """Tolerant: whatever is malformed (an edited or old settings file) is dropped, never raised."""
        if not isinstance(data, dict):
            return cls()
        done = frozenset(s for s in _list(data.get("done")) if isinstance(s, str))
        runs = tuple(dict.fromkeys(r for r in _list(data.get("runs")) if _run_id(r)))
        warm_raw = data.get("warm_starts") if isinstance(data.get("warm_starts"), dict) else {}
        warm = {k: v for k, v in warm_raw.items() if _run_id(k) and _run_id(v)}
        answers_raw = data.get("answers") if isinstance(data.get("answers"), dict) else {}
        answers = {k: v[:MAX_ANSWER] for k, v in answers_raw.items() if isinstance(k, str) and isinstance(v, str)}
        viewed = frozenset(View(v[0], v[1], v[2]) for v in _list(data.get("viewed"))
                           if isinstance(v, list) and len(v) == 3 and v[0] in PANELS and isinstance(v[1], bool)
                           and isinstance(v[2], str))
        return cls(done, runs, warm, answers, viewed)


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _run_id(value) -> bool:
    return isinstance(value, str) and bool(RUN_ID_PATTERN.fullmatch(value))
