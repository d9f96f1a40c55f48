"""The "Download published models" dialog (Models menu).

Lists the models of the store's manifest that can be downloaded (name, what it does in plain words,
size, whether it is on this computer and checked), downloads the ticked ones one after the other on a
:class:`DownloadWorker` living on its own QThread, and shows the bytes received of the current file.
Cancel sets the worker's event: the store stops at its next 256 KiB piece and keeps nothing (it
downloads into a temporary folder and moves a file into place only once it is verified). Failures
(offline, a sha256 mismatch, ...) show as one line under the progress bar.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.vocoding import Cancelled

log = logging.getLogger(__name__)

WHAT_IT_DOES = {
    "encoder": "Recognises a voice: turns a recording into the voice's fingerprint",
    "synthesizer": "Turns your text into speech in the chosen voice (as a spectrogram)",
    "vocoder": "Turns the spectrogram into sound you can hear",
}
INTRO = ("These are the models published with SV2TTS. They are downloaded from the internet (Hugging Face) "
         "and checked before use. The toolbox works without them, with the smaller models it comes with.")
REPORT_EVERY = 0.05  # s: at most this often does the worker send progress to the window
COLUMNS = ("Model", "What it does", "Size", "On this computer")


def megabytes(n: int | None) -> str:
    """A byte count for people: "51.8 MB" (decimal megabytes), "size unknown" for None."""
    return "size unknown" if n is None else f"{n / 1e6:.1f} MB"


@dataclass(frozen=True)
class ModelRow:
    """One downloadable model as the dialog lists it; `status` as in models.store.VerifyResult."""

    name: str
    kind: str
    filename: str
    size: int | None
    status: str  # "ok" | "missing" | "bad"
    detail: str = ""
    description: str = ""

    @property
    def state(self) -> str:
        return {"ok": "Ready (checked)", "missing": "Not downloaded"}.get(self.status, "Damaged: download again")


def downloadable(store) -> list[ModelRow]:
    """The store's models that have a download source, with their state on disk (quick check: sizes,
    formats and remembered hashes). May read files: call it off the GUI thread."""
    entries = [e for e in store.entries() if e.sources]
    rows = []
    for e in entries:
        [r] = store.verify(e.name, thorough=False)
        rows.append(ModelRow(e.name, e.kind, e.filename, e.size, r.status, r.detail, e.description))
    return rows


def failure_text(error: BaseException) -> str:
    """One line saying why a download failed: the store's bare reasons when it has them."""
    reasons = getattr(error, "reasons", ())
    text = "; ".join(reasons) if reasons else str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first


class DownloadWorker(QObject):
    """Downloads `names` in order with ``store.download(name, progress=..., cancel=...)``.

    Lives on its own QThread (``run`` is connected to the thread's ``started``); only signals cross
    back. :meth:`cancel` may be called from any thread."""

    started = Signal(str, object)  # name, total bytes (None: unknown)
    progress = Signal(str, object, object)  # name, bytes received, total bytes (None: unknown)
    checking = Signal(str)  # name: every byte is there; the store verifies the file
    downloaded = Signal(str, str)  # name, path of the verified file in the store
    failed = Signal(str, str)  # name, one-line reason
    cancelled = Signal(str)  # name
    finished = Signal()

    def __init__(self, store, names: list[str]) -> None:
        super().__init__()
        self.store = store
        self.names = list(names)
        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    @Slot()
    def run(self) -> None:
        try:
            for name in self.names:
                if not self._one(name):
                    break
        finally:
            self.finished.emit()

    def _one(self, name: str) -> bool:
        """Download one model; False when the batch must stop (cancelled)."""
        size = self.store.entry(name).size
        self.started.emit(name, size)
        last = [0.0, False]  # time of the last report, checking announced

        def report(done: int, total: int | None) -> None:
            total = total if total is not None else size
            now = time.monotonic()
            complete = total is not None and done >= total
            if complete or now - last[0] >= REPORT_EVERY:
                last[0] = now
                self.progress.emit(name, done, total)
            if complete and not last[1]:
                last[1] = True
                self.checking.emit(name)

        try:
            path = self.store.download(name, progress=report, cancel=self.stop)
        except Cancelled:
            log.info("download of %s cancelled", name)
            self.cancelled.emit(name)
            return False
        except Exception as e:  # DownloadError, an unwritable cache...: one line for the dialog
            log.warning("could not download the %s model: %s", name, e)
            self.failed.emit(name, failure_text(e))
            return True
        log.info("downloaded the %s model to %s", name, path)
        self.downloaded.emit(name, str(path))
        return True


class DownloadDialog(QDialog):
    """Lists the downloadable models and downloads the ticked ones with a progress bar and Cancel.

    `on_changed(message)` runs (on the GUI thread) after each model that arrived, e.g.
    ``MainWindow.models_changed`` so the model pickers offer it."""

    def __init__(self, store, on_changed: Callable[[str], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download published models")
        self.store = store
        self.on_changed = on_changed
        self.rows: list[ModelRow] = []
        self._thread: QThread | None = None
        self._worker: DownloadWorker | None = None
        self._unit = 1  # bytes per progress-bar step (1024 for files past the bar's 32-bit range)
        self._current = ""
        self._batch: list[str] = []
        self._closing = False

        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._update_buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label = QLabel("Tick the models to download, then press Download.")
        self.message = QLabel()
        self.message.setWordWrap(False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download the ticked models, one after the other")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setToolTip("Stop downloading; nothing of the unfinished file is kept")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close this window (a download in progress is stopped)")
        self.download_button.clicked.connect(self._download_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)

        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(760, 340)
        self._update_buttons()

    # -- listing ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """List the models again (checked on a pool thread; the table fills when that is done)."""
        from toolbox.gui.tasks import run_task

        self.progress_label.setText("Looking at the models on this computer…")
        run_task(lambda: downloadable(self.store), self._fill, self._listing_failed)

    def _listing_failed(self, message: str) -> None:
        self._say(f"Cannot list the models: {message}", error=True)

    def _fill(self, rows: object) -> None:
        self.rows = list(rows)  # type: ignore[call-overload]
        keep = {self.table.item(i, 0).text(): self.table.item(i, 0).checkState() for i in range(self.table.rowCount())
                if self.table.item(i, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable}  # the user's ticks stay
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            name = QTableWidgetItem(row.name)
            name.setToolTip(row.description or row.name)
            if row.status != "ok":
                name.setFlags(name.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                name.setCheckState(keep.get(row.name, Qt.CheckState.Checked))
            else:
                name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            what = QTableWidgetItem(WHAT_IT_DOES.get(row.kind, row.kind))
            what.setToolTip(row.description)
            size = QTableWidgetItem(megabytes(row.size))
            size.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            state = QTableWidgetItem(row.state)
            state.setToolTip(row.detail if row.status == "bad" else
                             "Its size, format and checksum were checked" if row.status == "ok" else
                             "Tick it and press Download")
            for col, item in enumerate((name, what, size, state)):
                self.table.setItem(i, col, item)
        self.table.blockSignals(False)
        if not self.running:
            missing = sum(r.status != "ok" for r in self.rows)
            self.progress_label.setText(f"{missing} of {len(self.rows)} models to download." if missing
                                        else "Every published model is here and checked.")
        self._update_buttons()

    def ticked(self) -> list[str]:
        """Names of the ticked models, in table order."""
        out = []
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            if item is not None and item.flags() & Qt.ItemFlag.ItemIsUserCheckable \
                    and item.checkState() == Qt.CheckState.Checked:
                out.append(item.text())
        return out

    def _set_state(self, name: str, text: str) -> None:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).text() == name:
                self.table.item(i, 3).setText(text)

    # -- downloading -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    def _download_clicked(self) -> None:
        self.start(self.ticked())

    def start(self, names: list[str]) -> None:
        """Download `names` one after the other on a worker thread."""
        if self.running or not names:
            return
        self._batch = list(names)
        self._say("")
        thread = QThread(self)
        worker = DownloadWorker(self.store, names)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.checking.connect(self._on_checking)
        worker.downloaded.connect(self._on_downloaded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)  # also while the GUI waits
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self._update_buttons()
        thread.start()

    def cancel(self) -> None:
        """Stop the download in progress (takes effect at its next 256 KiB piece)."""
        if self._worker is not None:
            self._worker.cancel()
            self.progress_label.setText("Stopping…")
            self.cancel_button.setEnabled(False)

    @Slot(str, object)
    def _on_started(self, name: str, total: object) -> None:
        self._current = name
        self._set_state(name, "Downloading…")
        self._show_bytes(name, 0, total)  # type: ignore[arg-type]

    @Slot(str, object, object)
    def _on_progress(self, name: str, done: object, total: object) -> None:
        self._show_bytes(name, done, total)  # type: ignore[arg-type]

    def _show_bytes(self, name: str, done: int, total: int | None) -> None:
        filename = self.store.entry(name).filename
        place = f" (model {self._batch.index(name) + 1} of {len(self._batch)})" if len(self._batch) > 1 else ""
        if total is None:
            self.progress.setRange(0, 0)  # busy: the size is not known
            self.progress_label.setText(f"Downloading {filename}{place}: {megabytes(done)} received")
            return
        self._unit = 1 if total < 2**31 else 1024
        self.progress.setRange(0, max(1, total // self._unit))
        self.progress.setValue(min(done, total) // self._unit)
        self.progress_label.setText(f"Downloading {filename}{place}: {megabytes(done)} of {megabytes(total)}")

    @Slot(str)
    def _on_checking(self, name: str) -> None:
        self.progress_label.setText(f"Checking {self.store.entry(name).filename}…")
        self._set_state(name, "Checking…")

    @Slot(str, str)
    def _on_downloaded(self, name: str, path: str) -> None:
        self._set_state(name, "Ready (checked)")
        self._say(f"Downloaded the {name} model ({megabytes(self.store.entry(name).size)}); it is checked and "
                  "ready to use.")
        if self.on_changed is not None:
            self.on_changed(f"Downloaded the {name} model to {path}")

    @Slot(str, str)
    def _on_failed(self, name: str, reason: str) -> None:
        self._set_state(name, "Not downloaded")
        self._say(f"Could not download the {name} model: {reason}", error=True)

    @Slot(str)
    def _on_cancelled(self, name: str) -> None:
        self._set_state(name, "Not downloaded")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._say(f"Download of the {name} model cancelled; nothing of it was kept.")

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        self._current = ""
        self._update_buttons()
        if not self._closing:
            self.refresh()

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color:#b00020" if error else "")
        self.message.setText(text)
        self.message.setToolTip(text)

    def _update_buttons(self, *_: object) -> None:
        self.download_button.setEnabled(not self.running and bool(self.ticked()))
        self.cancel_button.setEnabled(self.running and not (self._worker and self._worker.stop.is_set()))

    # -- closing ---------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:  # Esc
        self.cancel()
        super().reject()

    def shutdown(self, wait_ms: int = 2000) -> bool:
        """Cancel any download and wait for its thread (at most `wait_ms`); True when it has ended."""
        self._closing = True
        thread = self._thread
        if thread is None:
            return True
        self.cancel()
        return thread.wait(wait_ms)
