"""Audio backend: ring buffer, fake streams (in order, resampled), play_stream, missing PortAudio."""

from __future__ import annotations

import time

import numpy as np
import pytest

from models.audio import SAMPLE_RATE
from toolbox import audio_io
from toolbox.audio_io import FakeAudioBackend, RingBuffer, play_stream


def test_ring_buffer_wraps_and_preserves_order():
    ring = RingBuffer(10)
    out = np.zeros(10, np.float32)
    assert ring.write(np.arange(7, dtype=np.float32)) == 7
    assert ring.read_into(out[:5]) == 5
    assert ring.write(np.arange(7, 15, dtype=np.float32)) == 8  # wraps around the end
    assert ring.write(np.ones(3, np.float32)) == 0  # full
    assert ring.read_into(out) == 10
    np.testing.assert_array_equal(out, np.arange(5, 15))


def test_fake_input_stream_delivers_array_resampled_to_16k():
    t = np.arange(48_000) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    backend = FakeAudioBackend(tone, input_rate=48_000, speed=50.0, block=4800)
    stream = backend.open_input()
    got = []
    deadline = time.monotonic() + 5
    while sum(map(len, got)) < 15_000 and time.monotonic() < deadline:
        got.append(stream.read())
        time.sleep(0.01)
    stream.close()
    audio = np.concatenate(got)
    assert len(audio) >= 15_000
    assert 0.4 < np.abs(audio[2000:15000]).max() < 0.6  # the tone, at 16 kHz
    zero_crossings = np.sum(np.diff(np.sign(audio[2000:14000])) != 0)
    assert abs(zero_crossings / (12000 / SAMPLE_RATE) / 2 - 440) < 10


def test_fake_output_records_audio_in_order_and_play_stream_returns_stats():
    backend = FakeAudioBackend(speed=20.0, block=256)
    chunks = [np.full(1000, i + 1, np.float32) for i in range(5)]
    stats = play_stream(backend, iter(chunks))
    played = backend.delivered_audio()
    np.testing.assert_array_equal(played, np.concatenate(chunks))
    assert stats["seconds"] == pytest.approx(5000 / SAMPLE_RATE)
    assert stats["underruns"] == 0


def test_output_counts_underruns_when_producer_is_late():
    backend = FakeAudioBackend(speed=10.0, block=256)
    out = backend.open_output()
    out.write(np.ones(512, np.float32))
    time.sleep(0.2)  # producer stalls while the device keeps asking
    out.write(np.ones(512, np.float32))
    out.finish()
    assert out.drain(timeout=5)
    out.close()
    assert out.underruns > 0
    assert np.count_nonzero(backend.delivered_audio()) == 1024


def test_output_gain_applies_at_once_and_position_counts_what_was_heard():
    backend = FakeAudioBackend(output_rate=32_000, speed=50.0, block=320)
    out = backend.open_output()
    out.gain = 0.5
    out.write(np.full(8000, 0.8, np.float32))  # 0.5 s at 16 kHz
    out.finish()
    assert out.drain(timeout=5)
    out.close()
    played = backend.delivered_audio()
    assert np.median(played) == pytest.approx(0.4, abs=1e-6)  # the volume, on every sample delivered
    assert out.position == pytest.approx(len(played) / 32_000) and abs(out.position - 0.5) < 0.02
    out.latency = 0.1  # a device's buffer: what is heard lags what was delivered
    assert out.position == pytest.approx(len(played) / 32_000 - 0.1)


def test_output_resamples_to_device_rate():
    backend = FakeAudioBackend(output_rate=48_000, speed=50.0, block=4800)
    play_stream(backend, iter([np.ones(16_000, np.float32) * 0.5]))
    played = backend.delivered_audio()
    assert abs(len(played) - 48_000) < 500
    assert np.median(played) == pytest.approx(0.5, abs=0.01)


def test_stop_releases_blocked_writer():
    backend = FakeAudioBackend(speed=0.01, block=256)  # practically not consuming
    out = backend.open_output()
    out.ring = RingBuffer(1000)
    import threading

    t = threading.Thread(target=out.write, args=(np.ones(5000, np.float32),))
    t.start()
    time.sleep(0.05)
    out.stop()
    t.join(2)
    assert not t.is_alive()


def test_missing_portaudio_gives_unavailable_backend_with_explanation(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    backend = audio_io.SoundDeviceBackend()
    assert not backend.available
    assert "PortAudio" in backend.reason
    assert backend.input_devices() == [] and backend.output_devices() == []
    with pytest.raises(audio_io.AudioUnavailableError, match="PortAudio"):
        play_stream(backend, iter([np.zeros(10, np.float32)]))


def test_sounddevice_backend_without_devices_explains():
    backend = audio_io.SoundDeviceBackend()  # real PortAudio; the test machine may have no card
    if backend.output_devices():
        pytest.skip("this machine has an audio output device")
    with pytest.raises(audio_io.AudioUnavailableError):
        backend.open_output()
