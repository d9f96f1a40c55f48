"""Outputs: the history of generated clips (replay, export) and named voice profiles."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.audio import SAMPLE_RATE
from toolbox.gui.session import Clip, VoiceProfiles

log = logging.getLogger(__name__)

MAX_CLIPS = 50
EXPORT_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
# File-dialog filter -> WAV subtype; the first is the default. FLAC is always 16-bit.
EXPORT_FILTERS = {"WAV, 16-bit (*.wav)": "PCM_16", "FLAC, lossless compressed (*.flac)": "PCM_16",
                  "WAV, 32-bit float (*.wav)": "FLOAT"}


def default_name(clip: Clip) -> str:
    """"<voice> - <first words of the text>.wav", safe on every file system."""
    words = " ".join(clip.text.split()[:6])
    stem = f"{clip.voice or clip.speaker} - {words}" if words else (clip.voice or clip.name)
    stem = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', "", stem).strip(" .")[:80] or "clip"
    return f"{stem}.wav"


def write_clip(path: Path, wav: np.ndarray, subtype: str = "PCM_16") -> Path:
    """Write 16 kHz audio as WAV (16-bit PCM, or `subtype` "FLOAT") or FLAC (16-bit), by suffix;
    refuses other suffixes (ValueError).

    Through toolbox.outputs like every CLI output: the destination is checked first, and the file
    appears complete or not at all (hidden temporary file, then renamed). Overwriting is allowed:
    the dialog has already asked.
    """
    from toolbox.outputs import AUDIO_BYTES_PER_SECOND, prepare_output, write_audio

    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path.name}: choose a .wav or .flac file name")
    wav = np.clip(np.asarray(wav, np.float32), -1.0, 1.0)
    size = 2 * AUDIO_BYTES_PER_SECOND * len(wav) // SAMPLE_RATE + 4096
    with prepare_output(path, tuple(EXPORT_FORMATS), force=True, estimate=size) as out:
        write_audio(out, [wav], SAMPLE_RATE, subtype="PCM_16" if fmt == "FLAC" else subtype)
    return path


class OutputsPanel(QWidget):
    replay = Signal(object)  # Clip
    clip_selected = Signal(object)  # Clip or None: the generated panel follows it
    export = Signal(object, object, str)  # Clip, Path (already confirmed), WAV subtype (PCM_16 or FLOAT)
    save_profile = Signal(str)  # name
    use_profile = Signal(str)  # name
    failed = Signal(str)

    def __init__(self, profiles: VoiceProfiles, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.clips: list[Clip] = []
        self.clip_list = QListWidget()
        self.replay_button = QPushButton("Replay")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the selected clip as a sound file (WAV or FLAC)  [Ctrl+E]")
        self.replay_button.setToolTip("Play the selected clip again")
        self.delete_clip_button = QPushButton("Delete")
        self.delete_clip_button.setToolTip("Remove the selected clip from the list  [Delete]")
        self.clear_clips_button = QPushButton("Clear all")
        self.clear_clips_button.setToolTip("Remove every generated clip from the list")
        self.clip_list.setToolTip("Generated clips, newest first; select one to see it under Spectrograms")
        self.profile_list = QListWidget()
        self.save_profile_button = QPushButton("Save voice…")
        self.save_profile_button.setToolTip("Save the current voice's embedding under a name")
        self.use_profile_button = QPushButton("Use")
        self.delete_profile_button = QPushButton("Delete")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Generated clips</b>"))
        layout.addWidget(self.clip_list, 1)
        row = QHBoxLayout()
        for b in (self.replay_button, self.export_button, self.delete_clip_button, self.clear_clips_button):
            row.addWidget(b)
        layout.addLayout(row)
        layout.addWidget(QLabel("<b>Voice profiles</b>"))
        layout.addWidget(self.profile_list, 1)
        row = QHBoxLayout()
        for b in (self.save_profile_button, self.use_profile_button, self.delete_profile_button):
            row.addWidget(b)
        layout.addLayout(row)
        self.replay_button.clicked.connect(self._replay)
        self.delete_clip_button.clicked.connect(self.delete_clip)
        self.clear_clips_button.clicked.connect(self.clear_clips)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.clip_list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.delete_clip)
        self.export_button.clicked.connect(self._export)
        self.save_profile_button.clicked.connect(self._save_profile)
        self.use_profile_button.clicked.connect(self._use_profile)
        self.profile_list.itemDoubleClicked.connect(lambda _: self._use_profile())
        self.delete_profile_button.clicked.connect(self._delete_profile)
        self.clip_list.currentRowChanged.connect(self._on_clip_row)
        self.profile_list.currentRowChanged.connect(lambda _: self._update_buttons())
        # Dialogs, replaceable in tests: ask_save_path(suggested) -> Path | None, ask_name() -> str | None,
        # confirm(question) -> bool.
        self.ask_save_path: Callable[[str], Path | None] = self._dialog_save_path
        self.ask_name: Callable[[], str | None] = self._dialog_name
        self.confirm: Callable[[str], bool] = self._dialog_confirm
        self.can_save_profile = False
        self.can_play = True  # False without an output device: Replay is disabled
        self.last_export_dir: Path | None = None
        self.refresh_profiles()

    # -- clips ---------------------------------------------------------------------------------------
    def add_clip(self, clip: Clip) -> None:
        self.clips.insert(0, clip)
        del self.clips[MAX_CLIPS:]
        self.clip_list.insertItem(0, QListWidgetItem(self._clip_text(clip)))
        while self.clip_list.count() > MAX_CLIPS:
            self.clip_list.takeItem(self.clip_list.count() - 1)
        self.clip_list.setCurrentRow(0)
        self._update_buttons()

    def remove_clip(self, clip: Clip) -> None:
        if clip in self.clips:
            i = self.clips.index(clip)
            self.clips.pop(i)
            self.clip_list.takeItem(i)
        self._update_buttons()

    def delete_clip(self) -> None:
        clip = self.current_clip()
        if clip is not None and clip.complete:
            self.remove_clip(clip)

    def clear_clips(self) -> None:
        for clip in [c for c in self.clips if c.complete]:
            self.remove_clip(clip)

    def _on_clip_row(self, row: int) -> None:
        self._update_buttons()
        self.clip_selected.emit(self.current_clip())

    def refresh_clip(self, clip: Clip) -> None:
        if clip in self.clips:
            self.clip_list.item(self.clips.index(clip)).setText(self._clip_text(clip))
        self._update_buttons()

    @staticmethod
    def _clip_text(clip: Clip) -> str:
        seconds = sum(len(c) for c in clip.chunks) / SAMPLE_RATE
        state = "" if clip.complete else " (generating…)"
        text = clip.text.replace("\n", " ")
        text = text[:40] + ("…" if len(text) > 40 else "")
        return f"{clip.name} · {clip.speaker} · {seconds:.1f} s{state}: {text}"

    def _replay(self) -> None:
        clip = self.current_clip()
        if clip is not None and clip.chunks:
            self.replay.emit(clip)

    def current_clip(self) -> Clip | None:
        i = self.clip_list.currentRow()
        return self.clips[i] if 0 <= i < len(self.clips) else None

    def export_current(self) -> None:
        self._export()

    def _export(self) -> None:
        clip = self.current_clip()
        if clip is None or not clip.chunks:
            return
        answer = self.ask_save_path(str(self.export_dir() / default_name(clip)))
        if answer is None:
            return
        path, subtype = (answer, "PCM_16") if not isinstance(answer, tuple) else answer
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".wav")
        if path.suffix.lower() not in EXPORT_FORMATS:
            self.failed.emit(f"Cannot export to {path.name}: choose a .wav or .flac file name")
            return
        # The native dialog asks before overwriting the name it returned, but not after we add a suffix.
        if path.exists() and not self.confirm(f"{path} exists. Replace it?"):
            return
        self.last_export_dir = path.parent
        self.export.emit(clip, path, subtype if path.suffix.lower() == ".wav" else "PCM_16")

    def export_dir(self) -> Path:
        """The last export folder, else the user's Music folder, else Documents, else home."""
        if self.last_export_dir is not None and Path(self.last_export_dir).is_dir():
            return Path(self.last_export_dir)
        for where in (QStandardPaths.StandardLocation.MusicLocation,
                      QStandardPaths.StandardLocation.DocumentsLocation):
            folder = QStandardPaths.writableLocation(where)
            if folder and Path(folder).is_dir():
                return Path(folder)
        return Path.home()

    def _dialog_save_path(self, suggested: str) -> tuple[Path, str] | None:
        name, chosen = QFileDialog.getSaveFileName(self, "Export the generated audio", suggested,
                                                   ";;".join(EXPORT_FILTERS))
        if not name:
            return None
        return Path(name), EXPORT_FILTERS.get(chosen, "PCM_16")

    def _dialog_confirm(self, question: str) -> bool:
        return QMessageBox.question(self, "sv2tts toolbox", question) == QMessageBox.StandardButton.Yes

    # -- profiles ------------------------------------------------------------------------------------
    def refresh_profiles(self) -> None:
        self.profile_list.clear()
        for name in self.profiles.names():
            self.profile_list.addItem(name)
        self._update_buttons()

    def current_profile(self) -> str | None:
        item = self.profile_list.currentItem()
        return item.text() if item is not None else None

    def _save_profile(self) -> None:
        name = self.ask_name()
        if not name:
            return
        try:
            safe = self.profiles.safe_name(name)
        except ValueError as e:
            self.failed.emit(str(e))
            return
        if self.profiles.exists(safe) and not self.confirm(f"A voice named {safe!r} exists. Replace it?"):
            return
        self.save_profile.emit(safe)

    def _dialog_name(self) -> str | None:
        name, ok = QInputDialog.getText(self, "Save voice", "Name of this voice:")
        return name if ok else None

    def _use_profile(self) -> None:
        name = self.current_profile()
        if name:
            self.use_profile.emit(name)

    def _delete_profile(self) -> None:
        name = self.current_profile()
        if name and self.confirm(f"Delete the voice {name!r}?"):
            self.profiles.delete(name)
            self.refresh_profiles()

    def select_profile(self, name: str) -> None:
        items = self.profile_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.profile_list.setCurrentItem(items[0])

    def _update_buttons(self) -> None:
        clip = self.current_clip()
        self.replay_button.setEnabled(self.can_play and clip is not None and bool(clip.chunks))
        self.export_button.setEnabled(clip is not None and bool(clip.chunks))
        self.delete_clip_button.setEnabled(clip is not None and clip.complete)
        self.clear_clips_button.setEnabled(any(c.complete for c in self.clips))
        self.save_profile_button.setEnabled(self.can_save_profile)
        has = self.current_profile() is not None
        self.use_profile_button.setEnabled(has)
        self.delete_profile_button.setEnabled(has)
