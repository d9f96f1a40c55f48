"""Dataset browser: dataset / speaker / utterance pickers with Random buttons (reference §6.2)."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QPushButton, QWidget

from toolbox.gui.datasets import Dataset, find_datasets


class DatasetBrowser(QWidget):
    chosen = Signal(object, str, str)  # path, name (relative to the root), speaker "<dataset>_<speaker>"

    def __init__(self, root: Path | None, parent: QWidget | None = None, seed: int | None = None) -> None:
        super().__init__(parent)
        self.root = Path(root) if root else None
        self.rng = random.Random(seed)
        self.datasets: list[Dataset] = find_datasets(self.root)
        self.dataset_box, self.speaker_box, self.utterance_box = QComboBox(), QComboBox(), QComboBox()
        self.random_buttons = [QPushButton("Random") for _ in range(3)]
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Use the chosen utterance as the voice")
        for b, what in zip(self.random_buttons, ("dataset", "speaker", "utterance"), strict=True):
            b.setToolTip(f"Pick a random {what}")
        self.auto_next = QCheckBox("Auto select next")
        self.auto_next.setChecked(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        boxes = (self.dataset_box, self.speaker_box, self.utterance_box)
        for col, (title, box) in enumerate(zip(("Dataset", "Speaker", "Utterance"), boxes, strict=True)):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
            grid.addWidget(box, 1, col)
            grid.addWidget(self.random_buttons[col], 2, col)
        grid.addWidget(self.load_button, 1, 3)
        grid.addWidget(self.auto_next, 2, 3)
        grid.setColumnStretch(2, 2)
        self.dataset_box.currentIndexChanged.connect(lambda _: self._fill_speakers(random_pick=True))
        self.speaker_box.currentIndexChanged.connect(lambda _: self._fill_utterances(random_pick=True))
        self.random_buttons[0].clicked.connect(lambda: self._pick(self.dataset_box))
        self.random_buttons[1].clicked.connect(lambda: self._pick(self.speaker_box))
        self.random_buttons[2].clicked.connect(lambda: self._pick(self.utterance_box))
        self.load_button.clicked.connect(self.load)
        self.dataset_box.addItems([d.name for d in self.datasets])
        enabled = bool(self.datasets)
        for w in (self.dataset_box, self.speaker_box, self.utterance_box, self.load_button, self.auto_next,
                  *self.random_buttons):
            w.setEnabled(enabled)
        if not enabled:
            why = ("Choose a datasets folder (File menu) or start with --datasets-root DIR to browse "
                   "LibriSpeech, LibriTTS, VCTK, VoxCeleb or "
                   "LJSpeech" if self.root is None else f"No known dataset layout under {self.root}")
            self.setToolTip(why)
            self.dataset_box.addItem("(no datasets)")
            self.dataset_box.setToolTip(why)

    @property
    def dataset(self) -> Dataset | None:
        i = self.dataset_box.currentIndex()
        return self.datasets[i] if self.datasets and 0 <= i < len(self.datasets) else None

    def _pick(self, box: QComboBox) -> None:
        if box.count():
            box.setCurrentIndex(self.rng.randrange(box.count()))

    def _fill_speakers(self, random_pick: bool) -> None:
        ds = self.dataset
        self.speaker_box.blockSignals(True)
        self.speaker_box.clear()
        if ds is not None:
            self.speaker_box.addItems(ds.speakers())
            if random_pick and self.speaker_box.count():
                self.speaker_box.setCurrentIndex(self.rng.randrange(self.speaker_box.count()))
        self.speaker_box.blockSignals(False)
        self._fill_utterances(random_pick)

    def _fill_utterances(self, random_pick: bool) -> None:
        ds = self.dataset
        self.utterance_box.clear()
        speaker = self.speaker_box.currentText()
        if ds is not None and speaker:
            self.utterance_box.addItems(ds.utterances(speaker))
            if random_pick and self.utterance_box.count():
                self.utterance_box.setCurrentIndex(self.rng.randrange(self.utterance_box.count()))

    def load(self) -> None:
        ds, speaker, utt = self.dataset, self.speaker_box.currentText(), self.utterance_box.currentText()
        if ds is None or not speaker or not utt:
            return
        path = ds.utterance_path(speaker, utt)
        name = path.relative_to(self.root).as_posix() if self.root else path.name
        self.chosen.emit(path, name, f"{ds.name.split('/')[-1]}_{speaker}")
        if self.auto_next.isChecked() and self.utterance_box.count():
            n = self.utterance_box.count()
            self.utterance_box.setCurrentIndex((self.utterance_box.currentIndex() + 1) % n)
