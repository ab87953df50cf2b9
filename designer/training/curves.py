"""Live training curves: loss, accuracy and learning rate, redrawn by a timer at a bounded rate.

Events only append to column buffers (cheap, once per report); a 4 Hz timer redraws when something
changed, so a fast run never floods the GUI thread with redraws. Other runs can be overlaid dashed.
"""
from __future__ import annotations

import csv
from dataclasses import fields

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from engine.atomic_write import replacing
from engine.insight.smoothing import exponential_moving_average
from engine.training.events import EpochMetrics, StepMetrics

STEP_COLUMNS = tuple(f.name for f in fields(StepMetrics))
EPOCH_COLUMNS = tuple(f.name for f in fields(EpochMetrics))
REDRAW_MS = 500
PART_GAP_MS = 12   # between drawing one plot and the next, so each is painted in an event-loop turn of its own
TRAIN_COLOUR, VAL_COLOUR, LR_COLOUR = "#1f77b4", "#d62728", "#2ca02c"
OVERLAY_COLOURS = ("#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")


class MetricsBuffer:
    """Step and epoch metrics as column lists (the same layout RunRecord stores)."""

    def __init__(self):
        self.steps = {c: [] for c in STEP_COLUMNS}
        self.epochs = {c: [] for c in EPOCH_COLUMNS}

    def add(self, event) -> None:
        table = self.steps if isinstance(event, StepMetrics) else self.epochs if isinstance(event, EpochMetrics) else None
        if table is not None:
            for name in table:
                table[name].append(getattr(event, name))

    def clear(self) -> None:
        for table in (self.steps, self.epochs):
            for values in table.values():
                values.clear()

    def epoch_steps(self, steps_per_epoch: int | None = None) -> np.ndarray:
        """The global step at which each epoch ended, for drawing per-epoch values on the step axis."""
        epochs = np.asarray(self.epochs["epoch"], dtype=np.float64)
        if steps_per_epoch is None:
            spe = self.steps["steps_per_epoch"]
            steps_per_epoch = spe[-1] if spe else 1
        return (epochs + 1) * steps_per_epoch


class CurvesView(QWidget):
    """Three linked plots (loss, accuracy, learning rate) against the training step."""

    redrawn = Signal()  # after each throttled redraw (tests and the benchmark count these)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.metrics = MetricsBuffer()
        self.metric_name = "accuracy"   # the task's score the middle plot shows (engine.training.tasks.METRIC)
        self.redraw_count = 0
        self._dirty = False
        self._overlays: list = []
        self._overlays_drawn = None    # (the overlays list, the smoothing) last drawn
        self._overlay_items: list = []
        pg.setConfigOptions(antialias=True)
        self.plots = pg.GraphicsLayoutWidget()
        # side by side: the dock sits under the canvas, so it is wide and short
        self.loss_plot = self._plot(0, "Loss", "loss")
        self.acc_plot = self._plot(1, "Accuracy", "accuracy")
        self.lr_plot = self._plot(2, "Learning rate", "lr")
        self._all_plots = (self.loss_plot, self.acc_plot, self.lr_plot)
        self._parts: list = []
        self._part_timer = QTimer(self, singleShot=True, interval=PART_GAP_MS)
        self._part_timer.timeout.connect(self._draw_next_part)
        # The step axes are kept equal by hand rather than linked: a linked change redid all three axes in
        # one repaint (see redraw_in_parts); a zoom or pan by the user still moves all three.
        for plot in self._all_plots:
            plot.vb.sigRangeChangedManually.connect(lambda _mask, source=plot: self._follow_user_zoom(source))
        # Fixed axes are not laid out again at each redraw (see _hold_step_axis): accuracy is a fraction.
        self.acc_plot.setYRange(0.0, 1.0, padding=0.02)
        self._step_axis_end = {}
        self._lr_axis_top = None
        self._loss_axis = None
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.setLabel("bottom", "step")
        # A linear axis: pyqtgraph's log axis labels every tick within a decade and they overlap, and the
        # schedules offered (constant, step, cosine, one-cycle) read well on a linear scale.
        self.plots.ci.layout.setColumnStretchFactor(2, 0)
        self.acc_plot.setYRange(0, 1, padding=0.02)
        pen = lambda c, w=2, style=None: pg.mkPen(c, width=w, style=style or Qt.PenStyle.SolidLine)  # noqa: E731
        self.train_loss_raw = self.loss_plot.plot(pen=pg.mkPen(TRAIN_COLOUR + "40", width=1))
        self.train_loss = self.loss_plot.plot(pen=pen(TRAIN_COLOUR), name="train (per step)")
        self.val_loss = self.loss_plot.plot(pen=pen(VAL_COLOUR), symbol="o", symbolSize=7,
                                            symbolBrush=VAL_COLOUR, name="validation (per epoch)")
        self.train_acc_raw = self.acc_plot.plot(pen=pg.mkPen(TRAIN_COLOUR + "40", width=1))
        self.train_acc = self.acc_plot.plot(pen=pen(TRAIN_COLOUR), name="train (per step)")
        self.val_acc = self.acc_plot.plot(pen=pen(VAL_COLOUR), symbol="o", symbolSize=7, symbolBrush=VAL_COLOUR,
                                          name="validation (per epoch)")
        self.lr_curve = self.lr_plot.plot(pen=pen(LR_COLOUR), name="learning rate")
        self._follow_palette()
        self._hover_labels = {}
        self._hover_lines = {}
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", style=Qt.PenStyle.DotLine))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._hover_lines[plot] = line
        self.hover_text = QLabel("Hover over a plot to read its values.")
        self.hover_text.setObjectName("curveHover")
        self.plots.scene().sigMouseMoved.connect(self._hover)

        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setMinimumWidth(90)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Exponential smoothing of the per-step training curves (0 = raw values)")
        self.smoothing.valueChanged.connect(self.mark_dirty)
        self.show_raw = QCheckBox("Raw")
        self.show_raw.setChecked(True)
        self.show_raw.setToolTip("Also draw the unsmoothed per-step values, faintly")
        self.show_raw.toggled.connect(self.mark_dirty)
        export_png = QPushButton("PNG…")
        export_png.setToolTip("Save the plots as a PNG image")
        export_png.clicked.connect(self._ask_export_png)
        export_csv = QPushButton("CSV…")
        export_csv.setToolTip("Save the step and epoch metrics as CSV")
        export_csv.clicked.connect(self._ask_export_csv)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing, 2)
        bar.addWidget(self.show_raw)
        bar.addStretch(1)
        bar.addWidget(QLabel("Export:"))
        bar.addWidget(export_png)
        bar.addWidget(export_csv)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.hover_text)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_dirty)
        self._timer.start()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._follow_palette()

    def _follow_palette(self) -> None:
        """Plot background, axes, titles and legends in the current theme's colours (light or dark)."""
        palette = self.palette()
        base, text = palette.base().color(), palette.text().color()
        dark = base.lightness() < 128
        self.plots.setBackground(base)
        axis_pen = pg.mkPen(text.name())
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(axis_pen)
                axis.setTextPen(axis_pen)
            plot.setTitle(plot.titleLabel.text, color=text.name())
            legend = plot.legend
            if legend is not None:
                legend.setBrush(pg.mkBrush(40, 40, 40, 215) if dark else pg.mkBrush(255, 255, 255, 215))
                legend.setPen(pg.mkPen("#555" if dark else "#ccc"))
                legend.setLabelTextColor(text.name())
                for _sample, label in legend.items:  # existing labels keep their colour otherwise
                    label.setText(label.text, color=text.name())

    def _plot(self, row, title, key):
        plot = self.plots.addPlot(row=0, col=row, title=title)
        plot.showGrid(x=True, y=True, alpha=0.25)
        if key != "lr":  # loss falls and accuracy rises: keep each legend out of its curve's way
            # an opaque-ish box: the live curve often runs under the legend and would cross its text
            # small type, tight rows: in a laptop's 250-pixel-high plots a 9-point legend covered the curves
            plot.addLegend(offset=(-6, 6) if key == "loss" else (-6, -6), brush=pg.mkBrush(255, 255, 255, 215),
                           pen=pg.mkPen("#ccc"), labelTextColor="#333", labelTextSize="7.5pt", verSpacing=-6,
                           horSpacing=2)
        plot.setMenuEnabled(False)
        # Each axis draws its grid across the plot, so every curve update repainted it: a replay of its
        # recorded tick text that took most of a redraw. Keep its drawing as a pixmap until the axis changes.
        # Grid lines at major and minor ticks only: pyqtgraph's third level added about fifty faint lines per
        # axis and made a plot's repaint after an axis change take 40 ms instead of 16 ms.
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            axis.setStyle(maxTickLevel=1)
        return plot

    # ---- data in ---------------------------------------------------------------------------------
    def add_event(self, event) -> None:
        """Append a StepMetrics or EpochMetrics; the next timer tick redraws."""
        self.metrics.add(event)
        self._dirty = True

    def clear(self) -> None:
        self.metrics.clear()
        self._dirty = True

    def set_metric(self, name: str) -> None:
        """What the middle plot shows: "accuracy", or the task's own score ("box hits", "detection F1", ...)."""
        self.metric_name = name
        self.acc_plot.setTitle(name[:1].upper() + name[1:])

    def mark_dirty(self, *_):
        self._dirty = True

    def set_overlays(self, runs) -> None:
        """Other runs to draw dashed: [(name, steps dict, epochs dict)], e.g. from RunRecords."""
        self._overlays = list(runs)
        self._dirty = True

    # ---- drawing ---------------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty and self.isVisible() and not self._parts:
            self.redraw_in_parts()

    def redraw(self) -> None:
        """Bring all three plots up to date now (tests, export, the end of a run)."""
        self._part_timer.stop()
        self._parts = self._plan()
        while self._parts:
            self._parts.pop(0)()

    def redraw_in_parts(self) -> None:
        """Bring the plots up to date one plot per event-loop turn. A plot whose axis changed repaints in
        about 5 ms, all three in one go took 15-25 ms on a laptop-class CPU shared with training, and
        the window could not answer meanwhile."""
        self._parts = self._plan()
        self._draw_next_part()

    def _draw_next_part(self) -> None:
        if self._parts:
            self._parts.pop(0)()
        if self._parts:
            self._part_timer.start()

    def _plan(self) -> list:
        self._dirty = False
        weight = self.smoothing.value() / 100.0
        raw = self.show_raw.isChecked()
        s, e = self.metrics.steps, self.metrics.epochs
        step = np.asarray(s["step"], dtype=np.float64)
        loss = np.asarray(s["loss"], dtype=np.float64)
        acc = np.asarray(s["accuracy"], dtype=np.float64)
        lr = np.asarray(s["lr"], dtype=np.float64)
        at = self.metrics.epoch_steps()
        val_loss, val_acc = _finite(e["val_loss"]), _finite(e["val_accuracy"])

        def draw_loss():
            self.train_loss.setData(step, exponential_moving_average(loss, weight) if len(loss) else loss)
            self.train_loss_raw.setData(step if raw else [], loss if raw else [])
            self.val_loss.setData(at, val_loss, connect="finite")
            self._draw_overlays(weight)
            self._hold_step_axis(self.loss_plot)
            self._fit_loss_axis(loss if raw else self.train_loss.getData()[1], val_loss)

        def draw_accuracy():
            self.train_acc.setData(step, exponential_moving_average(acc, weight) if len(acc) else acc)
            self.train_acc_raw.setData(step if raw else [], acc if raw else [])
            self.val_acc.setData(at, val_acc, connect="finite")
            self._hold_step_axis(self.acc_plot)

        def draw_lr():
            self.lr_curve.setData(step, lr)
            self._fit_lr_axis(lr)
            self._hold_step_axis(self.lr_plot)

        def done():
            self.redraw_count += 1
            self.redrawn.emit()

        return [draw_loss, draw_accuracy, draw_lr, done]

    def _step_axis_length(self) -> float:
        ends = [float(t) for t in self.metrics.steps["total_steps"][-1:]]
        ends += [float(max(steps.get("step") or [0])) for _name, steps, _epochs in self._overlays]
        return max(ends, default=0.0)

    def _hold_step_axis(self, plot) -> None:
        """The step axis spans the whole run (its length comes with the first report) and any compared run,
        instead of growing with every redraw: pyqtgraph lays out and renders an axis's tick labels again
        whenever its range changes, and for three plots that was most of the window's work while training
        (redraws of up to ~50 ms, the longest event-loop stalls)."""
        end = self._step_axis_length()
        if end <= 0:
            if self._step_axis_end.get(plot) is not None:
                self._step_axis_end[plot] = None
                plot.enableAutoRange(axis="x")
                if plot is self.lr_plot:
                    plot.getAxis("bottom").setTicks(None)
        elif end != self._step_axis_end.get(plot):
            self._step_axis_end[plot] = end
            plot.setXRange(0.0, end, padding=0.02)
            if plot is self.lr_plot:   # narrow: two or three labels, or "200400600800" ran together
                step = _nice_step(end / 2.5)
                ticks = [(i * step, f"{i * step:g}") for i in range(int(end // step) + 1)]
                plot.getAxis("bottom").setTicks([ticks, []])

    def _follow_user_zoom(self, source) -> None:
        """A zoom or pan of one plot's step axis by the user moves the other two with it."""
        low, high = source.vb.viewRange()[0]
        for plot in self._all_plots:
            if plot is not source:
                plot.setXRange(low, high, padding=0)

    def _fit_loss_axis(self, *series) -> None:
        """Refit the loss axis only when the curves leave it or shrink to under a third of it: autorange
        refitted (and re-rendered the tick labels) at every redraw."""
        values = [np.asarray(v, dtype=np.float64) for v in series if v is not None and len(v)]
        values += [np.asarray(item.getData()[1], dtype=np.float64) for plot, item in self._overlay_items
                   if plot is self.loss_plot and item.getData()[1] is not None]
        finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
        if not finite.size:
            if self._loss_axis is not None:
                self._loss_axis = None
                self.loss_plot.enableAutoRange(axis="y")
            return
        low, high = min(0.0, float(finite.min())), float(finite.max())
        if self._loss_axis is not None:
            shown_low, shown_high = self._loss_axis
            if low >= shown_low and high <= shown_high and high - low > (shown_high - shown_low) / 3:
                return
        span = (high - low) or 1.0
        self._loss_axis = (low, high + 0.05 * span)
        self.loss_plot.setYRange(*self._loss_axis, padding=0)

    def _fit_lr_axis(self, lr) -> None:
        """Start the axis at zero; pyqtgraph would centre a constant rate in a ±0.5 band and read 0."""
        if len(lr):
            top = float(np.nanmax(lr)) if np.isfinite(lr).any() else 0.0
            top = top * 1.1 if top > 0 else 1.0
            if top != self._lr_axis_top:   # an unchanged range is not set again: that would redo the axis
                self._lr_axis_top = top
                self.lr_plot.setYRange(0.0, top, padding=0)

    def _draw_overlays(self, weight) -> None:
        """Draw the compared runs again only when they or the smoothing changed: they do not change while
        training, and new items on all three plots made every redraw repaint everything."""
        drawn = (self._overlays, weight)
        if self._overlays_drawn is not None and self._overlays_drawn[0] is drawn[0] \
                and self._overlays_drawn[1] == weight:
            return
        self._overlays_drawn = drawn
        for plot, item in self._overlay_items:
            plot.removeItem(item)
        self._overlay_items = []
        for i, (name, steps, epochs) in enumerate(self._overlays):
            colour = OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)]
            dash = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine)
            x = np.asarray(steps.get("step", []), dtype=np.float64)
            spe = steps.get("steps_per_epoch") or [1]
            ex = (np.asarray(epochs.get("epoch", []), dtype=np.float64) + 1) * spe[-1]
            for plot, column, table, xs, smooth in (
                    (self.loss_plot, "loss", steps, x, True), (self.acc_plot, "accuracy", steps, x, True),
                    (self.lr_plot, "lr", steps, x, False), (self.loss_plot, "val_loss", epochs, ex, False),
                    (self.acc_plot, "val_accuracy", epochs, ex, False)):
                y = _finite(table.get(column, []))
                if len(y) != len(xs) or not len(y):
                    continue
                if smooth:
                    y = exponential_moving_average(y, weight)
                # named once, in the loss legend: a second legend of runs would cover the accuracy curves
                label = f"{name}" if column == "loss" else None
                item = plot.plot(xs, y, pen=dash, name=label, connect="finite",
                                 symbol="t" if table is epochs else None, symbolSize=6, symbolBrush=colour)
                self._overlay_items.append((plot, item))

    def _hover(self, pos) -> None:
        for plot in self._hover_lines:
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                text = self.values_at(x)
                for other in self._hover_lines.values():
                    other.setPos(x)
                    other.setVisible(bool(text))
                self.hover_text.setText(text or "No values here yet.")
                return

    def values_at(self, x: float) -> str:
        """The values nearest to step x, as shown under the plots when hovering."""
        s, e = self.metrics.steps, self.metrics.epochs
        if not s["step"]:
            return ""
        i = int(np.clip(np.searchsorted(s["step"], x), 0, len(s["step"]) - 1))
        if i > 0 and abs(s["step"][i - 1] - x) < abs(s["step"][i] - x):
            i -= 1
        parts = [f"step {s['step'][i]} (epoch {s['epoch'][i] + 1})", f"loss {s['loss'][i]:.4f}",
                 f"{self.metric_name} {s['accuracy'][i]:.1%}", f"lr {s['lr'][i]:.3g}"]
        if e["epoch"]:
            at = self.metrics.epoch_steps()
            j = int(np.argmin(np.abs(at - x)))
            if abs(at[j] - x) <= max(1.0, s["steps_per_epoch"][-1] * 0.25):
                parts.append(f"│ epoch {e['epoch'][j] + 1}: val loss {e['val_loss'][j]:.4f}, "
                             f"val {self.metric_name} {e['val_accuracy'][j]:.1%}")
        return "   ".join(parts)

    # ---- export ----------------------------------------------------------------------------------
    def export_png(self, path: str) -> None:
        self.redraw()
        with replacing(path, keep_suffix=True) as tmp:   # atomic, like every file the app writes
            if not self.plots.grab().save(str(tmp), "PNG"):
                raise OSError(f"could not write {path}; choose a folder you can write to")

    def export_csv(self, path: str) -> None:
        """Step metrics, then a blank line and the epoch metrics, in one CSV file."""
        with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            for table in (self.metrics.steps, self.metrics.epochs):
                writer.writerow(table.keys())
                writer.writerows(zip(*table.values()))
                writer.writerow([])

    def _ask_export_png(self):
        self._ask_export("PNG image (*.png)", ".png", self.export_png)

    def _ask_export_csv(self):
        self._ask_export("CSV table (*.csv)", ".csv", self.export_csv)

    def _ask_export(self, file_filter, suffix, write):
        from designer import dialogs
        path, _ = QFileDialog.getSaveFileName(self, "Export training curves", "training-curves" + suffix, file_filter)
        if not path:
            return
        if not path.lower().endswith(suffix):
            path += suffix
        try:
            write(path)
        except OSError as exc:
            dialogs.show_error(self, "Export failed", f"Could not write {path}: {exc.strerror or exc}")


def _nice_step(at_least: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten that is at least `at_least`."""
    power = 10.0 ** np.floor(np.log10(max(at_least, 1e-12)))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= at_least)


def _finite(values) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
