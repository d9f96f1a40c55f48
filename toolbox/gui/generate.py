"""The Generate panel: text, speed, pitch and voice match, actions, seed, model pickers, output device and progress."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from toolbox.gui.engine import DEFAULT_VOICE_MATCH, GRIFFIN_LIM, KINDS

SPEED_TIP = "How fast the voice speaks: 1× is normal, 2× twice as fast, 0.5× half as fast"
PITCH_TIP = ("Make the voice higher (above 0) or deeper (below 0), in semitones: 12 is an octave. The whole "
             "voice moves, so it sounds like a higher or deeper voice rather than the same one singing")
MATCH_TIP = ("How much of the recording's own sound goes into the speech: more sounds closer to the voice, "
             "with a few more unclear words; 0 % uses only the voice's fingerprint")
NO_CONTROLS_TIP = ("The chosen synthesizer cannot change its speed, pitch or voice match (the demo synthesizer "
                   "can): pick it under Synthesizer to use these")
DEFAULT_TEXT = ("Welcome to the toolbox! To begin, record your voice, load a file or pick an utterance "
                "from a dataset.\nThen type some text here and press Synthesize and play.")


class GeneratePanel(QWidget):
    generate = Signal(str)  # mode: "both" | "synthesize" | "vocode"
    stop = Signal()
    model_changed = Signal(str, str)  # kind, name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit(DEFAULT_TEXT)
        self.text.setToolTip("The text to speak. Long texts are spoken sentence by sentence. "
                             "Ctrl+Enter speaks it; Tab moves on to the buttons")
        self.text.setTabChangesFocus(True)
        self.speed_box = QDoubleSpinBox()
        self.speed_box.setRange(0.25, 4.0)
        self.speed_box.setSingleStep(0.05)
        self.speed_box.setDecimals(2)
        self.speed_box.setValue(1.0)
        self.speed_box.setSuffix("×")
        self.pitch_box = QDoubleSpinBox()
        self.pitch_box.setRange(-12.0, 12.0)
        self.pitch_box.setSingleStep(1.0)
        self.pitch_box.setDecimals(1)
        self.pitch_box.setValue(0.0)
        self.match_box = QSpinBox()
        self.match_box.setRange(0, 100)
        self.match_box.setSingleStep(10)
        self.match_box.setValue(round(100 * DEFAULT_VOICE_MATCH))
        self.match_box.setSuffix(" %")
        self.speed_label = QLabel("Speed")
        self.pitch_label = QLabel("Pitch")
        self.match_label = QLabel("Match")
        self.speed_label.setBuddy(self.speed_box)
        self.pitch_label.setBuddy(self.pitch_box)
        self.match_label.setBuddy(self.match_box)
        self._controls_supported = True
        self._running = False
        self.both_button = QPushButton("Synthesize and play")
        self.both_button.setToolTip("Speak the text in the chosen voice and play it as it is made  [Ctrl+Enter]")
        self.synth_button = QPushButton("Spectrogram only")
        self.synth_button.setToolTip("Only make the spectrogram (the picture of the speech), without sound; "
                                     "quick, to check the result")
        self.vocode_button = QPushButton("Sound from spectrogram")
        self.vocode_button.setToolTip("Turn the selected clip's (or the last) spectrogram into sound again, "
                                      "for example with another vocoder")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop generating and playing  [Esc]")
        self.both_button.setDefault(True)
        self.seed_check = QCheckBox("Seed:")
        self.seed_check.setToolTip("When checked, the same text and voice always give exactly the same audio")
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setEnabled(False)
        self.seed_check.toggled.connect(self.seed_box.setEnabled)
        self.enhance_check = QCheckBox("Enhance saved clip")
        self.enhance_check.setToolTip("Trim long silences (webrtcvad) and normalise the level of each finished clip "
                                      "before it is kept for replay and export; live playback is not changed")
        self.model_boxes = {k: QComboBox() for k in KINDS}
        self.output_box = QComboBox()
        self.output_box.setToolTip("Where the sound is played")
        tips = {"encoder": "Turns a voice recording into the numbers that describe the voice",
                "synthesizer": "Turns text and a voice into a spectrogram (the picture of the speech)",
                "vocoder": "Turns the spectrogram into sound: WaveRNN sounds natural, Griffin-Lim is fast "
                           "and needs no model file"}
        for kind, box in self.model_boxes.items():
            box.setToolTip(tips[kind])

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Progress through the sentences, and how fast the sound is made "
                                 "(above 1x real time it plays without gaps)")

        actions = QHBoxLayout()
        for b in (self.both_button, self.synth_button, self.vocode_button, self.stop_button):
            actions.addWidget(b)
        options = QGridLayout()
        for col, kind in enumerate(KINDS):
            options.addWidget(QLabel(f"<b>{kind.capitalize()}</b>"), 0, col)
            options.addWidget(self.model_boxes[kind], 1, col)
        options.addWidget(QLabel("<b>Audio output</b>"), 0, 3)
        options.addWidget(self.output_box, 1, 3)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_check)
        seed_row.addWidget(self.seed_box)
        options.addLayout(seed_row, 0, 4)
        options.addWidget(self.enhance_check, 1, 4)
        controls = QGridLayout()
        controls.addWidget(self.speed_label, 0, 0)
        controls.addWidget(self.speed_box, 0, 1)
        controls.addWidget(self.pitch_label, 1, 0)
        controls.addWidget(self.pitch_box, 1, 1)
        controls.addWidget(self.match_label, 2, 0)
        controls.addWidget(self.match_box, 2, 1)
        controls.setRowStretch(3, 1)
        text_row = QHBoxLayout()
        text_row.addWidget(self.text, 1)
        text_row.addLayout(controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(text_row, 1)
        layout.addLayout(actions)
        layout.addLayout(options)
        layout.addWidget(self.progress)

        self.both_button.clicked.connect(lambda: self.generate.emit("both"))
        self.synth_button.clicked.connect(lambda: self.generate.emit("synthesize"))
        self.vocode_button.clicked.connect(lambda: self.generate.emit("vocode"))
        self.stop_button.clicked.connect(self.stop.emit)
        for kind, box in self.model_boxes.items():
            box.currentTextChanged.connect(
                lambda name, kind=kind: name and self.model_changed.emit(kind, name))
        self.set_running(False, have_voice=False, have_mels=False)

    def set_models(self, choices: dict[str, list[str]], defaults: dict[str, str],
                   missing: dict[str, str] | None = None) -> None:
        """Fill the pickers; `missing` (name -> how to get it) greys those out with a tooltip."""
        missing = missing or {}
        for kind, box in self.model_boxes.items():
            box.blockSignals(True)
            box.clear()
            box.addItems(choices.get(kind, []))
            for i in range(box.count()):
                note = missing.get(box.itemText(i))
                if note:
                    box.setItemData(i, note, Qt.ItemDataRole.ToolTipRole)
                    box.setItemData(i, QColor("#888888"), Qt.ItemDataRole.ForegroundRole)
            if defaults.get(kind):
                box.setCurrentText(defaults[kind])
            box.blockSignals(False)
        self.model_boxes["vocoder"].setItemData(
            self.model_boxes["vocoder"].findText(GRIFFIN_LIM), "Fast, lower quality, no model file needed",
            Qt.ItemDataRole.ToolTipRole)

    def model(self, kind: str) -> str:
        return self.model_boxes[kind].currentText()

    @property
    def speed(self) -> float | None:
        """The speaking rate for the next generation, or None when the synthesizer has no such control."""
        return self.speed_box.value() if self._controls_supported else None

    @property
    def pitch_shift(self) -> float | None:
        """Semitones for the next generation, or None when the synthesizer has no such control."""
        return self.pitch_box.value() if self._controls_supported else None

    @property
    def voice_match(self) -> float | None:
        """Voice match strength 0..1 for the next generation, or None when the synthesizer has none."""
        return self.match_box.value() / 100 if self._controls_supported else None

    def set_controls_supported(self, supported: bool) -> None:
        """Offer speed, pitch and voice match only for a synthesizer that has them; otherwise say why
        they are grey."""
        self._controls_supported = bool(supported)
        for widget, tip in ((self.speed_box, SPEED_TIP), (self.speed_label, SPEED_TIP),
                            (self.pitch_box, PITCH_TIP), (self.pitch_label, PITCH_TIP),
                            (self.match_box, MATCH_TIP), (self.match_label, MATCH_TIP)):
            widget.setEnabled(self._controls_supported and not self._running)
            widget.setToolTip(tip if self._controls_supported else NO_CONTROLS_TIP)

    @property
    def seed(self) -> int | None:
        return self.seed_box.value() if self.seed_check.isChecked() else None

    def set_seed(self, seed: int | None) -> None:
        self.seed_check.setChecked(seed is not None)
        if seed is not None:
            self.seed_box.setValue(seed)

    def set_running(self, running: bool, have_voice: bool, have_mels: bool) -> None:
        self._running = running
        self.both_button.setEnabled(not running and have_voice)
        self.synth_button.setEnabled(not running and have_voice)
        self.vocode_button.setEnabled(not running and have_mels)
        self.stop_button.setEnabled(running)
        for box in self.model_boxes.values():
            box.setEnabled(not running)
        self.set_controls_supported(self._controls_supported)
        if not have_voice:
            for b in (self.both_button, self.synth_button):
                b.setToolTip("Record, load or pick a voice first")
        else:
            self.both_button.setToolTip("Speak the text in the chosen voice and play it as it is made  "
                                        "[Ctrl+Enter]")
            self.synth_button.setToolTip("Only make the spectrogram (the picture of the speech), without sound")

    def show_sentence(self, index: int, total: int) -> None:
        self._sentence = (index, total)

    def show_progress(self, fraction: float, rtf: float) -> None:
        self.progress.setValue(int(fraction * 1000))
        index, total = getattr(self, "_sentence", (0, 0))
        text = f"sentence {index + 1} of {total}  ·  " if total else ""
        text += f"{fraction * 100:.0f}%"
        if rtf > 0:
            text += f"  ·  {1 / rtf:.1f}x real time" if rtf < 1 else f"  ·  {rtf:.1f} s of work per second of audio"
        self.progress.setFormat(text)

    def show_outcome(self, outcome: str) -> None:
        self._sentence = (0, 0)
        if outcome != "done":
            self.progress.setFormat({"cancelled": "stopped"}.get(outcome, outcome))
