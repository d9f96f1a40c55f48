"""Start-up pieces that must stay light (PySide6 only, no numpy/matplotlib/torch): the first window
shown while the rest of the toolbox is imported, its size from the screen, the age of the process,
and Ctrl+C / SIGTERM routed to a clean close of the window.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time

from PySide6.QtCore import QObject, QSize, QSocketNotifier, Qt, Signal
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

MIN_SIZE = QSize(1024, 640)  # fits a 1280x720 logical screen with a taskbar and a title bar
PREFERRED = QSize(1500, 950)
TITLE = "SV2TTS toolbox"


def process_age() -> float:
    """Seconds since this process started (Linux /proc; elsewhere since this module was imported)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def first_size(screen: QScreen | None) -> QSize:
    """The window's first size: PREFERRED, shrunk to 92 % of the screen's available area (logical
    pixels, so 1.5x scaling counts), never below what the screen can show."""
    if screen is None:
        return PREFERRED
    avail = screen.availableGeometry().size()
    w = min(PREFERRED.width(), int(avail.width() * 0.92))
    h = min(PREFERRED.height(), int(avail.height() * 0.92))
    return QSize(max(min(MIN_SIZE.width(), avail.width()), w), max(min(MIN_SIZE.height(), avail.height()), h))


def minimum_size(screen: QScreen | None) -> QSize:
    if screen is None:
        return MIN_SIZE
    avail = screen.availableGeometry().size()
    return QSize(min(MIN_SIZE.width(), avail.width()), min(MIN_SIZE.height(), avail.height()))


class LoadingWindow(QMainWindow):
    """Shown within a second of launch, while the toolbox and its models are being loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        screen = QGuiApplication.primaryScreen()
        self.setMinimumSize(minimum_size(screen))
        self.resize(first_size(screen))
        self.label = QLabel("Loading the toolbox and its models…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar = QProgressBar()
        bar.setRange(0, 0)  # busy
        bar.setMaximumWidth(360)
        box = QWidget()
        v = QVBoxLayout(box)
        v.addStretch(1)
        v.addWidget(self.label)
        v.addWidget(bar, 0, Qt.AlignmentFlag.AlignHCenter)
        v.addStretch(1)
        self.setCentralWidget(box)


class SignalRelay(QObject):
    """Turns SIGINT (Ctrl+C in the terminal) and SIGTERM into a Qt signal on the GUI thread.

    Qt's event loop runs in C, so Python signal handlers would only run at the next Python callback;
    the wake-up file descriptor makes the loop wake at once.
    """

    received = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno())
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}

    def _drain(self) -> None:
        try:
            self._read.recv(64)
        except OSError:
            pass

    def _handle(self, signum: int, frame) -> None:
        log.info("received %s: closing", signal.Signals(signum).name)
        self.received.emit(signum)

    def restore(self) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(self._old_fd)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()

