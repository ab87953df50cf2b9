"""Watches the main window for what a lesson checklist cares about and builds the LessonState from it.

It listens to the document, the selection, the training dashboard (settings, runs, loaded weights) and the
visibility of the panels it is handed (the window builds them and passes them in), and emits `changed` once per burst of signals (a zero-length timer coalesces
them), so the checklist is re-evaluated cheaply after every relevant change and never in a tight loop.
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QDockWidget

from engine.teaching.lesson_state import LessonState, View, run_summary_from_record

class LessonTracker(QObject):
    changed = Signal()
    run_finished = Signal(str, str)     # run id, id of the run whose weights it started from ("" = none)

    def __init__(self, window, training=None, panels=None, parent=None):
        """`training` is the training dashboard (or None); `panels` maps a lesson panel name ("explain",
        "playground") to its widget, for "look at this panel" steps."""
        super().__init__(parent)
        self.window = window
        self.dashboard = training
        self.panels = dict(panels or {})
        self._summaries: dict = {}      # run id -> RunSummary (runs never change once finished)
        self._starting_from = ""        # warm-start source of the run in progress
        self._watched_docks: set = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.changed)
        self._connect()

    # ---- wiring ---------------------------------------------------------------------------------------
    def _connect(self):
        w, poke = self.window, self.poke
        w.document.analysis_changed.connect(poke)
        w.document.graph_replaced.connect(poke)
        w.selection_changed.connect(poke)
        dash = self.dashboard
        if dash is not None:
            dash.run_finished.connect(self._on_run_finished)
            dash.controller.running_changed.connect(self._on_running_changed)
            dash.data.choice.currentIndexChanged.connect(poke)
            dash.data.dataset_loaded.connect(poke)
            dash.augment.changed.connect(poke)
            dash.form.freeze.textChanged.connect(poke)
            dash.runs.load_weights_requested.connect(poke)
            dash.runs.overlay_changed.connect(poke)
            dash.insight.currentChanged.connect(poke)
        self.watch_docks()

    def watch_docks(self) -> None:
        """Follow the visibility of every dock (panels installed later are picked up on the next call)."""
        for dock in self.window.findChildren(QDockWidget):
            if dock.objectName() not in self._watched_docks:
                self._watched_docks.add(dock.objectName())
                dock.visibilityChanged.connect(self.poke)

    def poke(self, *_):
        self._timer.start()

    # ---- runs -----------------------------------------------------------------------------------------
    def _on_running_changed(self, running: bool):
        if running:
            warm = getattr(self.dashboard, "warm_start", None)
            self._starting_from = warm[0] if warm else ""
        self.poke()

    def _on_run_finished(self, _event):
        record = self.dashboard.record
        if record is None:
            return
        summary = run_summary_from_record(record, self._starting_from)
        self._summaries[record.id] = summary
        self.run_finished.emit(record.id, self._starting_from)
        self._starting_from = ""
        self.poke()

    def compared_runs(self) -> list:
        """Ids of the runs ticked in the Runs tab, if the tab is on screen now; else none. Ticks count only
        where the student can see them (a finished run relists the runs and repeats the ticks of earlier
        runs, e.g. of another design, without anyone looking)."""
        runs = getattr(self.dashboard, "runs", None)
        if runs is None or not runs.isVisible() or runs.visibleRegion().isEmpty():
            return []
        return runs.checked_ids()

    def summaries(self, run_ids, warm_starts: dict) -> tuple:
        """RunSummary of each run id still in the run store (deleted runs are left out)."""
        out = []
        dash = self.dashboard
        for run_id in run_ids:
            summary = self._summaries.get(run_id)
            if summary is None and dash is not None:
                try:
                    summary = run_summary_from_record(dash.store.get(run_id), warm_starts.get(run_id, ""))
                except KeyError:
                    continue
                self._summaries[run_id] = summary
            if summary is not None:
                out.append(summary)
        return tuple(out)

    # ---- what is on screen ------------------------------------------------------------------------------
    def panel_widgets(self) -> dict:
        dash, out = self.dashboard, {}
        if dash is not None:
            out.update(curves=dash.curves, feature_maps=dash.feature_maps, filters=dash.filters,
                       results=dash.results, runs=dash.runs, training=dash.settings_panel)
        out.update(self.panels)
        return out

    def visible_views(self, progress) -> set:
        """View records for the panels the student can see right now. "Trained" means the weights at hand
        were trained for exactly this design during the lesson (not in some earlier session)."""
        if not self.window.isVisible():
            return set()
        dash = self.dashboard
        graph = self.window.document.graph
        trained = bool(dash is not None and dash.has_trained_weights() and any(
            r.graph == graph for r in self.summaries(progress.run_ids, progress.warm_starts)))
        node = self.window.selected_node_id()
        kind = graph.node(node).kind if node and graph.has_node(node) else ""
        views = set()
        for panel, widget in self.panel_widgets().items():
            if not widget.isVisible() or widget.visibleRegion().isEmpty():
                continue
            if panel == "feature_maps" and dash.current_probe() is None:
                continue   # no image loaded yet: the tab shows nothing to look at
            views.add(View(panel, trained, kind))
        return views

    # ---- the state ------------------------------------------------------------------------------------
    def state(self, progress) -> LessonState:
        """The LessonState for `progress` (runs, answers and views remembered for the lesson) and the window."""
        doc, dash = self.window.document, self.dashboard
        dataset_key, config, pending = "", None, False
        if dash is not None:
            dataset_key = dash.data.key or ""
            try:
                config = replace(dash.form.config(), augmentation=dash.augment.augmentation())
            except ValueError:   # a half-typed setting: the settings checks wait for a valid one
                config = None
            pending = dash.warm_start is not None
        return LessonState(graph=doc.graph, analysis=doc.analysis, selected=self.window.selected_node_id(),
                           dataset_key=dataset_key, config=config,
                           runs=self.summaries(progress.run_ids, progress.warm_starts),
                           viewed=frozenset(progress.viewed), answers=dict(progress.answers),
                           warm_start_pending=pending)
