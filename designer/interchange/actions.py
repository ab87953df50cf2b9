"""The menu actions: each export asks for a file, runs the engine's exporter and reports in the status bar
or an error box; opening a .cnnd bundle also brings its runs and weights into the training dashboard."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.interchange.bundle import Bundle, load_bundle, save_bundle

_opened_bundles: dict = {}   # resolved path -> Bundle read by read_bundle_design, claimed by the window


def read_bundle_design(path) -> object:
    """FILE_LOADERS entry for .cnnd: validate and read the bundle, return its graph, keep the rest for the
    window that opens it (see _claim_bundle)."""
    bundle = load_bundle(path)
    _opened_bundles.clear()  # only the latest open is pending
    _opened_bundles[str(Path(path).resolve())] = bundle
    return bundle.graph


def save_bundle_design(window, path) -> None:
    """FILE_SAVERS entry for .cnnd: Save on an opened project writes the project (runs, weights), not JSON."""
    window.interchange.save_project(str(path))


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
    def __init__(self, window):
        self.window = window
        self.actions: dict = {}
        self.project_run_ids: set = set()   # runs that belong to the opened project, whatever design they trained
        menu = window.file_export_menu()
        for text, name, file_filter, suffix in EXPORTS:
            action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(lambda _=False, n=name, f=file_filter, s=suffix: self.export(n, f, s))
            menu.addAction(action)
            self.actions[name] = action
        imports = window.file_import_menu()
        for text, name, slot in (("torchvision model…", "import_torchvision", self.import_torchvision),
                                 ("PyTorch model from a Python file…", "import_python", self.import_python)):
            action = QAction(text, window)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(slot)
            imports.addAction(action)
            self.actions[name] = action
        window.document.file_path_changed.connect(self._claim_bundle)

    # ---- state shared with the training dashboard -------------------------------------------------
    @property
    def dashboard(self):
        return getattr(self.window, "training", None)

    def current_weights(self):
        """Trained or loaded weights that belong to the design as it is now, as tensors; else None."""
        dash = self.dashboard
        if dash is None or dash.weights is None or dash.weights_graph != self.window.document.graph:
            return None
        return {k: torch.from_numpy(np.array(v)) for k, v in dash.weights.items()}

    def design_runs(self) -> list:
        """Runs (with weights) of the design as it is now, and every run of the opened project (so saving an
        edited project keeps its history)."""
        dash = self.dashboard
        if dash is None:
            return []
        runs = []
        for rec in dash.store.records():
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
        record = RunRecord(graph=graph, config=dash.config(), dataset_key=dash.data.key, name=name,
                           weights={k: v.detach().clone() for k, v in weights.items()})
        dash.store.save(record)
        dash.runs.set_records(dash.store.records())
        dash.load_run_weights(record.id)
        return record.id

    # ---- exports -----------------------------------------------------------------------------------
    def export(self, name: str, file_filter: str, suffix: str) -> None:
        if name == "export_weights" and self.current_weights() is None:  # say so before asking for a file name
            QMessageBox.warning(self.window, "Export failed", NO_WEIGHTS)
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
                dash = self.dashboard
                config = dash.config() if dash is not None else None
                write_training_script(graph, path, config, dash.data.key if dash is not None else "")
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
            QMessageBox.warning(self.window, "Export failed", str(exc) or type(exc).__name__)
            return False
        QGuiApplication.restoreOverrideCursor()
        if weights is None and name in ("export_onnx", "export_torchscript"):
            text += " (untrained: random weights)"
        self.window.show_status(text[0].upper() + text[1:], 8000)
        return True

    def save_project(self, path: str) -> str:
        dash = self.dashboard
        runs = self.design_runs()
        dataset = {"key": dash.data.key} if dash is not None else {}
        seed = dash.config().seed if dash is not None else 0
        save_bundle(Bundle(self.window.document.graph, runs, self.current_weights(), dataset, seed), path)
        return f"saved project {path} with {len(runs)} run(s)"

    # ---- imports -----------------------------------------------------------------------------------
    def import_torchvision(self) -> None:
        from designer.interchange.import_dialogs import TorchvisionImportDialog
        self._run_import(TorchvisionImportDialog(self.window))

    def import_python(self) -> None:
        from designer.interchange.import_dialogs import PythonImportDialog
        self._run_import(PythonImportDialog(self.window))

    def _run_import(self, dialog) -> None:
        if not self.window.files.maybe_save():
            return
        imported = dialog.run()
        if imported is None:
            return
        self.window.document.set_graph(imported.graph, "")
        self.window.canvas.show_design()
        self.adopt_weights(imported.graph, imported.weights, f"Imported weights · {imported.graph.name}")
        r = imported.result
        note = f"; {len(r.unmapped)} operation(s) left for you to finish" if r.unmapped else ""
        self.window.show_status(f"Imported {imported.graph.name}: {len(r.graph.nodes)} layers, "
                                f"{r.imported_parameters:,} parameters{note}.", 8000)

    # ---- bundles -----------------------------------------------------------------------------------
    def _claim_bundle(self, path: str) -> None:
        bundle = _opened_bundles.pop(path, None) if path else None
        if bundle is None:
            if Path(path).suffix.lower() != ".cnnd":  # another design (New, Open, Save As .json): not this project
                self.project_run_ids = set()
            return  # saved as a .cnnd: still the same project
        self.project_run_ids = {run.id for run in bundle.runs}
        dash = self.dashboard
        if dash is None:
            return
        known = {r.id for r in dash.store.records()}
        last = None
        for run in bundle.runs:
            if run.id not in known:
                dash.store.save(dataclasses.replace(run))
            last = run
        dash.runs.set_records(dash.store.records())
        if bundle.weights is not None:
            adopted = self.adopt_weights(bundle.graph, bundle.weights, f"Project weights · {Path(path).stem}")
            self.project_run_ids.add(adopted)
        elif last is not None and last.weights is not None:
            dash.load_run_weights(last.id)
        self.window.show_status(f"Opened project {Path(path).name}: {len(bundle.runs)} run(s)"
                                f"{', weights loaded' if bundle.weights is not None or last else ''}.", 8000)


def install(window) -> InterchangeActions:
    window.interchange = InterchangeActions(window)
    return window.interchange
