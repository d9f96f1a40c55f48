"""A compact waveform of one clip with a moving playback-position line.

The waveform is drawn by matplotlib off the GUI thread (:class:`PlotCanvas`) only when the audio
changes: a min/max envelope of at most :data:`COLUMNS` columns, one polygon updated in place. The
position line is not part of the figure: :meth:`WaveformView.set_position` only stores it and
:meth:`paintEvent` draws it with QPainter over the cached image, using the axes' pixel span saved
after the last draw, so moving it 30 times a second costs a repaint of one widget and no render.
"""

from __future__ import annotations

import logging

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from PySide6.QtCore import QPointF, QRect
from PySide6.QtGui import QColor, QPainter, QPen

from models.audio import SAMPLE_RATE
from toolbox.gui.plot_canvas import PlotCanvas
from toolbox.gui.plot_theme import MUTED, PlotTheme
from toolbox.gui.spectrograms import BACKGROUND, fit

log = logging.getLogger(__name__)

COLUMNS = 1200  # envelope resolution: more than the widget is wide on any screen
HEIGHT = 58  # px, fixed: the window must still fit a 1280x720 screen


def envelope(wav: np.ndarray, columns: int = COLUMNS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L,) audio -> (times (C,) s, minima (C,), maxima (C,)) over C = min(columns, L) equal spans."""
    wav = np.asarray(wav, np.float32).reshape(-1)
    n = min(columns, len(wav))
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    edges = np.linspace(0, len(wav), n + 1).astype(np.int64)
    lo = np.minimum.reduceat(wav, edges[:-1])
    hi = np.maximum.reduceat(wav, edges[:-1])
    times = (edges[:-1] + edges[1:]) / 2 / SAMPLE_RATE
    return times, lo, hi


class WaveformView(PlotCanvas):
    """The shown audio's envelope over time (s), and where playback is (:attr:`position`, s)."""

    # Margins in points: 7 pt tick labels under the axes.
    TOP, BOTTOM, LEFT, RIGHT = 3.0, 13.0, 6.0, 10.0

    def __init__(self) -> None:
        super().__init__(Figure(figsize=(8, 0.6), facecolor=BACKGROUND))
        self.ax = self.figure.add_axes((0.01, 0.3, 0.98, 0.65))
        for side, spine in self.ax.spines.items():
            spine.set_visible(side == "bottom")
        self.ax.set_yticks([])
        self.ax.set_ylim(-1.05, 2.0)  # the top third is left free for the title
        self.ax.set_xlim(0.0, 1.0)
        self.ax.tick_params(labelsize=7, length=2, pad=1)
        self.fill = PolyCollection([], linewidths=0.6)
        self.ax.add_collection(self.fill)
        self.label = self.ax.text(0.005, 0.97, "", ha="left", va="top", transform=self.ax.transAxes,
                                  fontsize=7, gid=MUTED)
        self._title = ""  # render thread's copy of the title
        self.setFixedHeight(HEIGHT)
        self.setMinimumWidth(200)
        # GUI-side state (the figure belongs to the render thread)
        self.duration = 0.0  # seconds of the shown audio (the x axis spans it)
        self.samples = 0
        self.title = ""
        self.position: float | None = None  # seconds, or None: no line
        self.line_x: int | None = None  # where the line was last painted (logical px), for tests

    # -- data --------------------------------------------------------------------------------------
    def show_audio(self, wav: np.ndarray | None, title: str = "") -> None:
        """Draw (L,) 16 kHz audio, or clear with None; `title` is written in the top-left corner."""
        wav = None if wav is None or len(wav) == 0 else wav
        self.samples = 0 if wav is None else len(wav)
        self.duration = self.samples / SAMPLE_RATE
        self.title = title
        self.mutate(lambda: self._apply_audio(wav, title))
        self.update()

    def _apply_audio(self, wav: np.ndarray | None, title: str) -> None:  # render thread
        if wav is None:
            self.fill.set_verts([])
            self.ax.set_xlim(0.0, 1.0)
        else:
            t, lo, hi = envelope(wav)
            peak = max(float(np.max(np.abs(hi))), float(np.max(np.abs(lo))), 1e-3)
            outline = np.concatenate([np.column_stack([t, hi / peak]), np.column_stack([t[::-1], lo[::-1] / peak])])
            self.fill.set_verts([outline])  # scaled to the clip's peak: quiet clips stay visible
            self.ax.set_xlim(0.0, len(wav) / SAMPLE_RATE)
        self._title = title

    def set_position(self, seconds: float | None) -> None:
        """Move the playback line to `seconds` (None hides it). Repaints only when it moves a pixel."""
        self.position = seconds
        x = self._line_pixel(seconds)
        if x != self.line_x:
            for old_or_new in (self.line_x, x):  # repaint two thin strips, not the whole plot
                if old_or_new is not None:
                    self.update(QRect(old_or_new - 2, 0, 5, self.height()))
            self.line_x = x

    def _line_pixel(self, seconds: float | None) -> int | None:
        if seconds is None or self.snapshot is None or self.duration <= 0:
            return None
        x0, x1, lim0, lim1 = self.snapshot[:4]
        if lim1 <= lim0:
            return None
        fraction = min(max((seconds - lim0) / (lim1 - lim0), 0.0), 1.0)
        return round((x0 + fraction * (x1 - x0)) / self.devicePixelRatioF())

    # -- drawing -----------------------------------------------------------------------------------
    def before_draw(self, width_pt: float, height_pt: float) -> None:
        self.place(self.ax, self.LEFT, self.BOTTOM, width_pt - self.LEFT - self.RIGHT,
                   height_pt - self.BOTTOM - self.TOP, width_pt, height_pt)
        self.label.set_text(fit(self._title, (width_pt - self.LEFT - self.RIGHT) / 4.0) if self._title else "")

    def after_draw(self):  # render thread: the axes' span in device pixels, and the time it shows
        box = self.ax.get_window_extent()
        lim0, lim1 = self.ax.get_xlim()
        height = self.figure.bbox.height
        return box.x0, box.x1, lim0, lim1, height - box.y1, height - box.y0

    def apply_theme(self, theme: PlotTheme) -> None:
        super().apply_theme(theme)
        self.fill.set_facecolor(theme.accent)
        self.fill.set_edgecolor(theme.accent)

    def _on_done(self, image, snapshot, number: int) -> None:
        super()._on_done(image, snapshot, number)
        self.set_position(self.position)  # the axes may have moved or the time span changed

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.line_x is None or self.snapshot is None:
            return
        ratio = self.devicePixelRatioF()
        top, bottom = self.snapshot[4] / ratio, self.snapshot[5] / ratio
        p = QPainter(self)
        p.setPen(QPen(QColor(self.theme.marker), 1.5))
        p.drawLine(QPointF(self.line_x, top), QPointF(self.line_x, bottom))
        p.end()
