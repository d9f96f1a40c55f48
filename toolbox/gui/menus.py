"""The main window's menu bar and keyboard shortcuts.

File: open audio (Ctrl+O), choose the datasets folder, export the selected clip (Ctrl+E), quit (Ctrl+Q).
Generate: synthesize and play (Ctrl+Enter, also from the text box), stop (Esc). Models: download the
published models (:mod:`toolbox.gui.download`), import a model file, show the models folder. Help: about.
Every action is kept in ``window.actions`` (tests use it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

log = logging.getLogger(__name__)

ABOUT = ("<b>SV2TTS toolbox</b><p>Clone a voice from a few seconds of speech: a speaker encoder turns the "
         "voice into 256 numbers, a synthesizer turns your text and those numbers into a spectrogram, and a "
         "vocoder turns the spectrogram into sound (Jia et al. 2018, SV2TTS).</p>"
         "<p>Code: MIT. Published weights by Corentin Jemine (Real-Time-Voice-Cloning). Speaker data derived "
         "from LibriSpeech (CC BY 4.0).</p>")


def _action(window: QMainWindow, menu, name: str, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda checked=False: slot())
    menu.addAction(action)
    window.actions[name] = action
    return action


def install_menus(window) -> None:
    """Build the menu bar of a :class:`~toolbox.gui.main_window.MainWindow`."""
    window.actions = {}
    bar = window.menuBar()
    file = bar.addMenu("&File")
    _action(window, file, "open", "&Open audio…", window._browse_file, ["Ctrl+O"],
            "Load recordings of a voice (WAV, FLAC, MP3, OGG, M4A…)")
    _action(window, file, "datasets", "Choose &datasets folder…", lambda: choose_datasets(window), (),
            "The folder holding LibriSpeech, LibriTTS, VCTK, VoxCeleb or LJSpeech, to pick voices from")
    file.addSeparator()
    _action(window, file, "export", "&Export selected clip…", window.outputs.export_current, ["Ctrl+E"],
            "Save the selected generated clip as a sound file")
    file.addSeparator()
    _action(window, file, "quit", "&Quit", window.close, ["Ctrl+Q"])
    gen = bar.addMenu("&Generate")
    _action(window, gen, "generate", "&Synthesize and play", lambda: window.start_generation("both"),
            ["Ctrl+Return", "Ctrl+Enter"], "Speak the text in the chosen voice")
    _action(window, gen, "stop", "S&top", window.stop_generation, ["Esc"], "Stop generating and playing")
    models = bar.addMenu("&Models")
    store = getattr(window.models.worker.engine, "store", None)
    dl = _action(window, models, "download_models", "&Download published models…",
                 lambda: open_downloads(window, store), (),
                 "Get the published encoder, synthesizer and vocoder from the internet (checked before use)")
    dl.setEnabled(store is not None and hasattr(store, "download"))
    imp = _action(window, models, "import_model", "&Import a model file…", lambda: import_model(window, store), (),
                  "Add a model file you downloaded yourself (checked before use)")
    show = _action(window, models, "show_models", "&Show models folder", lambda: show_folder(window, store), (),
                   "Open the folder where downloaded models are kept")
    for a in (imp, show):
        a.setEnabled(store is not None and hasattr(store, "cache_dir"))
    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "about", "&About", lambda: QMessageBox.about(window, "About", ABOUT))


def choose_datasets(window) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Folder with speech datasets",
                                              str(window.datasets_root or Path.home()))
    if folder:
        window.set_datasets_root(Path(folder))


def import_model(window, store) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Import a model file", str(Path.home()),
                                          "Models (*.pt *.safetensors *.whl)")
    if not path:
        return
    from toolbox.gui.tasks import run_task

    window.status.info(f"Checking {Path(path).name}…")
    run_task(lambda: store.import_file(path), lambda p: window.models_changed(f"Imported {Path(path).name} as {p}"),
             lambda msg: window.status.error(f"Cannot import {Path(path).name}: {msg}"))


def open_downloads(window, store) -> None:
    """Show the download dialog (one per window, kept while the window lives) with a fresh list."""
    from toolbox.gui.download import DownloadDialog

    dialog = getattr(window, "download_dialog", None)
    if dialog is None:
        dialog = DownloadDialog(store, on_changed=window.models_changed, parent=window)
        window.download_dialog = dialog
    if not dialog.running:
        dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()


def show_folder(window, store) -> None:
    folder = Path(store.cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        window.status.info(f"Models are kept in {folder}")
