"""The runs list: overlay the curves of several runs, see what differs between them (hyper-parameters
side by side, layers added/removed/changed) and load a run's weights back into the design."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget, QAbstractItemView,
                               QHeaderView)

from designer.plain_text import plain_tooltip
from engine.insight.run_diff import compare_configs, diff_graphs
from engine.training.task_report import headline_of


def run_title(rec) -> str:
    test = rec.test if isinstance(rec.test, dict) else {}
    acc_text = f" · test {headline_of(test)}" if test else " · no test result"
    when = rec.created.replace("T", " ")[:16]
    status = getattr(rec, "status", "finished")
    state = {"running": " · interrupted (the app closed during the run)", "failed": " · failed",
             "stopped": " · stopped"}.get(status, "")
    return f"{rec.name or rec.id}{acc_text}{state} · {rec.dataset_key} · {when}"


class RunsView(QWidget):
    overlay_changed = Signal(list)          # RunRecords whose curves to overlay
    load_weights_requested = Signal(str)    # run id
    delete_requested = Signal(str)
    show_all_changed = Signal(bool)         # "show runs of other designs" toggled

    def __init__(self, parent=None):
        super().__init__(parent)
        self._records: dict = {}
        self._own: set = set()              # ids of the open design's runs (listed first)
        self.list = QListWidget()
        self.list.setToolTip("Tick two or more runs to overlay their curves and compare them")
        # run titles are long ('Run 2 · Big network (+Dropout) · test 97.1 % · …'): wrap them, never cut them
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.itemChanged.connect(self._checks_changed)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.load_button = QPushButton("Load weights into design")
        self.load_button.setToolTip("Start the next run from this run's weights (transfer learning, or to "
                                    "continue training); feature maps and results use them too")
        self.load_button.clicked.connect(self._load_clicked)
        self.delete_button = QPushButton("Delete run")
        self.delete_button.clicked.connect(self._delete_clicked)
        self.show_all = QCheckBox("Show runs of other designs")
        self.show_all.setToolTip("Also list the runs of every other design, after this design's own")
        self.show_all.toggled.connect(self.show_all_changed)
        self.heading = QLabel("Runs of this design (tick to overlay and compare)")
        self.heading.setWordWrap(True)
        self.config_table = QTableWidget()
        self.config_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.config_table.verticalHeader().setVisible(False)
        self.layer_diff = QLabel("Tick runs to compare them.")
        self.layer_diff.setWordWrap(True)
        self.layer_diff.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layer_diff.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.heading)
        ll.addWidget(self.list, 1)
        ll.addWidget(self.show_all)
        ll.addLayout(buttons)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("Hyper-parameters (differences first, in bold)"))
        rl.addWidget(self.config_table, 2)
        rl.addWidget(QLabel("Layers compared with the first ticked run"))
        rl.addWidget(self.layer_diff, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        split.setSizes([400, 600])   # proportions: the list got only its size hint and cut every title
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self._update_buttons()

    def set_records(self, records, own_ids=None) -> None:
        """All runs, oldest first; `own_ids` are the open design's (None: all are). The design's own runs are
        listed first; the others only when "Show runs of other designs" is ticked."""
        checked = set(self.checked_ids())
        self._records = {r.id: r for r in records}
        self._own = set(self._records) if own_ids is None else set(own_ids) & set(self._records)
        own = [r for r in records if r.id in self._own]
        others = [r for r in records if r.id not in self._own] if self.show_all.isChecked() else []
        hidden = len(self._records) - len(own) - len(others)
        self.heading.setText("Runs of this design (tick to overlay and compare)" if own else
                             "No runs of this design yet: press Start in the Training panel.")
        self.show_all.setText(f"Show runs of other designs ({hidden} more)" if hidden else
                              "Show runs of other designs")
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        self.list.blockSignals(True)
        self.list.clear()
        for rec in own + others:
            item = QListWidgetItem(run_title(rec))
            note = getattr(rec, "note", "")
            if rec.id not in self._own:
                item.setForeground(QBrush(muted))
                note = "Trained by another design." + (f"\n{note}" if note else "")
            # the list is narrow; the full title (and why a run failed) on hover
            item.setToolTip(plain_tooltip(run_title(rec) + (f"\n{note}" if note else "")))
            item.setData(Qt.ItemDataRole.UserRole, rec.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if rec.id in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._checks_changed()

    def listed_ids(self) -> list:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def clear_checks(self) -> None:
        """Untick every run (another design is open: its curves must not carry over)."""
        self.set_checked(())

    def checked_ids(self) -> list:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, run_ids) -> None:
        wanted = set(run_ids)
        self.list.blockSignals(True)   # one overlay_changed for the whole change, not one per item
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in wanted
                               else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._checks_changed()

    def current_id(self) -> str:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def _update_buttons(self):
        has = bool(self.current_id())
        self.load_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    def _load_clicked(self):
        if self.current_id():
            self.load_weights_requested.emit(self.current_id())

    def _delete_clicked(self):
        if self.current_id():
            self.delete_requested.emit(self.current_id())

    def _checks_changed(self, *_):
        runs = [self._records[i] for i in self.checked_ids() if i in self._records]
        self._show_comparison(runs)
        self.overlay_changed.emit(runs)

    def _show_comparison(self, runs) -> None:
        rows = compare_configs([r.config for r in runs]) if runs else []
        extra = [("dataset", tuple(r.dataset_key for r in runs))]
        self.config_table.clear()
        self.config_table.setColumnCount(1 + len(runs))
        # columns headed 'Run 2', the full name on hover: whole names made the table wider than the dock
        self.config_table.setHorizontalHeaderLabels(["setting"] + [(r.name or r.id).split(" · ")[0] for r in runs])
        for j, r in enumerate(runs, start=1):
            self.config_table.horizontalHeaderItem(j).setToolTip(plain_tooltip(r.name or r.id))
        self.config_table.setRowCount(len(rows) + len(extra) if runs else 0)
        bold = QFont()
        bold.setBold(True)
        all_rows = [(name, values, len(set(map(repr, values))) > 1) for name, values in extra] + \
                   [(r.name, r.values, r.differs) for r in rows]
        all_rows.sort(key=lambda row: not row[2])
        for i, (name, values, differs) in enumerate(all_rows if runs else []):
            cells = [name] + [_fmt(v) for v in values]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if differs:
                    item.setFont(bold)
                    item.setBackground(QBrush(QColor(255, 236, 179)))
                    item.setForeground(QBrush(QColor(29, 36, 48)))   # dark text on the light marker, in both themes
                self.config_table.setItem(i, j, item)
        self.config_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        if len(runs) < 2:
            self.layer_diff.setText("Tick two or more runs to compare their layers." if runs else
                                    "Tick runs to compare them.")
            return
        base = runs[0]
        parts = []
        for other in runs[1:]:
            d = diff_graphs(base.graph, other.graph)
            lines = d.lines() or ["same layers and connections"]
            parts.append(f"<b>{_escape(other.name or other.id)}</b> vs <b>{_escape(base.name or base.id)}</b>:<br>"
                         + "<br>".join(_escape(line) for line in lines))
        self.layer_diff.setText("<br><br>".join(parts))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "—"
    return "—" if value is None else str(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
