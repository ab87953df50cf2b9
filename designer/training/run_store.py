"""Where finished runs are kept: one RunRecord folder per run under the app's data folder."""
from __future__ import annotations

import copy
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.insight.run_diff import diff_graphs
from engine.training.checkpoint import checkpoint_path, load_checkpoint
from engine.training.run_record import RunRecord, RunRecordError, check_run_id

log = logging.getLogger(__name__)


def default_runs_dir() -> Path:
    """$CNN_DESIGNER_SETTINGS_DIR/runs under tests, else the per-user data folder."""
    from PySide6.QtCore import QStandardPaths

    from designer.settings import APPLICATION, override_dir

    folder = override_dir()
    if folder is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(base or Path.home()) / APPLICATION
    return folder / "runs"


def _log_failure(future) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("could not save the run's progress: %s", exc)


class RunStore:
    """Runs on disk, newest last. Records are listed without weights; weights load on demand."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()
        self._records: dict = {}
        self.problems: list = []   # folders that could not be read, with the reason
        # Progress saves (six files, each fsync'ed) go to one writer thread, in order, so a run's epoch end
        # never stalls the window; save() and flush() wait for them.
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list = []
        self._lock = threading.Lock()

    def refresh(self) -> list:
        self._records, self.problems = {}, []
        if self.root.is_dir():
            for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
                try:
                    rec = RunRecord.load(folder, load_weights=False)
                except (RunRecordError, OSError, ValueError) as exc:  # a damaged run is listed as a problem;
                    self.problems.append(str(exc))                     # the others still load
                    continue
                self._records[rec.id] = rec
        return self.records()

    def problems_message(self) -> str:
        """One sentence for the run folders the last refresh() skipped ("" when none)."""
        if not self.problems:
            return ""
        count = len(self.problems)
        what = "1 saved run could not be read" if count == 1 else f"{count} saved runs could not be read"
        return (f"{what} and {'is' if count == 1 else 'are'} not listed (move or delete the folder to silence "
                f"this): {self.problems[0][:300]}")

    def records(self) -> list:
        return sorted(self._records.values(), key=lambda r: r.created)

    def get(self, run_id: str) -> RunRecord:
        return self._records[run_id]

    def folder(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def save(self, record: RunRecord) -> Path:
        """Write the run (with its weights) and keep it listed without them."""
        self.flush()   # an older progress save must not land after this one
        path = record.save(self.folder(record.id))
        weights, record.weights = record.weights, None
        self._records[record.id] = record
        del weights
        return path

    def save_progress(self, record: RunRecord) -> None:
        """Write a running run's record and metrics so far (no weights: its checkpoints hold them), so a
        crash of the app keeps them; the run is listed once it ends. Written by a background thread from a
        copy taken now; flush() waits until it is on disk."""
        snapshot = copy.copy(record)
        snapshot.step_metrics = {k: list(v) for k, v in record.step_metrics.items()}
        snapshot.epoch_metrics = {k: list(v) for k, v in record.epoch_metrics.items()}
        snapshot.weights = None
        folder = self.folder(record.id)
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-progress")
            future = self._writer.submit(snapshot.save, folder)
            self._pending = [f for f in self._pending if not f.done()] + [future]
        future.add_done_callback(_log_failure)

    def flush(self) -> None:
        """Wait until every progress save handed to the writer thread has been written (or has failed)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            future.exception()   # waits; a failure was already logged

    def load_weights(self, run_id: str) -> dict:
        rec = RunRecord.load(self.folder(run_id), load_weights=True)
        if rec.weights is None:
            # a run cut short by a crash, or one that failed, still has its last checkpoint
            last = checkpoint_path(self.folder(run_id), "last")
            if last.is_file():
                return dict(load_checkpoint(last)["model"])
            raise RunRecordError(f"run {self._records[run_id].name or run_id} has no saved weights "
                                 f"(it was stopped before training any step)")
        return rec.weights

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.folder(run_id), ignore_errors=True)
        self._records.pop(run_id, None)

    def next_name(self, graph) -> str:
        """"Run N · design name", plus how the design differs from the last run of the same name, so two
        runs of an edited design can be told apart in lists and legends."""
        name = f"Run {len(self._records) + 1}" + (f" · {graph.name}" if graph.name else "")
        earlier = [r for r in self.records() if r.graph is not None and r.graph.name == graph.name]
        change = diff_graphs(earlier[-1].graph, graph).summary() if earlier else ""
        return f"{name} ({change})" if change else name
