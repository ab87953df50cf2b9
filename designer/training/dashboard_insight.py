"""The dashboard's event handlers and the 'understand it' side: feature maps, filters, results, the error
gallery and the runs list. A mixin of TrainingDashboard, kept apart so each file stays readable."""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtWidgets import QFileDialog

from engine.insight.activations import layer_outputs, module_with_weights
from engine.training.evaluate import evaluate
from designer.training.gallery import GalleryDialog

log = logging.getLogger(__name__)


class InsightMixin:
    # ---- events from the training thread (already on the GUI thread) ----------------------------
    # A run of a design that has since been replaced keeps recording into its own RunRecord, but draws
    # nothing: the views show the open design only (run_is_shown).
    def _on_started(self, ev):
        self.record.status = "running"
        self._save_progress()
        if not self.run_is_shown():
            return
        self.controls.progress.setMaximum(max(1, ev.total_steps))
        self.controls.progress.setValue(0)
        # "NVIDIA A100 (cuda:0)" names the GPU index; "CPU (2 threads)" needs nothing more
        where = ev.device_name if ev.device == "cpu" else f"{ev.device_name} ({ev.device})"
        self.controls.show_device(where, keep_memory=True)
        self._say(f"Training {ev.parameters:,} parameters on {ev.train_size:,} images "
                  f"({ev.val_size:,} validation, {ev.test_size:,} test) on {ev.device_name}.")

    def _on_step(self, m):
        self.record.add_event(m)
        if self.run_is_shown():
            self.curves.add_event(m)
            self.controls.show_step(m)

    def _on_epoch(self, m):
        self.record.add_event(m)
        if self.run_is_shown():
            self.curves.add_event(m)

    def _on_checkpoint(self, ev):
        if ev.which == "last":   # the metrics so far, next to the checkpoint they belong to
            self._save_progress()

    def _save_progress(self):
        """Keep the running run's record and metrics on disk, so a crash of the app does not lose them."""
        try:
            self.store.save_progress(self.record)
        except OSError as exc:
            log.warning("could not save the run's progress: %s", exc)

    def _on_snapshot(self, snap):
        if not self.run_is_shown():
            return
        self._latest_snapshot = snap
        self._snapshot_dirty = True
        if snap.end_of_epoch:
            self.feature_maps.add_epoch_snapshot(snap)

    def _render_snapshot(self):
        """Timer: draw the newest snapshot at most a few times a second, whatever the step rate."""
        if not self._snapshot_dirty or self._latest_snapshot is None:
            return
        self._snapshot_dirty = False
        snap = self._latest_snapshot
        label = f"epoch {snap.epoch + 1}, step {snap.step}"   # short: it sits in a fixed-width label
        self.feature_maps.show_live(snap.activations, snap.probe_image, label)
        if self.selected in snap.filters or self.filters.node_id == self.selected:
            self.filters.set_filters(self.selected, snap.filters.get(self.selected))

    def _on_finished(self, ev):
        shown, rec = self.run_is_shown(), self.record
        if shown:
            self._snapshot_dirty = False   # the final weights' maps follow; the last snapshot is older
            self.controls.flush()
            self.state.set_weights(ev.weights, self.run_graph)
            self.warm_start = None
            self.curves.redraw()
        if ev.test is not None and shown:
            self.result = ev.test
            self.results.show_result(ev.test, f"{rec.name}: weights after {ev.epochs_completed} epoch(s)"
                                              + (" (stopped early)" if ev.stopped else ""))
        rec.test = ev.test.summary() if ev.test is not None else None
        rec.weights = ev.weights if ev.weights else None
        rec.status = "stopped" if ev.stopped and not ev.early_stopped else "finished"
        try:
            self.store.save(rec)
        except OSError as exc:
            self._say(f"The run finished but could not be saved: {exc}", error=True)
        self._show_runs()
        acc = "" if ev.test is None else f"; test {ev.test.headline}"
        text = f"{'Stopped' if ev.stopped else 'Finished'} after {ev.epochs_completed} epoch(s){acc}."
        if shown:
            self._say(text)
            self._maps_after_run = True
            self._refresh_static_activations()
        else:   # the window's status bar only: the training panel shows the open design
            self.status.emit(f"{rec.name} (a previous design): {text}")
        self.run_finished.emit(ev)

    def _on_failed(self, ev):
        log.info("training failed: %s\n%s", ev.reason, ev.detail)
        self._pending_start = False
        if self.record is None or self.run_is_shown():
            self._say(ev.reason, error=True)
        # keep a failed run that trained at least one step (its curves and the reason), listed with the others
        if self.record is not None and self.record.step_metrics.get("step"):
            self.record.status, self.record.note = "failed", ev.reason
            try:
                self.store.save(self.record)
            except OSError as exc:
                log.warning("could not save the failed run: %s", exc)
            self._show_runs()

    # ---- selection, probe and weights-based views ------------------------------------------------
    def set_selected_node(self, node_id: str) -> None:
        self.selected = node_id or ""
        why = self._why_no_data(self.selected)
        self.feature_maps.set_node(self.selected, why)
        filters, note = None, ""
        snap = self._latest_snapshot
        if self.controller.running and snap is not None:
            filters = snap.filters.get(self.selected)
        else:
            if not self.has_trained_weights():
                note = "Not trained yet: these are the random starting weights."
            module = self._module()
            sub = getattr(module, self.selected, None) if module is not None and self.selected else None
            if sub is not None and type(sub).__name__ == "Conv2d":
                filters = sub.weight.detach().numpy()
        self.filters.set_filters(self.selected, None if why else filters, why, note)

    def _why_no_data(self, node_id: str) -> str:
        """Why the open design's layer `node_id` has no maps or filters to show ('' when it may have some)."""
        graph, analysis = self.source.graph, self.source.analysis
        if not node_id or not graph.has_node(node_id):
            return ""
        info = analysis.nodes.get(node_id)
        if info is not None and info.shape is not None:
            return ""
        if not graph.in_edges(node_id) and graph.node(node_id).kind != "Input":
            return "not connected: nothing flows into this layer, so it has no feature maps or trained filters."
        problem = info.error.message if info is not None and info.error is not None else "its shape is unknown"
        return f"no data: {problem}. Fix that to see its feature maps."

    # ---- read-only views for other panels (teaching mode) -------------------------------------------
    def current_module(self):
        """The design compiled in eval mode with the latest weights (random, seeded, when untrained); None
        while the design has errors."""
        return self._module()

    def current_probe(self):
        """The probe image (C×H×W numpy) the feature maps show, or None before a data set is loaded."""
        return self._current_probe()

    def has_trained_weights(self) -> bool:
        """True when the weights at hand were trained for exactly the current design."""
        return self.state.has_trained_weights()

    def _module(self):
        """The design compiled with the latest weights (random ones when none); None if it cannot compile."""
        graph = self.source.graph
        weights = self.weights if self.weights is not None and self.weights_graph == graph else None
        if not self.source.analysis.ok:
            return None
        key = (id(graph), id(weights))
        if getattr(self, "_module_key", None) != key:
            try:
                import torch
                torch.manual_seed(0)
                self._module_cache = module_with_weights(graph, weights)
            except ValueError as exc:
                self._say(str(exc), error=True)
                self._module_cache = None
            self._module_key = key
        return self._module_cache

    def _current_probe(self):
        if self.probe_image is not None:
            return self.probe_image
        d = self.data.dataset
        if d is None or not len(d.test):
            return None
        i = min(self.probe_index, len(d.test) - 1)
        return d.test.images[i].numpy()

    def _refresh_static_activations(self):
        """Feature maps with the weights at hand, for the chosen probe, when no run is feeding them."""
        if self.controller.running:
            return
        module, probe = self._module(), self._current_probe()
        if module is None or probe is None or tuple(probe.shape) != tuple(self.source.analysis.nodes[
                self.source.graph.nodes_of_kind("Input")[0].id].shape):
            return
        self.feature_maps.set_graph(self.source.graph, self.source.analysis)
        trained = self.weights is not None and self.weights_graph == self.source.graph
        self.feature_maps.show_live(layer_outputs(module, probe), probe,
                                    "current weights" if trained else "untrained (random) weights", trained)
        self.set_selected_node(self.selected)

    def _probe_index_chosen(self, index: int):
        self.probe_index, self.probe_image = index, None
        if self.controller.running:
            self._say("The new probe image is used from the next run; this run keeps its probe.")
        self._refresh_static_activations()

    def _probe_from_file(self):
        path, _ = QFileDialog.getOpenFileName(self.feature_maps, "Probe image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp)")
        if path:
            self.set_probe_file(path)

    def set_probe_file(self, path: str) -> bool:
        from engine.compiler import input_shape
        try:
            from PIL import Image
            import torch

            from engine.data.adapt import adapt_images
            with Image.open(path) as img:
                rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
            x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
            self.probe_image = adapt_images(x, tuple(input_shape(self.source.graph)))[0].numpy()
        except (OSError, ValueError) as exc:
            self._say(f"Cannot use {path} as probe image: {exc}", error=True)
            return False
        self._say(f"Probe image: {path}" + (" (used from the next run)" if self.controller.running else ""))
        self._refresh_static_activations()
        return True

    # ---- results and the error gallery -----------------------------------------------------------
    def evaluate_current(self):
        """Evaluate the test set with the weights at hand, in a background thread."""
        d, module = self.data.dataset, None
        if d is None:
            self._say("Load a data set first (Data set → Load).", error=True)
            return
        if self.controller.running:
            self._say("Wait for the run to finish (or stop it): its weights are inside the training thread.")
            return
        module = self._module()
        if module is None:
            self._say("The design has errors; fix them to evaluate it.", error=True)
            return
        if self._evaluator.busy:
            return
        trained = self.weights is not None and self.weights_graph == self.source.graph
        self._eval_source = "current weights" if trained else "untrained (random) weights"
        self._eval_design = self.state.identity
        self._say("Evaluating on the test set…")
        test = d.test
        self._evaluator.start(lambda: evaluate(module, test, d.class_names, device="cpu"))

    def _evaluated(self, result):
        if getattr(self, "_eval_design", None) != self.state.identity:
            return   # evaluated the design that was open before this one: not this design's result
        self.result = result
        self.results.show_result(result, f"Evaluated with the {self._eval_source}")
        self._say(f"Test {result.headline} with the {self._eval_source}")

    def open_gallery(self, true_class: int, pred_class: int):
        d = self.data.dataset
        if self.result is None or d is None:
            return
        if self.result.count != len(d.test):
            self._say("These results belong to another data set; evaluate again.", error=True)
            return
        module = self._module() if self.weights_graph == self.source.graph else (
            module_with_weights(self.weights_graph, self.weights) if self.weights is not None else None)
        graph = self.weights_graph or self.source.graph
        analysis = self.run_analysis if graph is self.run_graph and self.run_analysis else self.source.analysis
        layers = [nid for nid in getattr(module, "node_order", [])
                  if analysis.nodes.get(nid) is not None and analysis.nodes[nid].shape is not None
                  and len(analysis.nodes[nid].shape) == 3]
        # Grad-CAM is usually read on the last convolution: put it last, where the gallery's default is
        convs = [nid for nid in layers if graph.has_node(nid) and graph.node(nid).kind in ("Conv2d", "NiN block")]
        if convs:
            layers = [nid for nid in layers if nid != convs[-1]] + [convs[-1]]
        if self.gallery is None:
            self.gallery = GalleryDialog(self.insight.window())
        self.gallery.gallery.show_cell(true_class, pred_class, self.result, d.test.images, module, layers)
        self.gallery.show()
        self.gallery.raise_()

    # ---- runs ------------------------------------------------------------------------------------
    def _overlay_runs(self, records):
        self.curves.set_overlays([(r.name or r.id, r.step_metrics, r.epoch_metrics) for r in records])

    def load_run_weights(self, run_id: str):
        try:
            weights = {k: v.numpy() for k, v in self.store.load_weights(run_id).items()}
        except (ValueError, KeyError) as exc:   # RunRecordError, or an unreadable checkpoint
            self._say(str(exc), error=True)
            return
        rec = self.store.get(run_id)
        self.warm_start = (run_id, weights)
        if rec.graph == self.source.graph:
            self.weights, self.weights_graph = weights, self.source.graph
            self._refresh_static_activations()
        self._say(f"Loaded the weights of {rec.name}: the next run starts from them (layers whose id and shape "
                  f"match), and Results / Feature maps use them while the design is unchanged.")

    def _delete_run(self, run_id: str):
        self.store.delete(run_id)
        self._show_runs()
