"""File > Import / Export actions for PyTorch models, ONNX, TorchScript, weights and .cnnd bundles."""
from designer import panels
from designer.interchange.actions import install, read_bundle_design, save_bundle_design

panels.PANEL_INSTALLERS.append(install)
panels.FILE_LOADERS[".cnnd"] = read_bundle_design
panels.FILE_SAVERS[".cnnd"] = save_bundle_design
