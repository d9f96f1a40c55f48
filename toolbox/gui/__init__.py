"""The desktop toolbox (Qt, PySide6). Start it with `sv2tts toolbox` or :func:`launch`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def launch(datasets_root: Path | None = None, seed: int | None = None, device: str = "cpu",
           engine=None, backend=None, exit_after: float | None = None) -> int:
    """Open the main window and run the Qt event loop; returns the exit code.

    `exit_after` (seconds) closes the window by itself, for smoke tests.
    """
    t0 = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from toolbox.gui.status import install_excepthook, setup_file_logging

    log_file = setup_file_logging()
    app = QApplication.instance() or QApplication(["sv2tts toolbox"])
    app.setApplicationName("sv2tts toolbox")
    if backend is None:
        from toolbox.audio_io import SoundDeviceBackend

        backend = SoundDeviceBackend()
    if engine is None:
        from toolbox.gui.engine import StoreEngine

        engine = StoreEngine(device=device)
    from toolbox.gui.main_window import MainWindow
    from toolbox.gui.session import KnownSpeakers

    window = MainWindow(engine, backend, datasets_root=datasets_root, seed=seed, known=KnownSpeakers.load())
    install_excepthook(window.status.error)
    window.show()
    window.status.info(f"Ready in {time.perf_counter() - t0:.1f} s. Log file: {log_file}")
    log.info("toolbox window shown after %.2f s", time.perf_counter() - t0)
    if exit_after is not None:
        QTimer.singleShot(int(exit_after * 1000), window.close)
    return app.exec()
