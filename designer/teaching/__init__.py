"""Teaching mode: explain panel, convolution playground and guided lessons.

Importing this package registers `install(window)` with designer.panels.PANEL_INSTALLERS.
"""
from designer.panels import PANEL_INSTALLERS
from designer.teaching.install import install

if install not in PANEL_INSTALLERS:
    PANEL_INSTALLERS.append(install)

__all__ = ["install"]
