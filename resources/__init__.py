"""CNN Designer's bundled files: templates, lessons and their designs, style sheets and icons.

In the source tree this is the folder resources/; it is installed as the package
`cnn_designer_resources` (see setup.py), so a wheel carries these files and code finds them with
importlib.resources. Use engine.resource_files to get at them, never a path relative to a checkout.
"""
