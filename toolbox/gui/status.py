"""Status area and error reporting.

* :func:`setup_file_logging` adds a rotating log file in the user log directory (platformdirs).
* :class:`StatusArea` is a non-blocking message list (no modal dialogs): info in grey, errors in
  red, each with a time stamp; it keeps the last :attr:`StatusArea.MAX_LINES` lines.
* :class:`QtLogBridge` forwards WARNING+ log records from any thread to the status area through a
  queued signal, and :func:`install_excepthook` routes uncaught GUI exceptions there too.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from toolbox.gui.plot_theme import is_dark

log = logging.getLogger(__name__)


def log_dir() -> Path:
    from models import userdirs

    return userdirs.log_dir()


def setup_file_logging(directory: Path | None = None) -> Path | str:
    """Attach a rotating file handler (1 MB x 3) to the root logger; returns the log file path.

    When the directory cannot be created or written (read-only, a file in the way), logs go to
    stderr instead and the returned string says so (shown in the status area)."""
    directory = Path(directory) if directory is not None else log_dir()
    path = directory / "toolbox.log"
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == path:
            return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                                         encoding="utf-8")
    except OSError as e:
        handler = logging.StreamHandler(sys.stderr)
        where = f"stderr ({directory} is not writable: {e.strerror or e})"
        print(f"sv2tts toolbox: cannot write the log in {directory} ({e.strerror or e}); logging to stderr",
              file=sys.stderr)
        path = where  # type: ignore[assignment]
        if any(type(h) is logging.StreamHandler for h in root.handlers):
            return path  # the command line already logs to stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return path


class StatusArea(QPlainTextEdit):
    MAX_LINES = 200

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(self.MAX_LINES)
        self.setMaximumHeight(72)
        self.setPlaceholderText("Messages appear here")
        self.errors: list[str] = []

    def info(self, text: str) -> None:
        self._add(text, None)  # the palette's text colour, light or dark

    def error(self, text: str) -> None:
        self.errors.append(text)
        self._add(text, "#ff6b6b" if is_dark(self.palette()) else "#b00020")  # readable on either

    def _add(self, text: str, colour: str | None) -> None:
        from html import escape

        stamp = time.strftime("%H:%M:%S")
        style = f' style="color:{colour}"' if colour else ""
        self.appendHtml(f'<span style="color:#888">{stamp}</span> <span{style}>{escape(text)}</span>')
        self.moveCursor(QTextCursor.MoveOperation.End)

    def last_line(self) -> str:
        return self.toPlainText().splitlines()[-1] if self.toPlainText() else ""


class QtLogBridge(QObject, logging.Handler):
    record = Signal(str, int)

    def __init__(self, level: int = logging.WARNING) -> None:
        QObject.__init__(self)
        logging.Handler.__init__(self, level)

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D401  (logging API)
        try:
            self.record.emit(record.getMessage(), record.levelno)
        except RuntimeError:  # the bridge was deleted while shutting down
            pass


def install_excepthook(report) -> None:
    """Uncaught exceptions (e.g. in a slot) are logged with their traceback and reported."""

    def hook(kind, value, tb) -> None:
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        try:
            report(f"Unexpected error: {kind.__name__}: {value}")
        except Exception:
            pass

    sys.excepthook = hook
