"""A layer on the canvas: coloured header with the kind, then the label, key parameters and output shape."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetrics, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer import theme
from designer.canvas.ports import PortItem
from engine.registry import get_kind
from engine.summary import shape_text

NODE_WIDTH = 116.0  # leaves room between auto-layout columns (175 apart) for the edge shape labels
NODE_HEIGHT = 84.0
HEADER_HEIGHT = 22.0
CORNER = 6.0
_HEADER: list = []


def _header_path() -> QPainterPath:
    """The coloured header band (rounded top, square bottom), made once: simplified() is costly per paint."""
    if not _HEADER:
        header = QPainterPath()
        header.addRoundedRect(QRectF(1, 1, NODE_WIDTH - 2, HEADER_HEIGHT), CORNER - 1, CORNER - 1)
        header.addRect(QRectF(1, HEADER_HEIGHT / 2, NODE_WIDTH - 2, HEADER_HEIGHT / 2 + 1))
        header.setFillRule(Qt.FillRule.WindingFill)  # the overlap belongs to the header, not a hole in it
        _HEADER.append(header.simplified())
    return _HEADER[0]


def _font(point_size: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f


HEADER_FONT = _font(8.5, True)
BODY_FONT = _font(8.5)
SHAPE_FONT = _font(9.0, True)
HEADER_METRICS, BODY_METRICS, SHAPE_METRICS = QFontMetrics(HEADER_FONT), QFontMetrics(BODY_FONT), QFontMetrics(SHAPE_FONT)
TEXT_PAD = 7.0


class NodeItem(QGraphicsItem):
    def __init__(self, spec, input_ports: int):
        super().__init__()
        self.node_id = spec.id
        self.spec = spec
        self.info = None
        self.issue = None        # the first Issue about this node (error or warning)
        self.edges: list = []    # EdgeItems attached, kept by the scene
        self.syncing = False     # True while the scene moves us to match the document
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setPos(QPointF(*spec.pos))
        kind = get_kind(spec.kind)
        self.output_port = PortItem(self, True) if kind.has_outputs else None
        if self.output_port is not None:
            self.output_port.setPos(NODE_WIDTH, NODE_HEIGHT / 2)
        self.input_ports: list = []
        self.set_input_port_count(input_ports)
        self._texts = None  # made on the next paint, so items off screen cost nothing

    # ---- updates from the document -----------------------------------------------------------
    def set_spec(self, spec) -> None:
        self.spec = spec
        self._texts = None  # made on the next paint, so items off screen cost nothing
        self._refresh()

    def set_info(self, info, issue) -> None:
        drawn_before = self._drawn_info()
        self.info, self.issue = info, issue
        if self._drawn_info() != drawn_before:   # an edit upstream often leaves this layer's text as it was
            self._texts = None  # made on the next paint, so items off screen cost nothing
            self._refresh()

    def _drawn_info(self) -> tuple:
        """What paint() and the texts take from the analysis."""
        info, issue = self.info, self.issue
        return (info is None, None if info is None else info.shape, None if issue is None else issue.severity)

    def toolTip(self) -> str:
        """Made when asked (the scene's help event), not on every analysis: one edit near the Input of a
        500-layer design changes every layer's info."""
        tip = [f"{self.spec.kind}: {get_kind(self.spec.kind).help}"]
        issue = self.issue
        if issue is not None:
            tip.insert(0, f"{'Error' if issue.severity == 'error' else 'Warning'}: {issue.message}"
                       + (f"\nRight-click → {issue.fix.label}" if issue.fix is not None else ""))
        return "\n\n".join(tip)

    def set_input_port_count(self, count: int) -> None:
        while len(self.input_ports) > count:
            port = self.input_ports.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        while len(self.input_ports) < count:
            self.input_ports.append(PortItem(self, False, len(self.input_ports)))
        for i, port in enumerate(self.input_ports):
            port.setPos(0.0, NODE_HEIGHT * (i + 1) / (count + 1))

    def input_port(self, slot: int):
        return self.input_ports[slot] if 0 <= slot < len(self.input_ports) else None

    def _refresh(self):
        self.update()  # text and colours only: the node's geometry, and so its edges, stay put

    def texts(self) -> tuple:
        """(kind, title, key parameters, output shape) as drawn."""
        if self._texts is None:
            self._texts = self._make_texts()
        return self._texts

    def _make_texts(self):
        """The four lines of text, elided to the node's width once here rather than on every paint."""
        kind = get_kind(self.spec.kind)
        shape = "" if self.info is None else shape_text(self.info.shape)
        if self.info is not None and self.info.shape is None:
            shape = "no shape yet" if self.issue is None or self.issue.severity != "error" else "⚠ error"
        elif shape:
            shape = "→ " + shape
        width = int(NODE_WIDTH - 2 * TEXT_PAD)
        fits = lambda text, metrics: metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)  # noqa: E731
        return (fits(f"{kind.glyph}  {kind.name}", HEADER_METRICS), fits(self.spec.label or self.spec.id, BODY_METRICS),
                fits(kind.describe(self.spec.params), BODY_METRICS), fits(shape, SHAPE_METRICS))

    # ---- geometry and painting ---------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-3, -3, NODE_WIDTH + 6, NODE_HEIGHT + 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT), CORNER, CORNER)
        return path

    def center(self) -> QPointF:
        return self.pos() + QPointF(NODE_WIDTH / 2, NODE_HEIGHT / 2)

    def paint(self, painter, option, widget=None):
        c = theme.colors()
        error = self.issue is not None and self.issue.severity == "error"
        warning = self.issue is not None and self.issue.severity == "warning"   # a todo is drawn as usual
        body = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
        border = c.error_border if error else (c.warning_border if warning else c.node_border)
        if self.isSelected():
            border = c.node_selected
        painter.setPen(QPen(border, 2.5 if (self.isSelected() or error) else 1.2))
        painter.setBrush(QBrush(c.error_fill if error else c.node_fill))
        painter.drawRoundedRect(body, CORNER, CORNER)
        head_color = c.error_header if error else theme.category_color(get_kind(self.spec.kind).category)
        painter.fillPath(_header_path(), QBrush(head_color))
        if self._texts is None:
            self._texts = self._make_texts()
        kind_text, title, detail, shape = self._texts
        width = NODE_WIDTH - 2 * TEXT_PAD
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.setPen(c.header_text)
        painter.setFont(HEADER_FONT)
        painter.drawText(QRectF(TEXT_PAD, 1, width, HEADER_HEIGHT), left, kind_text)
        painter.setFont(BODY_FONT)
        painter.setPen(c.text)
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 3, width, 17), left, title)
        painter.setPen(c.muted_text)
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 20, width, 17), left, detail)
        painter.setFont(SHAPE_FONT)
        painter.setPen(c.error_border if error else c.text)
        painter.drawText(QRectF(TEXT_PAD, HEADER_HEIGHT + 38, width, 20), left, shape)

    def itemChange(self, change, value):
        follow_change(self, change, value)
        return super().itemChange(change, value)


def follow_change(item, change, value) -> None:
    """A node (a layer, or a collapsed block) moved: its connections follow; selected: it comes to the front."""
    if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
        for edge in item.edges:
            edge.refresh()
    elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
        item.setZValue(1.5 if value else 1)
