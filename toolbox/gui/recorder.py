"""Recording from a chosen input device, for as long as the user wants, with a live level meter.

The input stream's callback fills a ring buffer; a GUI timer (every 50 ms) drains it, so the GUI
thread only ever copies and measures small blocks.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from models.audio import SAMPLE_RATE
from toolbox.audio_io import AudioBackend, InputStream

log = logging.getLogger(__name__)

MAX_SECONDS = 600
METER_FLOOR_DB = -60.0


class Recorder(QWidget):
    recorded = Signal(object)  # (L,) float32 16 kHz
    failed = Signal(str)

    def __init__(self, backend: AudioBackend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.device_box = QComboBox()
        self.device_box.setToolTip("Input device used for recording")
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Start recording; press again to stop")
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(12)
        self.meter.setToolTip("Input level")
        self.time_label = QLabel("0.0 s")
        self.time_label.setMinimumWidth(48)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Mic:"))
        layout.addWidget(self.device_box, 2)
        layout.addWidget(self.record_button)
        layout.addWidget(self.meter, 1)
        layout.addWidget(self.time_label)
        self.record_button.toggled.connect(self._toggled)
        self._stream: InputStream | None = None
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._timer = QTimer(self, interval=50)
        self._timer.timeout.connect(self._pull)
        self.refresh_devices()

    def refresh_devices(self) -> None:
        self.device_box.clear()
        devices = self.backend.input_devices() if self.backend.available else []
        for d in devices:
            self.device_box.addItem(d.name, d.index)
            if d.is_default:
                self.device_box.setCurrentIndex(self.device_box.count() - 1)
        usable = bool(devices)
        self.device_box.setEnabled(usable)
        self.record_button.setEnabled(usable)
        if not usable:
            why = self.backend.reason or "No audio input device was found."
            self.device_box.addItem("No input device")
            self.record_button.setToolTip(f"Recording is disabled: {why}")

    def select_device(self, name: str) -> None:
        i = self.device_box.findText(name)
        if i >= 0:
            self.device_box.setCurrentIndex(i)

    @property
    def recording(self) -> bool:
        return self._stream is not None

    def _toggled(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        if self._stream is not None:
            return
        try:
            self._stream = self.backend.open_input(self.device_box.currentData())
        except Exception as e:
            log.warning("cannot record: %s", e)
            self.failed.emit(f"Cannot record: {e}")
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.blockSignals(False)
            return
        self._blocks, self._samples = [], 0
        self.record_button.setText("Stop recording")
        if not self.record_button.isChecked():
            self.record_button.blockSignals(True)
            self.record_button.setChecked(True)
            self.record_button.blockSignals(False)
        self.device_box.setEnabled(False)
        self._timer.start()

    def _pull(self) -> None:
        if self._stream is None:
            return
        block = self._stream.read()
        if len(block):
            self._blocks.append(block)
            self._samples += len(block)
            rms = float(np.sqrt(np.mean(np.square(block[-1600:]))))
            db = 20 * np.log10(max(rms, 1e-6))
            self.meter.setValue(int(np.clip((db - METER_FLOOR_DB) / -METER_FLOOR_DB * 100, 0, 100)))
        self.time_label.setText(f"{self._samples / SAMPLE_RATE:.1f} s")
        if self._samples >= MAX_SECONDS * SAMPLE_RATE:
            self.stop()

    def stop(self) -> None:
        """Stop recording and emit what was captured (nothing if it is empty)."""
        if self._stream is None:
            return
        self._pull()
        self._timer.stop()
        stream, self._stream = self._stream, None
        stream.close()
        self.meter.setValue(0)
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self.record_button.setText("Record")
        self.device_box.setEnabled(True)
        if stream.overruns:
            log.warning("recording lost %d samples (overrun)", stream.overruns)
        if self._samples:
            self.recorded.emit(np.concatenate(self._blocks))
        self._blocks = []
