"""Short background jobs (file loading, export) on the global QThreadPool; results come back as signals."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    error = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as e:
            log.warning("background task failed: %s", e, exc_info=not isinstance(e, (OSError, ValueError)))
            self.relay.error.emit(str(e))
        else:
            self.relay.done.emit(result)


_live: set[_Relay] = set()


def run_task(fn: Callable[[], object], on_done: Callable[[object], None],
             on_error: Callable[[str], None]) -> None:
    """Run `fn()` on a pool thread; `on_done(result)` or `on_error(message)` runs on the GUI thread."""
    relay = _Relay()
    _live.add(relay)
    relay.done.connect(on_done)
    relay.error.connect(on_error)
    relay.done.connect(lambda _: _live.discard(relay))
    relay.error.connect(lambda _: _live.discard(relay))
    QThreadPool.globalInstance().start(_Task(fn, relay))


def wait_for_tasks(ms: int = 5000) -> bool:
    return QThreadPool.globalInstance().waitForDone(ms)
