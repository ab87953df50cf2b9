"""The training dashboard: train the design in a worker thread and watch it learn.

Importing this package registers `install(window)` with designer.panels.PANEL_INSTALLERS.
"""
from designer.panels import PANEL_INSTALLERS
from designer.training.install import install

if install not in PANEL_INSTALLERS:
    PANEL_INSTALLERS.append(install)

__all__ = ["install"]
