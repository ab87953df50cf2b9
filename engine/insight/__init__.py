"""Qt-free helpers that explain a trained network: receptive fields, saliency, run differences, smoothing.

The desktop app's training dashboard uses them; they take plain data (graphs, modules, numpy arrays) so
they are tested against PyTorch directly.
"""
