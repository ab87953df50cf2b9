"""The training dashboard: train the design in a worker thread and watch it learn.

The main window builds it with `designer.training.install.install(window, state, ...)`.
"""
