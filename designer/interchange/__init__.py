"""File > Import / Export actions for PyTorch models, ONNX, TorchScript, weights and .cnnd bundles.

The main window builds them with `designer.interchange.actions.install(window, state, dashboard)` and
registers the .cnnd format with its FileController.
"""
