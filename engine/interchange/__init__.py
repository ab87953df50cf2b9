"""Reading and writing the PyTorch ecosystem's formats.

fx_import / importing: nn.Module (torchvision by name, a class in a Python file) -> layer graph + weights.
exporters: ONNX, TorchScript, weights (safetensors or state_dict), PyTorch source.
train_script: a standalone training script (python or torchrun).
bundle: the .cnnd project file (graph, runs, weights, data-set reference, seed), safe to open.
"""
