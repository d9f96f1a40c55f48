"""A matplotlib figure rendered off the GUI thread.

Drawing a figure with Agg costs 40 ms on an idle 2-core machine and 150 ms while the models run,
too long for the GUI thread (target: no event-loop stall above 50 ms). So the GUI thread never
touches the figure after construction: it queues *mutations* (closures that call ``set_data``,
``set_offsets``...), and one render thread applies them, draws with Agg and hands back a QImage
that :meth:`PlotCanvas.paintEvent` blits. Renders are coalesced and throttled (`interval_ms`).
Artists are still created once and updated in place (docs/style.md habit 10).

`after_draw()` (run on the render thread) may return a snapshot (e.g. frozen transforms) that is
stored in :attr:`PlotCanvas.snapshot` for hit-testing on the GUI thread.

Colours follow the widget's palette (:mod:`toolbox.gui.plot_theme`), also when it changes while
the window is open (a PaletteChange or ApplicationPaletteChange event queues a recolouring).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QEvent, QRect, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from toolbox.gui.plot_theme import PlotTheme, apply_theme, theme_for

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def _render_thread() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plot-render")
    return _executor


class PlotCanvas(QWidget):
    rendered = Signal()
    _done = Signal(object, object, int)  # QImage, snapshot, render number

    def __init__(self, figure: Figure, parent: QWidget | None = None, interval_ms: int = 33) -> None:
        super().__init__(parent)
        self.figure = figure
        self._agg = FigureCanvasAgg(figure)
        self._queue: list[Callable[[], None]] = []
        self._lock = threading.Lock()  # guards _queue only (never held while drawing)
        self._rendering = False
        self._dirty = False
        self._image: QImage | None = None
        self.snapshot = None
        self.renders = 0
        self._closed = False
        self._timer = QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self._start_render)
        self._done.connect(self._on_done)
        self.theme: PlotTheme = theme_for(self.palette())
        self.background = QColor(self.theme.background)
        self.mutate(lambda: self.apply_theme(self.theme))  # after the subclass made its artists

    # -- GUI thread API ------------------------------------------------------------------------------
    def mutate(self, fn: Callable[[], None]) -> None:
        """Queue a change to the figure; it runs on the render thread before the next draw."""
        with self._lock:
            self._queue.append(fn)
        self.schedule()

    def schedule(self) -> None:
        if self._rendering:
            self._dirty = True
        elif not self._timer.isActive() and not self._closed:
            self._timer.start()

    @property
    def idle(self) -> bool:
        """Nothing queued, scheduled or rendering (tests wait for this)."""
        with self._lock:
            queued = bool(self._queue)
        return not (queued or self._rendering or self._dirty or self._timer.isActive())

    def follow_palette(self) -> None:
        """Recolour the plot for the widget's current palette (dark or light), if that changed it."""
        theme = theme_for(self.palette())
        if theme != self.theme:
            self.theme = theme
            self.background = QColor(theme.background)
            self.mutate(lambda: self.apply_theme(theme))
            self.update()

    def apply_theme(self, theme: PlotTheme) -> None:
        """Render thread: recolour the figure. Subclasses extend it for their own data colours."""
        apply_theme(self.figure, theme)

    def after_draw(self):
        """Override: a snapshot taken on the render thread right after drawing."""
        return None

    def before_draw(self, width_pt: float, height_pt: float) -> None:
        """Override: place axes for a figure of this size in points (render thread), so margins for
        titles and tick labels stay fixed in points whatever the window size and screen scaling."""

    def place(self, ax, left: float, bottom: float, width: float, height: float,
              fig_w: float, fig_h: float) -> None:
        """Put `ax` at a rectangle given in points."""
        ax.set_position((left / fig_w, bottom / fig_h, max(width, 1.0) / fig_w, max(height, 1.0) / fig_h))

    # -- rendering -----------------------------------------------------------------------------------
    def _start_render(self) -> None:
        if self._closed or not self.isVisible() or self.width() < 10 or self.height() < 10:
            return  # rendered when shown
        self._rendering = True
        self._dirty = False
        ratio = self.devicePixelRatioF()
        size = (self.width() * ratio, self.height() * ratio)
        try:
            _render_thread().submit(self._render, size, ratio)
        except RuntimeError:  # interpreter shutting down
            self._rendering = False

    def _render(self, size: tuple[float, float], ratio: float) -> None:
        try:
            with self._lock:
                todo, self._queue = self._queue, []
            for fn in todo:
                fn()
            dpi = 100.0 * ratio
            self.figure.set_dpi(dpi)
            self.figure.set_size_inches(size[0] / dpi, size[1] / dpi, forward=False)
            self.before_draw(size[0] / dpi * 72, size[1] / dpi * 72)
            self._agg.draw()
            buf = np.asarray(self._agg.buffer_rgba())
            h, w = buf.shape[:2]
            image = QImage(buf.tobytes(), w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
            image.setDevicePixelRatio(ratio)
            snapshot = self.after_draw()
        except Exception:
            log.exception("drawing a plot failed")
            image, snapshot = None, None
        self.renders += 1
        try:
            self._done.emit(image, snapshot, self.renders)
        except RuntimeError:  # the widget was deleted meanwhile
            pass

    def _on_done(self, image, snapshot, number: int) -> None:
        self._rendering = False
        if image is not None:
            self._image = image
            self.snapshot = snapshot
            self.update()
        self.rendered.emit()
        if self._dirty or self._queue:
            self._dirty = False
            self.schedule()

    # -- Qt events -----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.background)
        if self._image is not None:
            p.drawImage(QRect(0, 0, self.width(), self.height()), self._image)
        p.end()

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.follow_palette()
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.schedule()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.schedule()

    def closeEvent(self, event) -> None:
        self._closed = True
        super().closeEvent(event)
