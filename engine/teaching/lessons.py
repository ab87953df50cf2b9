"""Guided lessons: loading the bundled lesson files and evaluating their checklists.

A lesson file, resources/lessons/NN-slug.json:

    {"format": "cnn-designer-lesson", "version": 1,
     "title": "...", "summary": "...",
     "design": {"template": "lenet5"}            or {"file": "designs/x.json"} (inside resources/lessons/designs)
     "more_designs": [{"title": "...", "file": "designs/y.json"}],       optional, opened from the lesson
     "dataset": {"key": "generated_digits", "size": 600},               optional
     "training": {"epochs": 5, "batch_size": 32},                       optional TrainConfig fields
     "introduction": ["paragraph", ...], "wrap_up": ["paragraph", ...],
     "steps": [{"id": "train", "text": "...", "hint": "...", "prompt": "...",
                "done_when": {"check": "trained", "min_epochs": 3}}, ...]}

Texts use the markup of engine.teaching.lesson_markup. Every field is checked when the file loads; a
broken file raises LessonError naming the file and the field, and `load_lessons` lists it as a problem
instead of failing, so one bad file never takes the app down.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from engine.analysis import analyze
from engine.data import list_datasets
from engine.graph import GraphSpec
from engine.graph_io import load_graph
from engine.resource_files import lessons_dir
from engine.safe_files import FileLimitError, load_json_file
from engine.teaching.checks import CheckArgError, evaluate_condition, needs_answer, validate_condition
from engine.teaching.lesson_state import LessonState
from engine.templates import TEMPLATE_DIR, load_template
from engine.training.config import TrainConfig

LESSON_FORMAT = "cnn-designer-lesson"
LESSON_VERSION = 1
LESSONS_DIR = lessons_dir()
MIN_STEPS, MAX_STEPS = 4, 8
MAX_LESSON_BYTES = 1 << 20    # a lesson is a few KB of text
MIN_DATA_SIZE = 100          # the training panel's smallest generated data set
STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_TOP_KEYS = {"format", "version", "title", "summary", "design", "more_designs", "dataset", "training",
             "introduction", "wrap_up", "steps"}
_STEP_KEYS = {"id", "text", "hint", "prompt", "done_when"}


class LessonError(ValueError):
    """A lesson file that cannot be used; the message names the file and what is wrong in it."""


@dataclass(frozen=True)
class DesignRef:
    """A design a lesson opens: a template from resources/templates or a file in resources/lessons/designs."""

    title: str
    template: str = ""
    file: str = ""
    folder: Path = LESSONS_DIR

    def load(self) -> GraphSpec:
        return load_template(self.template) if self.template else load_graph(self.folder / self.file)


@dataclass(frozen=True)
class DatasetChoice:
    key: str
    size: Optional[int] = None    # images to generate (generated data sets only)


@dataclass(frozen=True)
class Step:
    id: str
    text: str
    condition: dict
    hint: str = ""
    prompt: str = ""              # label of the answer box for prediction steps

    __hash__ = None

    @property
    def needs_answer(self) -> bool:
        return needs_answer(self.condition)


@dataclass(frozen=True)
class Lesson:
    id: str                       # the file name without .json, e.g. "01-first-cnn"
    number: int
    title: str
    summary: str
    design: DesignRef
    more_designs: tuple = ()
    dataset: Optional[DatasetChoice] = None
    training: Optional[TrainConfig] = None   # TrainConfig defaults with the lesson's fields applied
    introduction: tuple = ()
    wrap_up: tuple = ()
    steps: tuple = ()
    path: Optional[Path] = None

    __hash__ = None

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def evaluate_steps(lesson: Lesson, state: LessonState) -> list:
    """One CheckResult per step, in order. Never raises."""
    return [evaluate_condition(s.condition, state, str(state.answers.get(s.id, ""))) for s in lesson.steps]


# ---- loading --------------------------------------------------------------------------------------------
def load_lessons(folder: Path = LESSONS_DIR) -> tuple:
    """(lessons sorted by number, problems): every NN-*.json in `folder`; unreadable files become problems."""
    lessons, problems = [], []
    for path in sorted(Path(folder).glob("[0-9]*.json")):
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            problems.append(str(exc))
    return sorted(lessons, key=lambda x: (x.number, x.id)), problems


def load_lesson(path: str | os.PathLike[str]) -> Lesson:
    """Read and check one lesson file; raises LessonError with the file name and the problem."""
    path = Path(path)
    try:  # bounded (engine.safe_files): never a FIFO, a device, a huge or deeply nested file
        data = load_json_file(path, MAX_LESSON_BYTES, "lesson")
    except FileLimitError as exc:
        raise LessonError(str(exc)) from None
    try:
        return lesson_from_dict(data, path.stem, path.parent)
    except (CheckArgError, LessonError) as exc:
        raise LessonError(f"lesson {path.name}: {exc}") from None


def lesson_from_dict(data: object, lesson_id: str, folder: Path = LESSONS_DIR) -> Lesson:
    if not isinstance(data, dict):
        raise LessonError("a lesson must be a JSON object")
    if data.get("format") != LESSON_FORMAT:
        raise LessonError(f"\"format\" must be \"{LESSON_FORMAT}\", got {data.get('format')!r}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise LessonError(f"\"version\" must be a whole number, got {version!r}")
    if version > LESSON_VERSION:
        raise LessonError(f"it was written for a newer CNN Designer (lesson format {version}, this app reads "
                          f"up to {LESSON_VERSION}); update the app")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise LessonError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
    match = re.match(r"^(\d+)-", lesson_id)
    if not match:
        raise LessonError("the file name must start with the lesson number, e.g. 01-first-cnn.json")
    title = _text(data, "title")
    design = _design(data.get("design"), "design", title, folder)
    graph = design.load()
    more = data.get("more_designs", [])
    if not isinstance(more, list):
        raise LessonError("\"more_designs\" must be a list of {\"title\": ..., \"file\": ...}")
    more_designs = tuple(_design(m, f"more_designs[{i}]", None, folder) for i, m in enumerate(more))
    steps = _steps(data.get("steps"), _all_nodes([graph] + [ref.load() for ref in more_designs]))
    return Lesson(id=lesson_id, number=int(match.group(1)), title=title, summary=_text(data, "summary"),
                  design=design, more_designs=more_designs, dataset=_dataset(data.get("dataset")),
                  training=_training(data.get("training")), introduction=_paragraphs(data, "introduction"),
                  wrap_up=_paragraphs(data, "wrap_up", required=False), steps=steps,
                  path=folder / f"{lesson_id}.json")


def _all_nodes(graphs) -> GraphSpec:
    """The nodes of all the lesson's designs, so a step may name a node of any of them."""
    nodes: dict = {}
    for g in graphs:
        for n in g.nodes:
            nodes.setdefault(n.id, n)
    return GraphSpec(nodes=tuple(nodes.values()))


def _text(data: dict, key: str, where: str = "", required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise LessonError(f"{where}\"{key}\" must be a non-empty text, got {value!r}")
    return value.strip()


def _paragraphs(data: dict, key: str, required: bool = True) -> tuple:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value) or \
            not all(isinstance(p, str) and p.strip() for p in value):
        raise LessonError(f"\"{key}\" must be a list of paragraphs (non-empty texts)")
    return tuple(p.strip() for p in value)


def _design(raw, where: str, default_title, folder: Path) -> DesignRef:
    if not isinstance(raw, dict) or len({"template", "file"} & set(raw)) != 1 or \
            set(raw) - {"template", "file", "title"}:
        raise LessonError(f"\"{where}\" must be {{\"template\": NAME}} or {{\"file\": \"designs/NAME.json\"}}, "
                          f"optionally with a \"title\"")
    title = raw.get("title", default_title)
    if not isinstance(title, str) or not title.strip():
        raise LessonError(f"\"{where}\" needs a \"title\" (shown on its button)")
    if "template" in raw:
        name = raw["template"]
        if not isinstance(name, str) or not (TEMPLATE_DIR / f"{name}.json").is_file():
            known = ", ".join(sorted(p.stem for p in TEMPLATE_DIR.glob("*.json")))
            raise LessonError(f"\"{where}\": no template {name!r}; available: {known}")
        ref = DesignRef(title.strip(), template=name, folder=folder)
    else:
        name = raw["file"]
        designs = (folder / "designs").resolve()
        target = (folder / name).resolve() if isinstance(name, str) and name else None
        if target is None or target.parent != designs or target.suffix != ".json" or not target.is_file():
            raise LessonError(f"\"{where}\": {name!r} must name an existing .json file in the lessons' designs "
                              f"folder, e.g. \"designs/big_net.json\"")
        ref = DesignRef(title.strip(), file=f"designs/{target.name}", folder=folder)
    try:
        graph = ref.load()
    except (ValueError, KeyError, OSError) as exc:
        raise LessonError(f"\"{where}\" cannot be opened: {exc}") from None
    analysis = analyze(graph)
    if not analysis.ok:
        raise LessonError(f"\"{where}\" has errors: {analysis.errors[0]}")
    return ref


def _dataset(raw) -> Optional[DatasetChoice]:
    if raw is None:
        return None
    infos = {i.key: i for i in list_datasets()}
    if not isinstance(raw, dict) or set(raw) - {"key", "size"} or raw.get("key") not in infos:
        raise LessonError(f"\"dataset\" must be {{\"key\": KEY}} (optionally with \"size\"), KEY one of "
                          f"{', '.join(infos)}; got {raw!r}")
    size = raw.get("size")
    if size is not None:
        if infos[raw["key"]].default_size is None:
            raise LessonError(f"\"dataset\": {raw['key']} has a fixed size; remove \"size\"")
        if isinstance(size, bool) or not isinstance(size, int) or size < MIN_DATA_SIZE:
            raise LessonError(f"\"dataset\": size must be a whole number of at least {MIN_DATA_SIZE}, got {size!r}")
    return DatasetChoice(raw["key"], size)


def _training(raw) -> Optional[TrainConfig]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise LessonError("\"training\" must be an object of training settings, e.g. {\"epochs\": 5}")
    if "freeze" in raw or "data_size" in raw:
        raise LessonError("\"training\" cannot set freeze or data_size (use \"dataset\": {\"size\": N}); "
                          "freezing is the student's step")
    try:
        return TrainConfig.from_dict({**TrainConfig().to_dict(), **raw})
    except ValueError as exc:
        raise LessonError(f"\"training\": {exc}") from None


def _steps(raw, graph: GraphSpec) -> tuple:
    if not isinstance(raw, list) or not MIN_STEPS <= len(raw) <= MAX_STEPS:
        raise LessonError(f"\"steps\" must be a list of {MIN_STEPS} to {MAX_STEPS} steps")
    steps, seen = [], set()
    for i, s in enumerate(raw):
        where = f"step {i + 1}"
        if not isinstance(s, dict):
            raise LessonError(f"{where} must be an object with \"id\", \"text\" and \"done_when\"")
        unknown = sorted(set(s) - _STEP_KEYS)
        if unknown:
            raise LessonError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_STEP_KEYS))}")
        sid = s.get("id")
        if not isinstance(sid, str) or not STEP_ID.match(sid) or sid in seen:
            raise LessonError(f"{where}: \"id\" must be a unique short name (a-z, 0-9, _), got {sid!r}")
        seen.add(sid)
        condition = validate_condition(s.get("done_when"), graph, f"{where} ({sid}) done_when")
        step = Step(sid, _text(s, "text", f"{where}: "), condition, _text(s, "hint", f"{where}: ", False),
                    _text(s, "prompt", f"{where}: ", False))
        if step.needs_answer and not step.prompt:
            raise LessonError(f"{where}: a prediction step needs a \"prompt\" for its answer box")
        steps.append(step)
    return tuple(steps)

