"""Audio devices behind a small protocol: sounddevice for real, a fake for tests.

The real-time rule (docs/style.md, habit 9): a stream callback only copies into or out of a
preallocated :class:`RingBuffer` and counts under/overruns. It never allocates arrays, logs, locks
for long or touches widgets. Resampling happens on the consumer side (:meth:`InputStream.read`) or
the producer side (:meth:`OutputStream.write`), never in the callback.

* :class:`SoundDeviceBackend` imports sounddevice lazily; when PortAudio is missing it is an
  "unavailable" backend whose :attr:`~SoundDeviceBackend.reason` explains why.
* :class:`FakeAudioBackend` runs the same stream cores from a thread: its input streams are fed
  from an array and its output streams record every block they delivered, in order.
* :func:`play_stream` plays an iterator of 16 kHz chunks as they are produced (used by
  ``sv2tts clone --play``).

All audio crossing this module's API is float32 mono at :data:`models.audio.SAMPLE_RATE` (16 kHz).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from models.audio import SAMPLE_RATE, AudioError

log = logging.getLogger(__name__)

PROBE_RATES = (16_000, 22_050, 24_000, 44_100, 48_000)


class AudioUnavailableError(AudioError):
    """No audio backend or no such device; the message says why and what to do."""


@dataclass(frozen=True)
class DeviceInfo:
    """One input or output device. `rates` are the probed sample rates it accepts (mono)."""

    index: int
    name: str
    kind: str  # "input" | "output"
    channels: int
    default_rate: int
    rates: tuple[int, ...] = field(default=())
    is_default: bool = False

    def best_rate(self, wanted: int = SAMPLE_RATE) -> int:
        """`wanted` when supported, else the device's default rate (we resample ourselves)."""
        return wanted if (wanted in self.rates or not self.rates) else self.default_rate


# --------------------------------------------------------------------------------------------------
# Lock-free single-producer / single-consumer ring buffer


class RingBuffer:
    """Preallocated float32 FIFO for one producer thread and one consumer thread.

    Positions are monotonically increasing counters; the writer only advances `_w`, the reader only
    `_r`, so under the GIL no lock is needed. Neither method allocates numpy buffers.
    """

    def __init__(self, capacity: int) -> None:
        self.buf = np.zeros(int(capacity), dtype=np.float32)
        self.capacity = int(capacity)
        self._w = 0
        self._r = 0

    @property
    def available(self) -> int:
        return self._w - self._r

    @property
    def free(self) -> int:
        return self.capacity - (self._w - self._r)

    def write(self, x: np.ndarray) -> int:
        """Copy as much of (n,) `x` as fits; returns the number of samples written."""
        n = min(len(x), self.free)
        if n <= 0:
            return 0
        start = self._w % self.capacity
        first = min(n, self.capacity - start)
        self.buf[start:start + first] = x[:first]
        if n > first:
            self.buf[:n - first] = x[first:n]
        self._w += n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Fill the start of (m,) `out` with up to m samples; returns how many were copied."""
        n = min(len(out), self.available)
        if n <= 0:
            return 0
        start = self._r % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self.buf[start:start + first]
        if n > first:
            out[first:n] = self.buf[:n - first]
        self._r += n
        return n

    def clear(self) -> None:
        self._r = self._w


# --------------------------------------------------------------------------------------------------
# Stream cores, shared by the real and the fake backend


class InputStream:
    """A running capture. The callback fills the ring; :meth:`read` drains it, resampled to 16 kHz.

    `overruns` counts samples dropped because nobody read fast enough.
    """

    def __init__(self, device_rate: int, seconds: float = 30.0) -> None:
        self.device_rate = int(device_rate)
        self.ring = RingBuffer(int(seconds * device_rate))
        self.overruns = 0
        self._scratch = np.zeros(self.ring.capacity, dtype=np.float32)
        self._resampler = None
        if self.device_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.device_rate, SAMPLE_RATE, 1, dtype="float32")
        self._closer: Callable[[], None] | None = None

    def _callback(self, indata: np.ndarray, frames: int, time_info=None, status=None) -> None:
        """(frames, channels) float32 from the device: take channel 0 into the ring."""
        written = self.ring.write(indata[:frames, 0])
        if written < frames:
            self.overruns += frames - written

    def read(self) -> np.ndarray:
        """All samples captured since the last call, as (n,) float32 at 16 kHz (may be empty)."""
        n = self.ring.read_into(self._scratch)
        block = self._scratch[:n].copy()
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block)
        return block

    def close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            closer()


class StartGate:
    """Holds playback back until it can run to the end without a gap.

    The producer reports its progress (fraction of the work done, 0..1). The gate estimates the
    remaining generation time from the time elapsed so far, and opens once the queued audio lasts
    longer than that (times `margin`): from then on the rest of the audio arrives before the queue
    runs dry, so playback never starves. It also opens when production ends.
    """

    def __init__(self, margin: float = 1.2, min_buffer_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.margin, self.min_buffer_s, self.clock = margin, min_buffer_s, clock
        self.t0 = clock()
        self.fraction = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        """A `models.vocoding.Progress` callback."""
        self.fraction = max(self.fraction, min(1.0, float(fraction)))

    def remaining_s(self) -> float | None:
        """Estimated generation time left (None before any progress)."""
        if self.fraction <= 0.0:
            return None
        return (self.clock() - self.t0) * (1.0 - self.fraction) / self.fraction

    def ready(self, buffered_s: float) -> bool:
        remaining = self.remaining_s()
        return remaining is not None and buffered_s >= max(self.min_buffer_s, remaining * self.margin)


class OutputStream:
    """A running playback fed through a ring buffer.

    The producer calls :meth:`write` with 16 kHz chunks (resampled here to the device rate, blocking
    while the ring is full), then :meth:`finish`; :meth:`drain` waits until everything was played.
    The callback plays silence when the ring is empty and counts an underrun if more audio was
    still expected. It multiplies what it plays by `gain` (0..1, the volume) in place, so a change
    is heard at once; :attr:`position` is how far playback has got.
    """

    def __init__(self, device_rate: int, seconds: float = 20.0) -> None:
        self.device_rate = int(device_rate)
        self.ring = RingBuffer(int(seconds * device_rate))
        self.underruns = 0
        self.played = 0  # samples delivered to the device (device rate)
        self.gain = 1.0  # volume, applied by the callback
        self.latency = 0.0  # seconds from the callback to the speaker (the backend sets it)
        self.finished = False  # the producer has no more audio
        self.stopped = threading.Event()
        self.gate: StartGate | None = None  # while set, playback waits for gate.ready()
        self._resampler = None
        if self.device_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(SAMPLE_RATE, self.device_rate, 1, dtype="float32")
        self._closer: Callable[[], None] | None = None

    def _callback(self, outdata: np.ndarray, frames: int, time_info=None, status=None) -> None:
        if self.gate is not None:  # not started yet: waiting for enough audio to play without a gap
            outdata[:frames] = 0.0
            return
        out = outdata[:frames, 0]
        n = self.ring.read_into(out)
        if self.gain != 1.0:
            out[:n] *= self.gain  # in place: no allocation in the callback
        if n < frames:
            outdata[n:frames] = 0.0
            if not self.finished and self.played + n > 0:  # a gap after playback began
                self.underruns += 1
        if outdata.shape[1] > 1:
            outdata[:frames, 1:] = outdata[:frames, :1]
        self.played += n

    def write(self, chunk: np.ndarray, timeout: float | None = None) -> None:
        """Queue (n,) float32 16 kHz audio, blocking while the ring is full (or until stopped)."""
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        if self._resampler is not None:
            chunk = self._resampler.resample_chunk(chunk)
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(chunk) and not self.stopped.is_set():
            n = self.ring.write(chunk)
            chunk = chunk[n:]
            if self.gate is not None and (len(chunk) or self.gate.ready(self.pending_seconds)):
                self.start()  # enough queued to play to the end (or the ring is full)
            if len(chunk):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("audio output is not consuming samples")
                time.sleep(0.01)

    def hold(self, gate: StartGate) -> None:
        """Play nothing until `gate` says the queued audio can play to the end without a gap."""
        self.gate = gate

    def start(self) -> None:
        """Start playing queued audio now."""
        self.gate = None

    def finish(self) -> None:
        """No more audio will be written (silence at the end is no longer an underrun)."""
        if self._resampler is not None:
            self.ring.write(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        self.finished = True
        self.start()

    @property
    def position(self) -> float:
        """Seconds of audio heard so far: delivered to the device, less the device's latency."""
        return max(0.0, self.played / self.device_rate - self.latency)

    @property
    def pending_seconds(self) -> float:
        return self.ring.available / self.device_rate

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the ring is empty; returns False on timeout or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.ring.available and not self.stopped.is_set():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return not self.stopped.is_set()

    def stop(self) -> None:
        """Stop now: drop queued audio and release a blocked producer."""
        self.stopped.set()
        self.ring.clear()
        self.close()

    def close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            closer()


# --------------------------------------------------------------------------------------------------
# Backends


class AudioBackend(Protocol):
    available: bool
    reason: str  # why it is unavailable ("" when available)

    def input_devices(self) -> list[DeviceInfo]: ...

    def output_devices(self) -> list[DeviceInfo]: ...

    def open_input(self, device: int | None = None) -> InputStream: ...

    def open_output(self, device: int | None = None) -> OutputStream: ...


class SoundDeviceBackend:
    """PortAudio through sounddevice, imported on first use."""

    def __init__(self) -> None:
        self._sd = None
        self.available = False
        self.reason = ""
        try:
            import sounddevice

            self._sd = sounddevice
            self.available = True
        except OSError as e:  # PortAudio shared library missing
            self.reason = (f"No audio backend: the PortAudio library could not be loaded ({e}). "
                           "Install it (Debian/Ubuntu: apt install libportaudio2) to record and play.")
        except ImportError as e:
            self.reason = f"No audio backend: the sounddevice package is missing ({e})."
        if self.available and not self._query():
            self.reason = "No audio device found (no sound card, or no permission to use it)."

    def _query(self) -> list[dict]:
        try:
            return list(self._sd.query_devices())
        except Exception as e:  # PortAudioError on broken host APIs
            log.warning("cannot list audio devices: %s", e)
            return []

    def _devices(self, kind: str) -> list[DeviceInfo]:
        if not self.available:
            return []
        sd = self._sd
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        try:
            default = sd.default.device[0 if kind == "input" else 1]
        except Exception:
            default = -1
        found = []
        for i, d in enumerate(self._query()):
            channels = int(d[f"max_{kind}_channels"])
            if channels <= 0:
                continue
            rates = []
            for r in PROBE_RATES:
                try:
                    check(device=i, samplerate=r, channels=1, dtype="float32")
                    rates.append(r)
                except Exception:
                    pass
            if rates:
                found.append(DeviceInfo(i, d["name"], kind, channels, int(d["default_samplerate"]),
                                        tuple(rates), i == default))
        return found

    def input_devices(self) -> list[DeviceInfo]:
        return self._devices("input")

    def output_devices(self) -> list[DeviceInfo]:
        return self._devices("output")

    def _pick(self, kind: str, device: int | None) -> DeviceInfo:
        devices = self._devices(kind)
        if not devices:
            raise AudioUnavailableError(self.reason or f"No audio {kind} device found.")
        for d in devices:
            if d.index == device or (device is None and d.is_default):
                return d
        if device is not None:
            raise AudioUnavailableError(
                f"audio {kind} device {device} not found; valid: "
                + ", ".join(f"{d.index} ({d.name})" for d in devices))
        return devices[0]

    def open_input(self, device: int | None = None) -> InputStream:
        info = self._pick("input", device)
        rate = info.best_rate()
        stream = InputStream(rate)
        sd_stream = self._sd.InputStream(device=info.index, samplerate=rate, channels=1, dtype="float32",
                                         callback=stream._callback)
        sd_stream.start()
        stream._closer = sd_stream.close
        return stream

    def open_output(self, device: int | None = None) -> OutputStream:
        info = self._pick("output", device)
        rate = info.best_rate()
        stream = OutputStream(rate)
        sd_stream = self._sd.OutputStream(device=info.index, samplerate=rate, channels=1,
                                          dtype="float32", callback=stream._callback)
        sd_stream.start()
        try:
            stream.latency = float(sd_stream.latency)
        except (TypeError, ValueError, AttributeError):
            pass  # position then counts from the callback
        stream._closer = sd_stream.close
        return stream


class _FakeClock(threading.Thread):
    """Calls a stream callback with `block`-sized buffers, `speed` times faster than real time."""

    def __init__(self, step: Callable[[], bool], block: int, rate: int, speed: float) -> None:
        super().__init__(daemon=True, name="fake-audio")
        self.step, self.period = step, block / rate / speed
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set() and self.step():
            self.halt.wait(self.period)


class FakeAudioBackend:
    """Devices that exist only in memory, for tests.

    Input streams play `input_audio` (16 kHz, or `input_rate`) into the callback, then silence
    (or stop, with `loop=False`). Output streams append every delivered block to
    :attr:`delivered` (one list per stream opened), in order.
    """

    def __init__(self, input_audio: np.ndarray | None = None, *, input_rate: int = SAMPLE_RATE,
                 output_rate: int = SAMPLE_RATE, speed: float = 1.0, block: int = 512,
                 available: bool = True, reason: str = "") -> None:
        self.input_audio = np.zeros(SAMPLE_RATE, np.float32) if input_audio is None else \
            np.asarray(input_audio, np.float32)
        self.input_rate, self.output_rate = input_rate, output_rate
        self.speed, self.block = speed, block
        self.available = available
        self.reason = reason if not available else ""
        self.delivered: list[list[np.ndarray]] = []
        self.output_streams: list[OutputStream] = []
        self.input_streams: list[InputStream] = []

    def input_devices(self) -> list[DeviceInfo]:
        if not self.available:
            return []
        return [DeviceInfo(0, "Fake microphone", "input", 1, self.input_rate, (self.input_rate,), True)]

    def output_devices(self) -> list[DeviceInfo]:
        if not self.available:
            return []
        return [DeviceInfo(1, "Fake speakers", "output", 2, self.output_rate, (self.output_rate,), True)]

    def delivered_audio(self, stream: int = -1) -> np.ndarray:
        """Everything stream `stream` delivered (silence included), concatenated."""
        blocks = self.delivered[stream] if self.delivered else []
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)

    def open_input(self, device: int | None = None) -> InputStream:
        if not self.available:
            raise AudioUnavailableError(self.reason or "fake backend unavailable")
        stream = InputStream(self.input_rate)
        source, block, pos = self.input_audio, self.block, [0]
        indata = np.zeros((block, 1), np.float32)

        def step() -> bool:
            chunk = source[pos[0]:pos[0] + block]
            indata[:] = 0.0
            indata[:len(chunk), 0] = chunk
            pos[0] += block
            stream._callback(indata, block)
            return True

        clock = _FakeClock(step, block, self.input_rate, self.speed)
        stream._closer = lambda: (clock.halt.set(), clock.join(1.0))
        clock.start()
        self.input_streams.append(stream)
        return stream

    def open_output(self, device: int | None = None) -> OutputStream:
        if not self.available:
            raise AudioUnavailableError(self.reason or "fake backend unavailable")
        stream = OutputStream(self.output_rate)
        record: list[np.ndarray] = []
        self.delivered.append(record)
        self.output_streams.append(stream)
        outdata = np.zeros((self.block, 2), np.float32)

        def step() -> bool:
            before = stream.played
            stream._callback(outdata, self.block)
            if stream.played > before:  # record only real audio, not idle silence
                record.append(outdata[:stream.played - before, 0].copy())
            return True

        clock = _FakeClock(step, self.block, self.output_rate, self.speed)
        stream._closer = lambda: (clock.halt.set(), clock.join(1.0))
        clock.start()
        return stream


# --------------------------------------------------------------------------------------------------


def play_stream(backend: AudioBackend, chunks: Iterator[np.ndarray], device: int | None = None,
                on_chunk: Callable[[np.ndarray], None] | None = None, gate: StartGate | None = None) -> dict:
    """Play 16 kHz float32 chunks as they are produced, then wait for the end of playback.

    With a `gate` (fed by the producer's progress), playback starts once it can run without gaps.

    Returns {"seconds": played duration, "underruns": n}. Raises AudioUnavailableError (an
    AudioError) when there is no backend or no output device.
    """
    if not backend.available:
        raise AudioUnavailableError(backend.reason or "no audio backend")
    out = backend.open_output(device)
    if gate is not None:
        out.hold(gate)
    total = 0
    try:
        for chunk in chunks:
            if on_chunk is not None:
                on_chunk(chunk)
            out.write(chunk)
            total += len(chunk)
        out.finish()
        out.drain(timeout=total / SAMPLE_RATE + 5.0)
    finally:
        out.close()
    return {"seconds": total / SAMPLE_RATE, "underruns": out.underruns}


def default_backend() -> AudioBackend:
    return SoundDeviceBackend()
