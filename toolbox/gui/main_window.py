"""The toolbox main window: assembles the panels and moves data between them and the workers.

Threads: the GUI thread only shows things. Model code runs in the one :class:`ModelWorker`
(``self.models``), UMAP in the projection process (``self.projector``), file decoding and export
in the Qt thread pool, audio in the backend's callback threads (ring buffers only).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.audio import AUDIO_SUFFIXES, SAMPLE_RATE, load_audio, synth_mel
from models.quality import assess_reference
from toolbox.audio_io import AudioBackend
from toolbox.gui.browser import DatasetBrowser
from toolbox.gui.engine import Engine
from toolbox.gui.generate import GeneratePanel
from toolbox.gui.menus import install_menus
from toolbox.gui.outputs import OutputsPanel
from toolbox.gui.playback import PlaybackBar
from toolbox.gui.player import Player
from toolbox.gui.projection import Projector
from toolbox.gui.recorder import Recorder
from toolbox.gui.session import Clip, KnownSpeakers, Utterance, VoiceProfiles
from toolbox.gui.spectrograms import SpectrogramPanel
from toolbox.gui.startup import TITLE, first_size, minimum_size
from toolbox.gui.status import QtLogBridge, StatusArea
from toolbox.gui.tasks import run_task
from toolbox.gui.voice_map import VoiceMap
from toolbox.gui.window_generation import GenerationMixin
from toolbox.gui.worker import WorkerHandle

log = logging.getLogger(__name__)

AUDIO_FILTER = "Audio files (" + " ".join(f"*{s}" for s in AUDIO_SUFFIXES) + ")"
MAX_VOICES = 40  # entries in the voice picker


class MainWindow(GenerationMixin, QMainWindow):
    # Emitted on the GUI thread once the window has taken the worker's result into account.
    utterance_embedded = Signal(int)  # uid
    generation_finished = Signal(int, str)  # job, "done" | "cancelled" | "failed"

    def __init__(self, engine: Engine, backend: AudioBackend, *, datasets_root: Path | None = None,
                 seed: int | None = None, settings: QSettings | None = None,
                 profiles: VoiceProfiles | None = None, known: KnownSpeakers | None = None,
                 projector: Projector | None = None, warm_up: bool = True) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.backend = backend
        self.settings = settings if settings is not None else QSettings("sv2tts", "toolbox")
        if profiles is None:
            from models.userdirs import data_dir

            profiles = VoiceProfiles(data_dir() / "voices")
        if datasets_root is None and self.settings.value("datasets_root"):
            remembered = Path(str(self.settings.value("datasets_root")))
            datasets_root = remembered if remembered.is_dir() else None
        self.datasets_root = datasets_root
        self.known = known
        self.utterances: dict[int, Utterance] = {}
        self.voice: Utterance | None = None
        self.mels: list[np.ndarray] = []
        self.job = 0
        self.job_mode = ""
        self.clip: Clip | None = None
        self._projection_id = 0
        self._projection_sets: dict[int, list[Utterance]] = {}
        self._clip_count = 0
        self._known_index: dict[int, int] = {}  # uid of a picked known speaker -> its index

        # -- workers ----------------------------------------------------------------------------------
        self.models = WorkerHandle(engine, self)
        self.player = Player(backend, self)
        self.projector = projector or Projector(known.embeddings if known is not None else None, parent=self)

        # -- widgets ----------------------------------------------------------------------------------
        self.status = StatusArea()
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#fff3cd; color:#664d03; padding:4px; border-radius:3px")
        self.banner.hide()
        self.recorder = Recorder(backend)
        self.load_button = QPushButton("Load file…")
        self.load_button.setToolTip("Load an audio file (or drop files on the window): "
                                    + ", ".join(s.lstrip(".") for s in AUDIO_SUFFIXES))
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Listen to the chosen voice's recording")
        self.stop_play_button = QPushButton("Stop playback")
        self.stop_play_button.setToolTip("Stop any sound playing  [Esc]")
        self.voice_box = QComboBox()
        self.voice_box.setToolTip("The voice the text is spoken in: a recording, a file, a saved voice or a "
                                  "point picked on the voice map")
        self.browser = DatasetBrowser(datasets_root, seed=seed)
        self.map = VoiceMap()
        self.map.set_known(known)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove this session's utterances from the map")
        self.generate_panel = GeneratePanel()
        self.generate_panel.set_seed(seed)
        self.spectrograms = SpectrogramPanel()
        self.playback = PlaybackBar(self.player)
        self.outputs = OutputsPanel(profiles)
        self._build_layout()

        # -- wiring -----------------------------------------------------------------------------------
        w = self.models.worker
        w.status.connect(self.status.info)
        w.failed.connect(lambda what, msg: self.status.error(f"{what} failed: {msg}"))
        w.embedded.connect(self._on_embedded)
        w.mel_ready.connect(self._on_mel)
        w.sentence.connect(self._on_sentence)
        w.audio.connect(self._on_audio)
        w.progress.connect(self._on_progress)
        w.finished.connect(self._on_finished)
        w.models_ready.connect(self._on_models_ready)
        w.controls_supported.connect(self.generate_panel.set_controls_supported)
        self.recorder.recorded.connect(self._on_recorded)
        self.recorder.failed.connect(self.status.error)
        self.load_button.clicked.connect(self._browse_file)
        self.play_button.clicked.connect(self._play_voice)
        self.stop_play_button.clicked.connect(self.player.stop)
        self.player.failed.connect(self.status.error)
        self.voice_box.currentIndexChanged.connect(self._on_voice_box)
        self.browser.chosen.connect(lambda path, name, speaker: self.load_file(path, name, speaker))
        self.map.picked.connect(self._on_map_pick)
        self.clear_button.clicked.connect(self.clear_session)
        # Model-layer warnings (e.g. "skipping a chunk with nothing to pronounce") reach the status area;
        # errors already arrive through the worker's `failed` signal.
        self.log_bridge = QtLogBridge(logging.WARNING)
        self.log_bridge.addFilter(lambda r: r.levelno < logging.ERROR)
        self.log_bridge.record.connect(lambda msg, level: self.status.info(f"Warning: {msg}"))
        logging.getLogger("models").addHandler(self.log_bridge)
        self.projector.projected.connect(self._on_projected)
        self.projector.failed.connect(self.status.error)
        self.projector.warmed.connect(lambda: self.status.info("Voice map ready"))
        gp = self.generate_panel
        gp.generate.connect(self.start_generation)
        gp.stop.connect(self.stop_generation)
        gp.model_changed.connect(self.models.select_model)
        gp.output_box.currentIndexChanged.connect(lambda _: setattr(self.player, "device",
                                                                     gp.output_box.currentData()))
        self.outputs.replay.connect(self._replay)
        self.outputs.clip_selected.connect(self._show_generated)
        self.outputs.export.connect(self._export)
        self.outputs.failed.connect(self.status.error)
        self.outputs.save_profile.connect(self._save_profile)
        self.outputs.use_profile.connect(self._use_profile)

        self.download_dialog = None  # the Models menu's download dialog, made when first opened
        install_menus(self)
        missing = engine.missing() if hasattr(engine, "missing") else None
        gp.set_models(engine.choices(), engine.defaults(), missing)
        for why in (missing or {}).values():
            if why.startswith("Damaged"):
                self.status.error(why)  # a corrupt download is reported, not silently replaced
        for kind in ("encoder", "synthesizer", "vocoder"):
            self.models.select_model(kind, gp.model(kind))
        self._setup_audio_devices()
        self._restore_settings()
        self._update_actions()
        self._warm_queue = ["encoder", "synthesizer", "vocoder"] if warm_up else []
        if warm_up:
            QTimer.singleShot(0, self._start_warm_up)

    # -- layout ---------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        voice_in = QGroupBox("Voice in")
        v = QVBoxLayout(voice_in)
        v.addWidget(self.recorder)
        row = QHBoxLayout()
        for b in (self.load_button, self.play_button, self.stop_play_button):
            row.addWidget(b)
        v.addLayout(row)
        v.addWidget(self.browser)
        self._voice_in_layout = v
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Use voice:</b>"))
        row.addWidget(self.voice_box, 1)
        v.addLayout(row)
        v.addStretch(1)
        map_box = QGroupBox("Voice map")
        m = QVBoxLayout(map_box)
        m.addWidget(self.map, 1)
        m.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        gen_box = QGroupBox("Generate")
        QVBoxLayout(gen_box).addWidget(self.generate_panel)
        spec_box = QGroupBox("Spectrograms")
        QVBoxLayout(spec_box).addWidget(self.spectrograms)
        out_box = QGroupBox("Outputs")
        QVBoxLayout(out_box).addWidget(self.outputs)
        grid = QGridLayout()
        grid.addWidget(self.banner, 0, 0, 1, 3)
        grid.addWidget(voice_in, 1, 0)
        grid.addWidget(gen_box, 1, 1, 1, 2)
        grid.addWidget(map_box, 2, 0)
        grid.addWidget(spec_box, 2, 1)
        grid.addWidget(out_box, 2, 2)
        grid.addWidget(self.status, 3, 0, 1, 2)
        grid.addWidget(self.playback, 3, 2)  # under the clip list, beside the messages: no extra height
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 5)
        grid.setColumnStretch(2, 2)
        grid.setRowStretch(2, 1)
        central = QWidget()
        central.setLayout(grid)
        self.setCentralWidget(central)
        screen = self.screen()
        self.setMinimumSize(minimum_size(screen))
        self.resize(first_size(screen))

    def _setup_audio_devices(self) -> None:
        box = self.generate_panel.output_box
        devices = self.backend.output_devices() if self.backend.available else []
        for d in devices:
            box.addItem(d.name, d.index)
            if d.is_default:
                box.setCurrentIndex(box.count() - 1)
        self.outputs.can_play = bool(devices)
        if not devices:
            box.addItem("No output device")
            box.setEnabled(False)
            self.outputs.replay_button.setToolTip("No audio output device: clips can be exported, not played")
        problems = []
        if not devices or not self.backend.input_devices():
            why = self.backend.reason or "No audio device was found (no sound card?)."
            problems.append(f"{why} Recording and playback are disabled; loading files, generation "
                            "and export still work.")
        if problems:
            self.banner.setText(" ".join(problems))
            self.banner.show()
            log.warning("%s", " ".join(problems))
            for b in (self.play_button, self.stop_play_button):
                b.setEnabled(bool(devices))
                b.setToolTip(problems[0])

    def set_datasets_root(self, root: Path) -> None:
        """Browse `root` from now on (File > Choose datasets folder); says so when nothing is found."""
        browser = DatasetBrowser(root, seed=None)
        browser.chosen.connect(lambda path, name, speaker: self.load_file(path, name, speaker))
        self._voice_in_layout.replaceWidget(self.browser, browser)
        self.browser.deleteLater()
        self.browser = browser
        self.datasets_root = Path(root)
        if browser.datasets:
            self.status.info(f"Datasets in {root}: " + ", ".join(d.name for d in browser.datasets))
        else:
            self.status.error(f"No LibriSpeech, LibriTTS, VCTK, VoxCeleb or LJSpeech folder layout found under "
                              f"{root}; choose the folder that contains them")

    def models_changed(self, message: str) -> None:
        """A model was imported or downloaded: refresh the pickers (keeping the current choices)."""
        engine = self.models.worker.engine
        gp = self.generate_panel
        current = {k: gp.model(k) for k in gp.model_boxes}
        gp.set_models(engine.choices(), current, engine.missing() if hasattr(engine, "missing") else None)
        self.status.info(message)

    # -- settings -------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        self.last_dir = ""
        try:
            self._restore_settings_unchecked()
        except (TypeError, ValueError, RuntimeError) as e:  # a damaged settings file must not stop the app
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning("ignoring unreadable settings in %s (%s)", self.settings.fileName(), first)

    def _restore_settings_unchecked(self) -> None:
        s = self.settings
        self.last_dir = str(s.value("last_dir", "") or "")
        geometry = s.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if s.value("input_device"):
            self.recorder.select_device(str(s.value("input_device")))
        out = s.value("output_device")
        if out and self.generate_panel.output_box.findText(str(out)) >= 0:
            self.generate_panel.output_box.setCurrentText(str(out))
        for kind, box in self.generate_panel.model_boxes.items():
            name = s.value(f"models/{kind}")
            if name and box.findText(str(name)) >= 0:
                box.setCurrentText(str(name))  # emits model_changed -> the worker
        self.playback.volume.setValue(int(float(s.value("playback/volume", 100))))
        gp = self.generate_panel
        gp.speed_box.setValue(float(s.value("generate/speed", 1.0)))
        gp.pitch_box.setValue(float(s.value("generate/pitch_shift", 0.0)))
        gp.match_box.setValue(int(float(s.value("generate/voice_match", gp.match_box.value()))))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        if self.recorder.device_box.isEnabled():
            s.setValue("input_device", self.recorder.device_box.currentText())
        if self.generate_panel.output_box.isEnabled():
            s.setValue("output_device", self.generate_panel.output_box.currentText())
        for kind in self.generate_panel.model_boxes:
            s.setValue(f"models/{kind}", self.generate_panel.model(kind))
        s.setValue("playback/volume", self.playback.volume.value())
        s.setValue("generate/speed", self.generate_panel.speed_box.value())
        s.setValue("generate/pitch_shift", self.generate_panel.pitch_box.value())
        s.setValue("generate/voice_match", self.generate_panel.match_box.value())
        s.setValue("last_dir", self.last_dir)
        if self.datasets_root is not None:
            s.setValue("datasets_root", str(self.datasets_root))
        s.sync()

    # -- start-up -------------------------------------------------------------------------------------
    def _start_warm_up(self) -> None:
        self.request_projection()  # known speakers at once (PCA), then UMAP when warm
        self.projector.warm_up()
        self._warm_next()

    def _warm_next(self) -> None:
        if self._warm_queue:
            self.models.warm_up((self._warm_queue.pop(0),))

    def _on_models_ready(self, kinds: str) -> None:
        self._warm_next()

    # -- voices in ------------------------------------------------------------------------------------
    def _browse_file(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Select audio files", self.last_dir, AUDIO_FILTER)
        for p in paths:
            self.load_file(Path(p))

    def load_file(self, path: Path, name: str | None = None, speaker: str | None = None) -> None:
        """Decode (in the thread pool), show and embed an audio file."""
        path = Path(path)
        self.last_dir = str(path.parent)
        self.status.info(f"Loading {path.name}…")

        def work():
            wav = load_audio(path)
            return wav, synth_mel(wav)

        run_task(work, lambda r: self.add_utterance(r[0], name or path.name, speaker or path.parent.name,
                                                    mel=r[1]),
                 lambda msg: self.status.error(f"Cannot load {path.name}: {msg}"))

    def _on_recorded(self, wav: np.ndarray) -> None:
        self._rec_count = getattr(self, "_rec_count", 0) + 1
        name = f"recording {self._rec_count} ({len(wav) / SAMPLE_RATE:.1f} s)"
        run_task(lambda: synth_mel(wav), lambda mel: self.add_utterance(wav, name, "you", mel=mel),
                 self.status.error)

    def add_utterance(self, wav: np.ndarray, name: str, speaker: str, kind: str = "real",
                      mel: np.ndarray | None = None) -> Utterance:
        """Register an utterance and ask the worker to embed it; it becomes the current voice."""
        u = Utterance(name=name, speaker=speaker, kind=kind, wav=wav, mel=mel)
        self.utterances[u.uid] = u
        if kind != "generated":
            self._add_voice_item(u)
            self.status.info(f"Loaded {name}; computing its embedding…")
            run_task(lambda: assess_reference(wav, name), lambda r: self._show_advice(u, r),
                     lambda msg: log.debug("no quality advice for %s: %s", name, msg))
        self.models.embed(u.uid, wav)
        return u

    def _show_advice(self, u: Utterance, report) -> None:
        """Reference-quality advice (models.quality) as a status line and a marker on the voice."""
        if report.ok:
            return
        self.status.info(f"⚠ {u.name}: a poor reference: {'; '.join(report.advice)}")
        i = self.voice_box.findData(u.uid)
        if i >= 0:
            self.voice_box.setItemText(i, f"⚠ {self.voice_box.itemText(i)}")
            self.voice_box.setItemData(i, "\n".join(report.advice), Qt.ItemDataRole.ToolTipRole)

    def _add_voice_item(self, u: Utterance) -> None:
        self.voice_box.insertItem(0, u.label, u.uid)
        while self.voice_box.count() > MAX_VOICES:
            self.voice_box.removeItem(self.voice_box.count() - 1)
        self.voice_box.setCurrentIndex(0)

    def _on_embedded(self, uid: int, embedding: np.ndarray) -> None:
        u = self.utterances.get(uid)
        if u is None:
            return  # cleared meanwhile
        u.embedding = embedding
        if u.kind == "generated":
            shown = self.outputs.current_clip()
            if shown is not None and shown.utterance == uid:
                self.spectrograms.generated.show_embedding(embedding)
        elif self.voice is u:
            self.spectrograms.reference.show_embedding(embedding)
        self._update_actions()
        self.request_projection()
        self.utterance_embedded.emit(uid)

    def _on_voice_box(self, index: int) -> None:
        u = self.utterances.get(self.voice_box.itemData(index)) if index >= 0 else None
        self.set_voice(u)

    def set_voice(self, u: Utterance | None) -> None:
        self.voice = u
        if u is not None:
            what = {"known": "a LibriSpeech reader", "profile": "a saved voice"}.get(u.kind, "this voice")
            note = "" if u.mel is not None else f"No recording: {what}, embedding only"
            self.spectrograms.reference.show_mel(u.mel, u.name, note)
            self.spectrograms.reference.show_embedding(u.embedding)
            if u.kind == "known" and u.uid in self._known_index:
                self.map.set_current("known", self._known_index[u.uid])
            else:
                self.map.set_current("session", u.uid)
            i = self.voice_box.findData(u.uid)
            if i >= 0 and i != self.voice_box.currentIndex():
                self.voice_box.setCurrentIndex(i)
        else:
            self.map.set_current(None)
            self.spectrograms.reference.show_mel(None, "no voice chosen")
            self.spectrograms.reference.show_embedding(None)
        self._update_actions()

    def _play_voice(self) -> None:
        if self.voice is not None and self.voice.wav is not None:
            self.playback.show_voice(self.voice)
            if self.player.play(self.voice.wav):
                self.playback.playing_shown()

    def _on_map_pick(self, kind: str, key: int) -> None:
        if kind == "session":
            u = self.utterances.get(key)
            if u is not None and u.kind == "generated" and self.voice_box.findData(u.uid) < 0:
                self._add_voice_item(u)
        elif self.known is not None:
            u = Utterance(name=self.known.label(key), speaker=f"LibriSpeech {self.known.speaker_ids[key]}",
                          kind="known", embedding=self.known.embeddings[key])
            self._known_index[u.uid] = key
            self.utterances[u.uid] = u
            self._add_voice_item(u)
        else:
            return
        if u is not None:
            self.set_voice(u)
            self.status.info(f"Using the voice of {u.name}")

    def clear_session(self) -> None:
        keep = {self.voice.uid} if self.voice is not None and self.voice.kind == "profile" else set()
        self.utterances = {k: u for k, u in self.utterances.items() if k in keep}
        self.voice_box.clear()
        for u in self.utterances.values():
            self._add_voice_item(u)
        if not self.utterances:
            self.set_voice(None)
        self.request_projection()

    # -- voice map ------------------------------------------------------------------------------------
    def map_utterances(self) -> list[Utterance]:
        return [u for u in self.utterances.values() if u.embedding is not None and u.kind != "known"]

    def request_projection(self) -> None:
        pts = self.map_utterances()
        self._projection_id += 1
        self._projection_sets = {self._projection_id: pts}
        emb = np.stack([u.embedding for u in pts]) if pts else np.zeros((0, 256), np.float32)
        self.projector.request(self._projection_id, emb)

    def _on_projected(self, rid: int, known_xy, session_xy) -> None:
        pts = self._projection_sets.get(rid)
        if pts is not None:
            self.map.update_points(known_xy, pts, session_xy)
            method = self.projector.method_used
            self.map.set_title("Voice map (UMAP)" if method == "umap" else
                               "Voice map (PCA)" if self.projector.ready else
                               "Voice map (PCA until UMAP is ready)")

    # -- drag and drop, closing -----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(Path(u.toLocalFile()).suffix.lower() in AUDIO_SUFFIXES for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in AUDIO_SUFFIXES:
                self.load_file(path)
        event.acceptProposedAction()

    def closeEvent(self, event) -> None:
        log.info("closing the window")
        self.close_requested = getattr(self, "close_requested", None) or time.perf_counter()
        self.projector.close()  # first: the process ends while the rest shuts down
        self.models.worker.cancel(self.models._job + 1_000_000)
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, worker_wait_ms: int = 300) -> None:
        """Stop audio, cancel the model worker and wait for it (at most `worker_wait_ms`: it stops at
        its next cancel check, but one model call can take longer), end the projection process."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        t0 = time.perf_counter()
        logging.getLogger("models").removeHandler(self.log_bridge)
        self.projector.close()  # terminates the process; joined below while the worker also stops
        self.recorder.blockSignals(True)
        self.recorder.stop()
        self.playback.stop()
        self.player.stop()
        downloads = getattr(self, "download_dialog", None)
        if downloads is not None:
            downloads.cancel()  # stops at its next 256 KiB piece, while the model worker stops
        self.models.shutdown(worker_wait_ms)
        if downloads is not None:
            downloads.shutdown(max(100, worker_wait_ms))
        t1 = time.perf_counter()
        since = getattr(self, "close_requested", None) or t0
        self.projector.join(0.85 - (time.perf_counter() - since))  # closing takes < 1 s in all
        t2 = time.perf_counter()
        from toolbox.gui.tasks import wait_for_tasks

        wait_for_tasks(2000)  # an export in flight is finished, not lost
        log.info("shut down in %.0f ms (worker %.0f ms, projection process %.0f ms)",
                 (time.perf_counter() - t0) * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000)
