"""The node-graph canvas: a scene that mirrors the GraphDocument, its items, and the view."""
