"""Playback of utterances and of audio while it is being generated.

The GUI thread calls :meth:`Player.play` / :meth:`Player.start_stream` + :meth:`Player.feed`,
which never block: chunks go to a queue that a feeder thread writes into the output stream's ring
buffer (that write blocks when the ring is full, so it must not happen on the GUI thread).
:attr:`Player.position` tells how far the current playback has got (a GUI timer polls it) and
:attr:`Player.volume` scales what is played, at once, also mid-clip.
"""

from __future__ import annotations

import logging
import queue
import threading

import numpy as np
from PySide6.QtCore import QObject, Signal

from toolbox.audio_io import AudioBackend, OutputStream, StartGate

log = logging.getLogger(__name__)

_END = object()


class Player(QObject):
    started = Signal()
    stopped = Signal()  # playback ended or was stopped
    failed = Signal(str)
    _ended = Signal(int)

    def __init__(self, backend: AudioBackend, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.device: int | None = None
        self._session = 0
        self._queue: queue.Queue | None = None
        self._stream: OutputStream | None = None
        self._thread: threading.Thread | None = None
        self._ended.connect(self._on_ended)
        self.underruns = 0
        self._volume = 1.0

    @property
    def available(self) -> bool:
        return bool(self.backend.available and self.backend.output_devices())

    @property
    def playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def position(self) -> float | None:
        """Seconds played of the current clip or stream, or None when nothing is playing."""
        stream = self._stream
        return stream.position if stream is not None and self.playing else None

    @property
    def volume(self) -> float:
        """Gain applied to everything played, 0..1 (1: as generated)."""
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = min(1.0, max(0.0, float(value)))
        if self._stream is not None:
            self._stream.gain = self._volume

    def play(self, wav: np.ndarray) -> bool:
        """Play a whole (L,) 16 kHz clip (stopping what was playing)."""
        if not self.start_stream():
            return False
        self.feed(wav)
        self.end_stream()
        return True

    def start_stream(self, gate: StartGate | None = None) -> bool:
        """Open the output for fed chunks; with a `gate`, sound starts once it can play without gaps."""
        self.stop()
        if not self.available:
            self.failed.emit(self.backend.reason or "No audio output device: playback is disabled.")
            return False
        try:
            stream = self.backend.open_output(self.device)
        except Exception as e:
            log.warning("cannot open audio output: %s", e)
            self.failed.emit(f"Cannot play audio: {e}")
            return False
        if gate is not None:
            stream.hold(gate)
        stream.gain = self._volume
        self._session += 1
        q: queue.Queue = queue.Queue()
        self._queue, self._stream = q, stream
        self._thread = threading.Thread(target=self._feed_loop, args=(stream, q, self._session),
                                        name="audio-feeder", daemon=True)
        self._thread.start()
        self.started.emit()
        return True

    def feed(self, chunk: np.ndarray) -> None:
        if self._queue is not None:
            self._queue.put(np.asarray(chunk, np.float32))

    def end_stream(self) -> None:
        if self._queue is not None:
            self._queue.put(_END)
            self._queue = None

    def _feed_loop(self, stream: OutputStream, q: queue.Queue, session: int) -> None:
        try:
            while True:
                item = q.get()
                if item is _END or stream.stopped.is_set():
                    break
                stream.write(item)
            if not stream.stopped.is_set():
                stream.finish()
                stream.drain()
        except Exception:
            log.exception("audio playback failed")
        finally:
            stream.close()
            self.underruns += stream.underruns
            self._ended.emit(session)

    def _on_ended(self, session: int) -> None:
        if session == self._session:
            self.stopped.emit()

    def stop(self) -> None:
        """Stop playback now (queued audio is dropped)."""
        if self._stream is not None:
            self._stream.stop()
        if self._queue is not None:
            self._queue.put(_END)
            self._queue = None
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._stream = None
