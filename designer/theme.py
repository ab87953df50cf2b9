"""Light and dark themes: a Qt palette, a style sheet from resources/styles, and the canvas colours."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from engine.resource_files import app_icon_path, style_sheet

THEMES = ("light", "dark")


@dataclass(frozen=True)
class CanvasColors:
    background: QColor
    grid: QColor
    node_fill: QColor
    node_border: QColor
    node_selected: QColor
    header_text: QColor
    text: QColor
    muted_text: QColor
    error_fill: QColor
    error_border: QColor
    error_header: QColor  # darker than the border in the dark theme, so the white kind name stays readable
    warning_border: QColor
    edge: QColor
    edge_selected: QColor
    edge_label_fill: QColor
    port_in: QColor
    port_out: QColor
    port_hover: QColor


LIGHT = CanvasColors(
    background=QColor("#f4f5f7"), grid=QColor("#dfe2e8"), node_fill=QColor("#ffffff"),
    node_border=QColor("#9aa3b2"), node_selected=QColor("#2f6fde"), header_text=QColor("#ffffff"),
    text=QColor("#1d2430"), muted_text=QColor("#5b6472"), error_fill=QColor("#fde8e8"),
    error_border=QColor("#d43b3b"), error_header=QColor("#d43b3b"), warning_border=QColor("#d99a1e"), edge=QColor("#7d8796"),
    edge_selected=QColor("#2f6fde"), edge_label_fill=QColor("#ffffff"), port_in=QColor("#5a8de8"),
    port_out=QColor("#35a56a"), port_hover=QColor("#f2a33a"))

DARK = CanvasColors(
    background=QColor("#1e2127"), grid=QColor("#2b3038"), node_fill=QColor("#2c313a"),
    node_border=QColor("#59616f"), node_selected=QColor("#6aa1ff"), header_text=QColor("#ffffff"),
    text=QColor("#e6e9ef"), muted_text=QColor("#a3abb8"), error_fill=QColor("#4a2a2d"),
    error_border=QColor("#ff6b6b"), error_header=QColor("#c23a3a"), warning_border=QColor("#f0b54a"), edge=QColor("#8c95a3"),
    edge_selected=QColor("#6aa1ff"), edge_label_fill=QColor("#262a31"), port_in=QColor("#6aa1ff"),
    port_out=QColor("#4cc38a"), port_hover=QColor("#f2a33a"))

# One header colour per palette category, so kinds are recognisable at a glance. None may be red:
# a red header means "this layer has an error".
CATEGORY_COLORS = {
    "Input/Output": "#5c6bc0", "Convolution": "#1e88e5", "Activation": "#e67e22", "Pooling": "#16a085",
    "Upsampling": "#00838f",
    "Normalization": "#8e44ad", "Regularization": "#7f8c8d", "Fully connected": "#795548",
    "Branches": "#2c8a3d", "Imported": "#455a64",   # placeholders an import left (drawn as errors anyway)
}

_current = {"name": "light"}


def colors() -> CanvasColors:
    return DARK if _current["name"] == "dark" else LIGHT


def current_theme() -> str:
    return _current["name"]


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, "#607d8b"))


def apply_theme(name: str) -> str:
    """Switch the whole application to `name` ('light' or 'dark'); returns the theme applied."""
    name = name if name in THEMES else "light"
    _current["name"] = name
    app = QApplication.instance()
    if app is None or app.property("cnn_designer_theme") == name:
        return name  # re-applying a style sheet re-polishes every widget: slow, and nothing would change
    app.setProperty("cnn_designer_theme", name)
    app.setStyle("Fusion")  # the same look on every platform, and it honours the palette fully
    app.setPalette(_palette(name))
    qss = style_sheet(name)
    app.setStyleSheet(qss.read_text(encoding="utf-8") if qss.is_file() else "")
    return name


def _palette(name: str) -> QPalette:
    p = QPalette()
    if name == "dark":
        roles = {"Window": "#262a31", "WindowText": "#e6e9ef", "Base": "#1e2127", "AlternateBase": "#2a2f37",
                 "Text": "#e6e9ef", "Button": "#2f343d", "ButtonText": "#e6e9ef", "Highlight": "#3d6fc4",
                 "HighlightedText": "#ffffff", "ToolTipBase": "#2f343d", "ToolTipText": "#e6e9ef",
                 "PlaceholderText": "#8a93a1", "Link": "#6aa1ff", "Mid": "#3a404a", "Dark": "#15171b"}
    else:
        roles = {"Window": "#eef0f3", "WindowText": "#1d2430", "Base": "#ffffff", "AlternateBase": "#f5f7fa",
                 "Text": "#1d2430", "Button": "#f4f5f7", "ButtonText": "#1d2430", "Highlight": "#2f6fde",
                 "HighlightedText": "#ffffff", "ToolTipBase": "#ffffdc", "ToolTipText": "#1d2430",
                 "PlaceholderText": "#8a93a1", "Link": "#2f6fde", "Mid": "#c9ced6", "Dark": "#9aa3b2"}
    for role, value in roles.items():
        p.setColor(getattr(QPalette.ColorRole, role), QColor(value))
    disabled = QColor("#6b7280") if name == "dark" else QColor("#9aa3b2")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def line_icon(style, pixmap) -> QIcon:
    """A monochrome standard icon (arrows, frames) in the theme's text colour: the style draws them dark,
    which vanishes on the dark theme's toolbar."""
    icon = style.standardIcon(pixmap)
    if current_theme() != "dark":
        return icon
    tinted = QIcon()
    for size in (16, 24, 32):
        image = icon.pixmap(size).toImage().convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)  # keep the shape, recolour
        painter.fillRect(image.rect(), QColor("#e6e9ef"))
        painter.end()
        tinted.addPixmap(QPixmap.fromImage(image))
    return tinted


def app_icon() -> QIcon:
    path = app_icon_path()
    return QIcon(str(path)) if path.is_file() else QIcon()
