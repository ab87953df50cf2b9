"""Everything Qt: the desktop designer (canvas, palette, inspector, summary, files) and its panels."""
