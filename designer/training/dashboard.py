"""The training dashboard: runs the design in a worker thread and shows it learning.

It owns the widgets (settings, curves, feature maps, filters, results, runs) and the run in progress. What
belongs to the open design (its runs, result, weights, snapshot, probe image) lives in the window's
DesignState, which the window hands in; when the design is replaced the state says so and every view here
empties. It reads the design from a `source` GraphDocument (`graph`, `analysis`, `revision`, signals).
"""
from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from engine.compiler import input_shape
from engine.data import list_datasets
from engine.insight.memory import estimate_training_memory
from engine.training.config import TrainConfig
from engine.training.devices import device_name, resolve_device
from engine.training.run_record import RunRecord
from engine.training.tasks import METRIC
from designer.training.background import BackgroundCall
from designer.training.config_form import ConfigForm
from designer.training.control_panel import ControlPanel
from designer.training.curves import CurvesView
from designer.training.dashboard_insight import InsightMixin
from designer.training.data_panel import FOLDER_SETS, AugmentationPanel, DatasetPanel
from designer.training.feature_maps import FeatureMapsView
from designer.training.filters import FilterView
from designer.training.results import ResultsView
from designer.training.runs import RunsView
from designer.training.wheel_guard import WheelGuard
from designer.training.worker import TrainingController
from designer.design_state import DesignState

log = logging.getLogger(__name__)
SNAPSHOT_REDRAW_MS = 500
EDIT_SETTLE_MS = 400  # recompute feature maps once edits pause, not on every keystroke or drag


def _state_attribute(name: str, doc: str) -> property:
    """An attribute kept in the DesignState (so it is dropped with its design), readable here as before."""
    return property(lambda self: getattr(self.state, name), lambda self, value: setattr(self.state, name, value),
                    doc=doc)


class TrainingDashboard(InsightMixin, QObject):
    status = Signal(str)            # one-line messages for the window's status bar
    run_finished = Signal(object)   # Finished, after results and the run record are stored
    # Load the chosen (offline) data set in the background the first time the dashboard is shown, so
    # sample images, the probe image and feature maps are there before the first run. The GUI tests turn
    # it off so every test decides itself what is loaded.
    preload_on_show = True

    weights = _state_attribute("weights", "latest weights as numpy (see weights_graph)")
    weights_graph = _state_attribute("weights_graph", "the graph the weights were trained for")
    warm_start = _state_attribute("warm_start", "(run id, weights) to start the next run from")
    result = _state_attribute("result", "EvaluationResult shown in Results")
    probe_image = _state_attribute("probe_image", "an image from a file, C×H×W, or None")
    _latest_snapshot = _state_attribute("snapshot", "newest activation snapshot of this design's run")

    def __init__(self, source, runs_dir=None, parent=None, state=None):
        super().__init__(parent)
        self.source = source
        self.state = state if state is not None else DesignState(source, runs_dir, self)
        self.state.set_settings_source(lambda: (self.data.key or "", self.config()))
        self.store = self.state.store
        self.controller = TrainingController(self)
        self.record = None                  # RunRecord of the current (or last) run
        self.run_graph = self.run_analysis = None
        self.run_revision = -1
        self.stale = False
        self.selected = ""
        self.probe_index = 0
        self._snapshot_dirty = False
        self._maps_after_run = False        # a run finished: show its final weights' maps once the worker is done
        self._pending_start = False
        self._preloading = False
        self._preload_asked = False
        self._evaluator = BackgroundCall(self)
        self._evaluator.finished.connect(self._evaluated)
        self._evaluator.failed.connect(lambda exc: self._say(f"Evaluation failed: {exc}", error=True))
        self._build_widgets()
        self._connect()
        self._snapshot_timer = QTimer(self)
        self._snapshot_timer.setInterval(SNAPSHOT_REDRAW_MS)
        self._snapshot_timer.timeout.connect(self._render_snapshot)
        self._snapshot_timer.start()
        self.store.refresh()
        self._show_runs()
        self._update_device()
        if self.store.problems:   # damaged run folders are skipped, the others listed: say so once
            self._say(self.store.problems_message(), error=True)

    # ---- widgets ---------------------------------------------------------------------------------
    def _build_widgets(self):
        self.data = DatasetPanel()
        self.augment = AugmentationPanel()
        self.form = ConfigForm()
        self.controls = ControlPanel()
        settings = QWidget()
        box = QVBoxLayout(settings)
        box.addWidget(self.controls)
        for title, w in (("Data set", self.data), ("Hyper-parameters", self.form)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(w)
            box.addWidget(group)
        box.addWidget(self.augment)
        # The sample images last: a tall grid in the middle pushed Epochs and the other settings out of sight.
        samples = QGroupBox("Sample images")
        QVBoxLayout(samples).addWidget(self.data.samples)
        box.addWidget(samples)
        box.addStretch(1)
        self.settings_panel = QScrollArea()
        self.settings_panel.setWidgetResizable(True)
        self.settings_panel.setWidget(settings)
        WheelGuard(self.settings_panel).guard(settings)
        self.curves = CurvesView()
        self.feature_maps = FeatureMapsView()
        self.filters = FilterView()
        self.results = ResultsView()
        self.runs = RunsView()
        self.gallery = None
        self.insight = QTabWidget()
        self.insight.addTab(self.feature_maps, "Feature maps")
        self.insight.addTab(self.filters, "Filters")
        self.insight.addTab(self.results, "Results")
        self.insight.addTab(self.runs, "Runs")
        for shown in (self.insight, self.settings_panel):
            shown.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and not self._preload_asked and self.preload_on_show:
            self._preload_asked = True
            # after the event loop turns: a caller that sets a data set right after show() wins
            QTimer.singleShot(0, self.preload)
        return False

    def preload(self) -> bool:
        """Load the chosen data set in the background if nothing is loaded yet and it needs no download."""
        info = {i.key: i for i in list_datasets()}.get(self.data.key)
        if (self.data.dataset is not None or self.data.loading or self.controller.running or info is None
                or not info.offline or self.data.key in FOLDER_SETS):
            return False
        if self.source.analysis.ok:
            self.data.input_shape = tuple(input_shape(self.source.graph))
        self._preloading = True
        self.data.load()
        return True

    def _connect(self):
        c = self.controller
        c.started.connect(self._on_started)
        c.step.connect(self._on_step)
        c.epoch.connect(self._on_epoch)
        c.checkpoint.connect(self._on_checkpoint)
        c.snapshot.connect(self._on_snapshot)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(lambda running: self.controls.set_running(running, c.paused))
        # Finished arrives while the worker is still winding down (running): the maps of the final weights
        # can only be computed once it has let go (after a failed run there are no final weights to show).
        c.running_changed.connect(self._worker_let_go)
        c.paused_changed.connect(lambda paused: self.controls.set_running(c.running, paused))
        self.controls.start_clicked.connect(self.start)
        self.controls.pause_clicked.connect(self.toggle_pause)
        self.controls.stop_clicked.connect(self.stop)
        self.data.dataset_loaded.connect(self._dataset_loaded)
        self.data.status.connect(lambda text: self._say(text))
        # How far a load is goes to the panel only: the window's status line keeps what the person did last.
        self.data.progress_text.connect(lambda text: self.controls.show_message(text))
        self.data.load_failed.connect(self._load_failed)
        self.form.batch_size.valueChanged.connect(self._update_device)
        self.form.device.currentTextChanged.connect(self._update_device)
        self.form.optimizer.currentTextChanged.connect(self._update_device)
        self.feature_maps.probe_index_changed.connect(self._probe_index_chosen)
        self.feature_maps.probe_file_requested.connect(self._probe_from_file)
        self.results.evaluate_requested.connect(self.evaluate_current)
        self.results.cell_clicked.connect(self.open_gallery)
        self.runs.overlay_changed.connect(self._overlay_runs)
        self.runs.load_weights_requested.connect(self.load_run_weights)
        self.runs.delete_requested.connect(self._delete_run)
        self.source.graph_changed.connect(self._graph_changed)
        self.state.replaced.connect(self._design_replaced)
        self.state.runs_changed.connect(self._show_runs)
        self.state.training_chosen.connect(self._apply_choice)
        self.runs.show_all_changed.connect(self._show_runs)
        self._settle = QTimer(self, singleShot=True, interval=EDIT_SETTLE_MS)
        self._settle.timeout.connect(self._edits_settled)

    def _say(self, text: str, error: bool = False) -> None:
        self.controls.show_message(text, error)
        self.status.emit(text)

    # ---- starting and controlling a run ----------------------------------------------------------
    def config(self) -> TrainConfig:
        size = self.data.size.value() if self.data.size.isVisible() else None
        return replace(self.form.config(), augmentation=self.augment.augmentation(), data_size=size)

    def start(self) -> bool:
        """Start training the current design; False (with the reason shown) when it cannot start."""
        if self.controller.running:
            return False
        analysis = self.source.analysis
        if not analysis.ok:
            first = analysis.errors[0]
            self._say(f"Cannot train yet: {first}. Fix the {len(analysis.errors)} error(s) marked on the canvas, "
                      f"then press Start.", error=True)
            return False
        try:
            config = self.config()
        except ValueError as exc:
            self._say(f"Cannot train: {exc}.", error=True)
            return False
        want = tuple(input_shape(self.source.graph))
        d = self.data.dataset
        if d is None or d.key != self.data.key or tuple(d.input_shape) != want or \
                (config.data_size and d.info.default_size and len(d.train) + len(d.val) + len(d.test) != config.data_size):
            self._pending_start = True
            self.data.input_shape = want
            self.data.load()
            return True
        self._begin(config)
        return True

    def _begin(self, config: TrainConfig) -> None:
        graph, dataset = self.source.graph, self.data.dataset
        self.run_graph, self.run_analysis = graph, self.source.analysis
        self.run_revision = self.source.revision
        self.stale = False
        self.record = RunRecord(graph=graph, config=config, dataset_key=dataset.key, seed=config.seed,
                                name=self.store.next_name(graph))
        self.state.stamp(self.record)
        run_dir = self.store.folder(self.record.id)
        resume = None
        if self.warm_start is not None:
            from engine.insight.warm_start import write_warm_start
            run_id, weights = self.warm_start
            try:
                ws = write_warm_start(graph, config, weights, run_dir / "warm_start.pt")
            except ValueError as exc:
                self._say(f"Cannot start from the loaded weights: {exc}.", error=True)
                return
            resume = ws.path
            self._say(f"Starting from the weights of {self.store.get(run_id).name}: {ws.text()}.")
        probe = self.probe_image if self.probe_image is not None else self.probe_index
        self.curves.clear()
        self.curves.set_metric(METRIC.get(dataset.task, "accuracy"))
        self.feature_maps.clear_timelapse()
        self.feature_maps.set_graph(graph, self.run_analysis)
        self.controller.start(graph, dataset, config, run_dir=run_dir, probe=probe, resume=resume)
        if resume is None:
            self._say("Training…")

    def toggle_pause(self) -> None:
        self.controls.flush()
        if self.controller.paused:
            self.controller.resume()
            self._say("Training resumed.")
        else:
            self.controller.pause()
            self._say("Paused; press Resume to continue or Stop to end the run.")

    def stop(self) -> None:
        self._pending_start = False
        if self.controller.running:
            self.controller.stop()
            self._say("Stopping after the current step…")

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Window closing: stop the run and wait for every worker thread (at most ~timeout for training)."""
        ended = self.controller.shutdown(timeout_ms)
        self.store.flush()   # the run's progress on disk before the app goes
        self.data.wait()
        self._evaluator.wait()
        self._snapshot_timer.stop()
        return ended

    def _dataset_loaded(self, dataset) -> None:
        self.feature_maps.set_probe_count(len(dataset.test))
        self.augment.set_source_images(dataset.test.images[:8].numpy())
        self._update_device()
        preloaded, self._preloading = self._preloading, False
        if self._pending_start and preloaded:
            # Start was pressed while the preload ran: check that set fits, loading again if not
            self._pending_start = False
            self.start()
        elif self._pending_start:
            self._pending_start = False
            try:
                self._begin(self.config())
            except ValueError as exc:
                self._say(f"Cannot train: {exc}.", error=True)
        else:
            self._refresh_static_activations()

    def _load_failed(self, _message) -> None:
        self._pending_start = self._preloading = False

    def _graph_changed(self) -> None:
        if self.controller.running and self.source.revision != self.run_revision and not self.stale \
                and self.run_is_shown():
            self.stale = True
            if self.record is not None:
                self.record.name += " (stale: design edited during the run)"
            self._say("You edited the design during the run: this run is now stale. It keeps training the "
                      "design as it was at Start.")
        self._settle.start()  # restarts on every edit

    # ---- the open design ----------------------------------------------------------------------------
    def run_is_shown(self) -> bool:
        """True when the run in progress (or the last one) trained the design that is open now: only then do
        its curves, maps, filters and results belong on screen."""
        return self.record is not None and self.record.design_id == self.state.identity

    def _design_replaced(self, _identity: str) -> None:
        """Another design is open: the previous one's run stops, and nothing of it stays on screen."""
        self._pending_start = False
        self._maps_after_run = self.controller.running   # the new design's maps, once the old run let go
        if self.controller.running:
            self.controller.stop()   # it trained the old design; it ends in the Runs list as "stopped"
            self.status.emit("Stopped the previous design's run; it stays in the Runs list (show other designs).")
        self._module_key = self._module_cache = None
        self._snapshot_dirty = False
        self.selected = ""
        self.curves.clear()
        self.curves.set_overlays([])
        self.curves.redraw()
        self.feature_maps.clear()
        self.filters.set_filters("", None)
        self.results.clear()
        if self.gallery is not None:
            self.gallery.hide()
        self.controls.clear_status()
        self.runs.clear_checks()
        self._show_runs()
        self._update_device()
        self._refresh_static_activations()

    def _worker_let_go(self, running: bool) -> None:
        if not running and self._maps_after_run:
            self._maps_after_run = False
            self._refresh_static_activations()

    def _show_runs(self, *_) -> None:
        records = self.store.records()
        self.runs.set_records(records, {r.id for r in records if self.state.owns_run(r)})

    def _apply_choice(self, choice) -> None:
        """A data set and settings chosen for the design (a lesson's); the device stays the student's own."""
        if choice.dataset_key is not None:
            self.data.select(choice.dataset_key)        # resets the size to the set's default
            if choice.size is not None:
                self.data.size.setValue(choice.size)
        if choice.config is not None:
            config = replace(choice.config, device=self.form.device.currentText())
            self.form.set_config(config)
            self.augment.set_augmentation(config.augmentation)

    def _edits_settled(self) -> None:
        self._update_device()
        if not self.controller.running:
            self._refresh_static_activations()

    def _update_device(self, *_):
        try:
            device = resolve_device(self.form.device.currentText())
            text = device_name(device)
        except (ValueError, RuntimeError) as exc:
            text = f"unavailable ({exc})"
        analysis = self.source.analysis
        memory = None
        if analysis.ok:
            d = self.data.dataset
            values = 0 if d is None else sum(int(s.images.numel()) for s in (d.train, d.val, d.test)
                                             if not getattr(s.images, "lazy", False))   # streamed: on disk
            memory = estimate_training_memory(analysis, self.form.batch_size.value(),
                                              self.form.optimizer.currentText(), values)
        self.controls.show_device(text, memory)
