"""The desktop toolbox (Qt, PySide6). Start it with `sv2tts toolbox` or :func:`launch`.

Start-up order: only PySide6 is imported before a first window appears (:class:`startup.LoadingWindow`,
< 1.5 s after the process starts); the rest of the toolbox (numpy, matplotlib, the model layer) is
imported on a thread behind it, then the main window replaces it and loads the models on its worker.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

HEAVY_MODULES = ("toolbox.gui.main_window", "toolbox.gui.engine", "toolbox.gui.session", "toolbox.audio_io")


def launch(datasets_root: Path | None = None, seed: int | None = None, device: str = "cpu",
           engine=None, backend=None, exit_after: float | None = None, on_window=None,
           exit_process: bool = True) -> int:
    """Open the main window and run the Qt event loop; returns the exit code.

    `exit_after` (seconds) closes the window by itself, for smoke tests; `on_window(window)` is called
    once the main window is up (tests and benchmarks drive it from there). With `exit_process` (the
    default) the process ends right after the window closed, without interpreter teardown.
    """
    from PySide6.QtCore import QObject, QTimer, Signal
    from PySide6.QtWidgets import QApplication

    from toolbox.gui.startup import LoadingWindow, SignalRelay, process_age
    from toolbox.gui.status import setup_file_logging

    log_file = setup_file_logging()
    app = QApplication.instance() or QApplication(["sv2tts toolbox"])
    app.setApplicationName("sv2tts toolbox")
    app.setQuitOnLastWindowClosed(False)  # the loading window closes when the main window opens
    loading = LoadingWindow()
    loading.show()
    log.info("toolbox window shown %.2f s after the process started", process_age())
    relay = SignalRelay()
    state: dict = {"window": None, "closing": False}

    class Imported(QObject):
        done = Signal(str)

    imported = Imported()

    def import_rest() -> None:  # a thread: imports hold the GIL, but the loading window stays up
        error = ""
        try:
            import importlib

            for name in HEAVY_MODULES:
                importlib.import_module(name)
        except Exception as e:  # reported once the event loop can show it
            log.exception("importing the toolbox failed")
            error = f"{type(e).__name__}: {e}"
        imported.done.emit(error)

    def build(error: str) -> None:
        if error:
            loading.label.setText(f"The toolbox cannot start: {error}\nSee the log for details.")
            return
        if state["closing"]:
            app.quit()
            return
        nonlocal backend, engine
        from toolbox.gui.main_window import MainWindow
        from toolbox.gui.session import KnownSpeakers
        from toolbox.gui.status import install_excepthook

        if backend is None:
            from toolbox.audio_io import SoundDeviceBackend

            backend = SoundDeviceBackend()
        if engine is None:
            from toolbox.gui.engine import StoreEngine

            engine = StoreEngine(device=device)
        try:
            window = MainWindow(engine, backend, datasets_root=datasets_root, seed=seed,
                                known=KnownSpeakers.load())
        except Exception as e:
            log.exception("building the main window failed")
            loading.label.setText(f"The toolbox cannot start: {type(e).__name__}: {e}\nLog file: {log_file}")
            return
        install_excepthook(window.status.error)
        if not window.settings.value("geometry"):
            window.setGeometry(loading.geometry())
        window.show()
        loading.close()
        app.setQuitOnLastWindowClosed(True)
        state["window"] = window
        window.status.info(f"Window ready {process_age():.1f} s after start; loading the models… "
                           f"Log file: {log_file}")
        log.info("toolbox main window ready %.2f s after the process started", process_age())
        if on_window is not None:
            on_window(window)
        if exit_after is not None:
            QTimer.singleShot(int(exit_after * 1000), window.close)

    def close() -> None:
        state["closing"] = True
        if state["window"] is not None:
            state["window"].close_requested = time.perf_counter()
            state["window"].close()
        else:
            loading.close()
            app.quit()

    relay.received.connect(lambda _: close())
    imported.done.connect(build)
    threading.Thread(target=import_rest, name="import-toolbox", daemon=True).start()
    code = app.exec()
    relay.restore()
    window = state["window"]
    if window is not None:
        window.shutdown()  # idempotent; closeEvent did it already
        if window.models.thread.isRunning():
            log.warning("the model worker is still busy; exiting without waiting for it")
    if not exit_process:
        return code
    # Everything is saved and every child process has ended. Tearing the interpreter down (Qt objects,
    # torch, numba) takes seconds on a busy machine, and destroying a QThread still inside a model call
    # aborts the process: leave at once, logs flushed.
    since = getattr(window, "close_requested", None)
    log.info("toolbox closed %.2f s after the process started%s", process_age(),
             f", {(time.perf_counter() - since) * 1000:.0f} ms after the close request" if since else "")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
