"""The menu actions: each export asks for a file, runs the engine's exporter and reports in the status bar
or an error box; opening a .cnnd bundle also brings its runs and weights into the training dashboard."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QFileDialog

from designer import dialogs
from engine.interchange.bundle import Bundle, load_bundle, save_bundle

_opened_bundles: dict = {}   # resolved path -> Bundle read by read_bundle_design, claimed by the window


def read_bundle_design(path) -> object:
    """FILE_LOADERS entry for .cnnd: validate and read the bundle, return its graph, keep the rest for the
    window that opens it (see _claim_bundle)."""
    bundle = load_bundle(path)
    _opened_bundles.clear()  # only the latest open is pending
    _opened_bundles[str(Path(path).resolve())] = bundle
    return bundle.graph


NO_WEIGHTS = ("There are no weights for this design yet: train it, or load a run's weights in the Runs list, "
              "then export again.")
EXPORTS = (
    # (menu text, object name, file filter, default suffix)
    ("PyTorch code (.py)…", "export_python", "Python source (*.py)", ".py"),
    ("Training script (.py)…", "export_script", "Python script (*.py)", "_train.py"),
    ("ONNX (.onnx)…", "export_onnx", "ONNX model (*.onnx)", ".onnx"),
    ("TorchScript (.pt)…", "export_torchscript", "TorchScript (*.pt)", ".ts.pt"),
    ("Weights (.safetensors or .pt)…", "export_weights", "safetensors (*.safetensors);;state_dict (*.pt)",
     ".safetensors"),
    ("Project bundle (.cnnd)…", "export_bundle", "CNN Designer project (*.cnnd)", ".cnnd"),
)


class InterchangeActions:
    def __init__(self, window, state, dashboard=None):
        """`state` is the window's DesignState (imports and bundles replace the design through it);
        `dashboard` the training dashboard whose settings and runs exports use, or None."""
        self.window = window
        self.state = state
        self.dashboard = dashboard
        self.actions: dict = {}
        menu = window.file_export_menu()
        for text, name, file_filter, suffix in EXPORTS:
            action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(lambda _=False, n=name, f=file_filter, s=suffix: self.export(n, f, s))
            menu.addAction(action)
            self.actions[name] = action
        imports = window.file_import_menu()
        for text, name, slot in (("torchvision model…", "import_torchvision", self.import_torchvision),
                                 ("PyTorch model from a Python file…", "import_python", self.import_python),
                                 ("ONNX model…", "import_onnx", self.import_onnx)):
            action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(slot)
            imports.addAction(action)
            self.actions[name] = action
        # after the state has let go of the previous design, so the bundle's weights and runs are this one's
        state.replaced.connect(self._claim_bundle)

    @property
    def project_run_ids(self) -> set:
        """Runs that came with the opened project, whatever design they trained; they stay this design's
        until another design is open (also after Save As .json, so the Runs list does not lose them)."""
        return self.state.project_run_ids

    def current_weights(self):
        """Trained or loaded weights that belong to the design as it is now, as tensors; else None."""
        if not self.state.has_trained_weights():
            return None
        return {k: torch.from_numpy(np.array(v)) for k, v in self.state.weights.items()}

    def design_runs(self) -> list:
        """Runs (with weights) of the design as it is now, and every run of the opened project (so saving an
        edited project keeps its history)."""
        dash = self.dashboard
        if dash is None:
            return []
        runs = []
        for rec in self.state.store.records():
            if rec.graph == self.window.document.graph or rec.id in self.project_run_ids:
                try:
                    weights = dash.store.load_weights(rec.id)
                except Exception:  # a run stopped before any step has no weights: keep its metrics
                    weights = None
                runs.append(dataclasses.replace(rec, weights=weights))
        return runs

    def adopt_weights(self, graph, weights: dict, name: str):
        """Make imported weights the dashboard's current weights (and the next run's start) via a run record."""
        dash = self.dashboard
        if dash is None or weights is None:
            return
        from engine.training.run_record import RunRecord
        dataset_key, config = self.state.training_settings()
        record = RunRecord(graph=graph, config=config, dataset_key=dataset_key, name=name,
                           weights={k: v.detach().clone() for k, v in weights.items()})
        self.state.stamp(record)
        self.state.store.save(record)
        self.state.notify_runs_changed()
        dash.load_run_weights(record.id)
        return record.id

    # ---- exports -----------------------------------------------------------------------------------
    def export(self, name: str, file_filter: str, suffix: str) -> None:
        if name == "export_weights" and self.current_weights() is None:  # say so before asking for a file name
            dialogs.show_error(self.window, "Export failed", NO_WEIGHTS)
            return
        doc = self.window.document
        stem = Path(doc.file_path).stem if doc.file_path else (doc.graph.name or "network").replace(" ", "_")
        folder = Path(doc.file_path).parent if doc.file_path else Path.home()
        title = "Export " + next(text for text, n, *_ in EXPORTS if n == name).rstrip("…")
        path, chosen = QFileDialog.getSaveFileName(self.window, title, str(folder / f"{stem}{suffix}"), file_filter)
        if not path:
            return
        if "." not in Path(path).name:
            path += ".pt" if "*.pt" in chosen and "safetensors" not in chosen else suffix
        self.export_to(name, path)

    def export_to(self, name: str, path: str) -> bool:
        """Run one export to `path`; report success in the status bar and any problem in a message box."""
        from engine.interchange import exporters
        from engine.interchange.train_script import write_training_script

        graph, weights = self.window.document.graph, self.current_weights()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            if name == "export_python":
                text = exporters.export_source(graph, path).summary()
            elif name == "export_script":
                dataset_key, config = self.state.training_settings()
                write_training_script(graph, path, config, dataset_key)
                text = f"wrote {path}; run it with python or torchrun"
            elif name == "export_onnx":
                text = exporters.export_onnx(graph, path, weights).summary()
            elif name == "export_torchscript":
                text = exporters.export_torchscript(graph, path, weights).summary()
            elif name == "export_weights":
                if weights is None:
                    raise ValueError(NO_WEIGHTS)
                text = exporters.export_weights(graph, weights, path).summary()
            else:
                text = self.save_project(path)
        except Exception as exc:  # every exporter's refusal is a readable sentence; show it, never a traceback
            QGuiApplication.restoreOverrideCursor()
            # plain text: the message quotes file names and design names (never HTML)
            dialogs.show_error(self.window, "Export failed", str(exc) or type(exc).__name__)
            return False
        QGuiApplication.restoreOverrideCursor()
        if weights is None and name in ("export_onnx", "export_torchscript"):
            text += " (untrained: random weights)"
        self.window.show_status(text[0].upper() + text[1:], 8000)
        return True

    def save_project(self, path: str) -> str:
        runs = self.design_runs()
        dataset_key, config = self.state.training_settings()
        dataset = {"key": dataset_key} if dataset_key else {}
        seed = config.seed if config is not None else 0
        save_bundle(Bundle(self.window.document.graph, runs, self.current_weights(), dataset, seed), path)
        return f"saved project {path} with {len(runs)} run(s)"

    # ---- imports -----------------------------------------------------------------------------------
    def import_torchvision(self) -> None:
        from designer.interchange.import_dialogs import TorchvisionImportDialog
        self._run_import(TorchvisionImportDialog(self.window))

    def import_python(self) -> None:
        from designer.interchange.import_dialogs import PythonImportDialog
        self._run_import(PythonImportDialog(self.window))

    def import_onnx(self) -> None:
        from designer.interchange.import_dialogs import OnnxImportDialog
        self._run_import(OnnxImportDialog(self.window))

    def _run_import(self, dialog) -> None:
        if not self.window.files.maybe_save():
            return
        imported = dialog.run()
        if imported is None:
            return
        graph = imported.graph
        scopes = {scope for scope, _ in graph.module_classes}
        if scopes:   # it arrives as its module hierarchy, collapsed: stem, stages of blocks, head
            from engine.blocks import collapsed_layout
            graph = collapsed_layout(graph, scopes)
        self.state.replace_design(graph, "")
        if scopes:
            self.window.scene.collapser.collapsed = set(scopes)
            self.window.scene.collapser.refresh()
        self.window.canvas.show_design()
        self.adopt_weights(graph, imported.weights, f"Imported weights · {imported.graph.name}")
        r = imported.result
        check = "; replace the placeholders marked in red" if r.unmapped else f"; {r.verification}"
        self.window.show_status(f"Imported {imported.graph.name}: {r.counts_text()}{check}.", 12000)

    # ---- bundles -----------------------------------------------------------------------------------
    def _claim_bundle(self, _identity: str = "") -> None:
        """The design was replaced: if it came from a .cnnd just read, bring in its runs and weights."""
        path = self.window.document.file_path
        bundle = _opened_bundles.pop(path, None) if path else None
        if bundle is None:
            return
        store = self.state.store
        known = {r.id for r in store.records()}
        last = None
        for run in bundle.runs:
            if run.id not in known:
                store.save(dataclasses.replace(run))
            last = run
        self.state.add_project_runs(run.id for run in bundle.runs)
        if bundle.dataset.get("key"):   # the project's data set (an unknown key leaves the choice as it is)
            self.state.choose_training(str(bundle.dataset["key"]))
        dash = self.dashboard
        if dash is None:
            return
        if bundle.weights is not None:
            adopted = self.adopt_weights(bundle.graph, bundle.weights, f"Project weights · {Path(path).stem}")
            self.state.add_project_runs([adopted])
        elif last is not None and last.weights is not None:
            dash.load_run_weights(last.id)
        self.window.show_status(f"Opened project {Path(path).name}: {len(bundle.runs)} run(s)"
                                f"{', weights loaded' if bundle.weights is not None or last else ''}.", 8000)


def install(window, state, dashboard=None) -> InterchangeActions:
    """The File → Export and File → Import entries; the window keeps the returned object."""
    return InterchangeActions(window, state, dashboard)
