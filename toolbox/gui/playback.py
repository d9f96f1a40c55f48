"""The playback strip: the waveform of the selected clip (or of what is playing) with the playback
position, and the volume slider.

What is shown: the clip selected under Outputs (also while it is being generated, redrawn at most
once a second as it grows), or the chosen voice's recording while it plays. The position line
follows :attr:`Player.position` (a 30 Hz QTimer, running only while something plays or a clip
grows) and is drawn only when the player plays what is shown.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from toolbox.gui.player import Player
from toolbox.gui.session import Clip, Utterance
from toolbox.gui.waveform import WaveformView

log = logging.getLogger(__name__)

TICK_MS = 33  # position updates: about 30 per second
GROW_REDRAW_S = 1.0  # a clip being generated is redrawn at most this often (a render costs 40-120 ms)
VOLUME_TIP = ("How loud clips and recordings play (100 %: as they were made). Exported files are not "
              "changed")


class PlaybackBar(QWidget):
    def __init__(self, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.waveform = WaveformView()
        self.waveform.setToolTip("The selected clip's sound wave; the line shows what is playing now")
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(100)
        self.volume.setPageStep(10)
        self.volume.setMinimumWidth(80)
        self.volume.setToolTip(VOLUME_TIP)
        self.volume_label = QLabel("Volume")
        self.volume_label.setBuddy(self.volume)
        self.volume_label.setToolTip(VOLUME_TIP)
        self.volume_value = QLabel("100 %")
        self.volume_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.volume_value.setMinimumWidth(self.volume_value.fontMetrics().horizontalAdvance("100 %") + 2)
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.volume_label)
        top.addStretch(1)
        top.addWidget(self.volume_value)
        side.addLayout(top)
        side.addWidget(self.volume)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.waveform, 1)
        layout.addLayout(side)

        self._shown: Clip | Utterance | None = None  # what the waveform shows
        self._playing: Clip | Utterance | None = None  # what the player plays (when we know it)
        self._shown_samples = 0
        self._shown_complete = True
        self._drawn_at = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.volume.valueChanged.connect(self._on_volume)
        player.started.connect(self.timer.start)
        player.stopped.connect(self.tick)
        self.waveform.show_audio(None, "Select a clip to see its sound wave")

    # -- what is shown -----------------------------------------------------------------------------
    def show_clip(self, clip: Clip | None) -> None:
        """Show `clip` (the selected one); the same clip is redrawn only when it has grown."""
        if clip is None:
            self._shown = None
            self.waveform.show_audio(None, "Select a clip to see its sound wave")
            return
        samples = sum(len(c) for c in clip.chunks)
        if clip is self._shown and clip.complete == self._shown_complete and (
                samples == self._shown_samples or time.monotonic() - self._drawn_at < GROW_REDRAW_S):
            return  # unchanged, or growing and drawn moments ago (the tick draws it when due)
        self._draw_clip(clip, samples)
        if not clip.complete:
            self.timer.start()  # follows its growth

    def _draw_clip(self, clip: Clip, samples: int) -> None:
        self._shown, self._shown_samples, self._shown_complete = clip, samples, clip.complete
        self._drawn_at = time.monotonic()
        state = "" if clip.complete else " (generating…)"
        self.waveform.show_audio(clip.wav if samples else None, f"{clip.name}{state}")

    def show_voice(self, utterance: Utterance) -> None:
        self._shown, self._shown_samples, self._shown_complete = utterance, 0, True
        self.waveform.show_audio(utterance.wav, f"voice: {utterance.name}")

    def playing_shown(self) -> None:
        """The player has just started playing what is shown: the line follows it."""
        self._playing = self._shown
        self.timer.start()
        self.tick()

    def stop(self) -> None:
        """No more updates (the window is closing)."""
        self.timer.stop()
        self._playing = None

    def refresh(self) -> None:
        """Redraw the shown clip now if it changed (e.g. it was finished or tidied up)."""
        if isinstance(self._shown, Clip):
            self.show_clip(self._shown)

    # -- the 30 Hz tick ----------------------------------------------------------------------------
    def tick(self) -> None:
        playing = self.player.playing
        if not playing:
            self._playing = None
        position = self.player.position if playing and self._playing is self._shown else None
        self.waveform.set_position(position)
        clip = self._shown if isinstance(self._shown, Clip) else None
        growing = clip is not None and not self._shown_complete
        if growing:
            samples = sum(len(c) for c in clip.chunks)
            due = time.monotonic() - self._drawn_at >= GROW_REDRAW_S
            if clip.complete or (samples != self._shown_samples and due):
                self._draw_clip(clip, samples)
        if not playing and not growing:
            self.timer.stop()

    # -- volume ------------------------------------------------------------------------------------
    def _on_volume(self, value: int) -> None:
        self.player.volume = value / 100.0
        self.volume_value.setText(f"{value} %")
