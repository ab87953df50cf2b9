"""MIME types the designer puts on drags and on the clipboard."""
from __future__ import annotations

from PySide6.QtCore import QMimeData

LAYER_KIND_MIME = "application/x-cnn-designer-layer-kind"   # palette drag: the kind's registry name
GRAPH_MIME = "application/x-cnn-designer-graph"              # clipboard: design JSON of the copied layers


def layer_kind_mime(kind_name: str) -> QMimeData:
    data = QMimeData()
    data.setData(LAYER_KIND_MIME, kind_name.encode("utf-8"))
    data.setText(kind_name)
    return data


BLOCK_MIME = "application/x-cnn-designer-block"              # palette drag: "library:KEY" or "design:CLASS"


def block_mime(ref: str) -> QMimeData:
    data = QMimeData()
    data.setData(BLOCK_MIME, ref.encode("utf-8"))
    data.setText(ref)
    return data


def block_from_mime(data: QMimeData) -> str:
    if data is None or not data.hasFormat(BLOCK_MIME):
        return ""
    return bytes(data.data(BLOCK_MIME)).decode("utf-8", "replace")


def kind_from_mime(data: QMimeData) -> str:
    if data is None or not data.hasFormat(LAYER_KIND_MIME):
        return ""
    return bytes(data.data(LAYER_KIND_MIME)).decode("utf-8", "replace")
