"""One animation controller for every playground mode: a position in a list of steps moved by Play/Pause,
Step, Back and Reset, a QTimer for playing, and the row of buttons with a speed slider that drives it."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QWidget

from designer.theme import line_icon

# Slider positions map to these speeds (steps per second): slow enough to read, fast enough to skim.
SPEEDS = (0.5, 1, 2, 3, 5, 8, 12, 20, 40, 100)
DEFAULT_SPEED_INDEX = 2


class StepAnimator(QObject):
    """`position` is how many steps are shown: 0 = none yet, `count` = all of them."""

    position_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.count = 0
        self.position = 0
        self.playing = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.set_speed(SPEEDS[DEFAULT_SPEED_INDEX])

    @property
    def at_end(self) -> bool:
        return self.position >= self.count

    def set_count(self, count: int, keep_position: bool = False) -> None:
        """A new list of steps (the settings changed): start over, or stay as far along as still possible."""
        self.count = max(0, int(count))
        if not keep_position:
            self.pause()
        self._go(min(self.position, self.count) if keep_position else 0, force=True)
        if self.at_end:
            self.pause()

    def set_speed(self, steps_per_second: float) -> None:
        self.timer.setInterval(max(1, int(round(1000 / steps_per_second))))

    def play(self) -> None:
        if self.count == 0:
            return
        if self.at_end:  # playing again from the end replays from the start
            self._go(0)
        self.timer.start()
        self._set_playing(True)

    def pause(self) -> None:
        self.timer.stop()
        self._set_playing(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self) -> None:
        self._go(self.position + 1)

    def back(self) -> None:
        self.pause()
        self._go(self.position - 1)

    def reset(self) -> None:
        self.pause()
        self._go(0)

    def show_all(self) -> None:
        self.pause()
        self._go(self.count)

    def _tick(self):
        self.step()
        if self.at_end:
            self.pause()

    def _go(self, position: int, force: bool = False):
        position = max(0, min(self.count, position))
        if position != self.position or force:
            self.position = position
            self.position_changed.emit(position)

    def _set_playing(self, playing: bool):
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)


class AnimationBar(QWidget):
    """Play/Pause, Back, Step, Reset and Show all buttons, a speed slider and "step 3 of 25"."""

    def __init__(self, animator: StepAnimator, parent=None):
        super().__init__(parent)
        self.animator = animator
        style = self.style()
        SP = QStyle.StandardPixmap
        self._icons = {True: line_icon(style, SP.SP_MediaPause), False: line_icon(style, SP.SP_MediaPlay)}
        self.play = QPushButton("Play")
        self.play.setToolTip("Play the animation; press again to pause")
        self.back = QPushButton(line_icon(style, SP.SP_MediaSeekBackward), "Back")
        self.back.setToolTip("Undo the last step")
        self.step = QPushButton(line_icon(style, SP.SP_MediaSeekForward), "Step")
        self.step.setToolTip("Compute the next output cell")
        self.reset = QPushButton(line_icon(style, SP.SP_MediaSkipBackward), "Reset")
        self.reset.setToolTip("Clear the output and start again")
        self.all = QPushButton(line_icon(style, SP.SP_MediaSkipForward), "All")
        self.all.setToolTip("Compute every remaining cell at once")
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(DEFAULT_SPEED_INDEX)
        self.speed.setFixedWidth(110)
        self.speed.setToolTip("Animation speed")
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(self.speed_label.fontMetrics().horizontalAdvance("0.5 steps/s "))
        self.progress = QLabel()
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("step 000 of 000 "))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.play, self.back, self.step, self.reset, self.all):
            row.addWidget(w)
        row.addSpacing(8)
        row.addWidget(QLabel("Speed"))
        row.addWidget(self.speed)
        row.addWidget(self.speed_label)
        row.addWidget(self.progress)
        row.addStretch(1)
        self.play.clicked.connect(animator.toggle)
        self.back.clicked.connect(animator.back)
        self.step.clicked.connect(lambda: (animator.pause(), animator.step()))
        self.reset.clicked.connect(animator.reset)
        self.all.clicked.connect(animator.show_all)
        self.speed.valueChanged.connect(self._speed_changed)
        animator.position_changed.connect(self._refresh)
        animator.playing_changed.connect(self._refresh)
        self._speed_changed(self.speed.value())
        self._refresh()

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and hasattr(self, "progress"):  # theme changed: re-tint icons
            style, SP = self.style(), QStyle.StandardPixmap
            self._icons = {True: line_icon(style, SP.SP_MediaPause), False: line_icon(style, SP.SP_MediaPlay)}
            for button, pixmap in ((self.back, SP.SP_MediaSeekBackward), (self.step, SP.SP_MediaSeekForward),
                                   (self.reset, SP.SP_MediaSkipBackward), (self.all, SP.SP_MediaSkipForward)):
                button.setIcon(line_icon(style, pixmap))
            self._refresh()

    def _speed_changed(self, index: int):
        speed = SPEEDS[index]
        self.animator.set_speed(speed)
        self.speed_label.setText(f"{speed:g} steps/s")

    def _refresh(self, *_):
        a = self.animator
        self.play.setText("Pause" if a.playing else "Play")
        self.play.setIcon(self._icons[a.playing])
        self.play.setEnabled(a.count > 0)
        self.back.setEnabled(a.position > 0)
        self.reset.setEnabled(a.position > 0 or a.playing)
        self.step.setEnabled(not a.at_end)
        self.all.setEnabled(not a.at_end)
        self.progress.setText(f"step {a.position} of {a.count}" if a.count else "no steps")
