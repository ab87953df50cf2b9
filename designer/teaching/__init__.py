"""Teaching mode: explain panel, convolution playground and guided lessons.

The main window builds each panel itself (see designer.main_window) and hands it what it uses.
"""
