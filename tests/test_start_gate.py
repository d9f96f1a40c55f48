"""Playback that starts once it can run to the end without gaps (StartGate)."""

from __future__ import annotations

import time

import numpy as np

from toolbox.audio_io import FakeAudioBackend, StartGate, play_stream


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_gate_estimates_remaining_time_from_progress():
    clock = FakeClock()
    gate = StartGate(margin=1.2, min_buffer_s=0.2, clock=clock)
    assert gate.remaining_s() is None and not gate.ready(100.0)  # no progress yet: no estimate
    clock.now = 2.0
    gate.progress(0.5, "half")
    assert gate.remaining_s() == 2.0
    assert not gate.ready(2.3) and gate.ready(2.4)  # 2 s left x 1.2 margin
    gate.progress(0.4)  # progress never goes back
    assert gate.fraction == 0.5
    clock.now = 3.0
    gate.progress(1.0)
    assert gate.remaining_s() == 0.0 and gate.ready(0.2) and not gate.ready(0.1)


def bursty_producer(gate: StartGate | None, generation_s: float, rate: int = 16_000):
    """2 s of audio produced in bursts, as lock-step fold generation finalises it: little early,
    most at the end. Overall faster than real time (generation_s < 2). Values count up so the order
    of what is played can be checked."""
    bursts = [(0.1, 0.1), (0.5, 0.3), (0.8, 0.6), (1.0, 1.0)]  # (time fraction, seconds of audio)
    start, t_prev, emitted = time.monotonic(), 0.0, 0
    for frac, seconds in bursts:
        while (now := (time.monotonic() - start) / generation_s) < frac:  # report progress while working
            if gate is not None:
                gate.progress(now)
            time.sleep(generation_s / 100)
        n = int(seconds * rate)
        yield (np.arange(emitted, emitted + n) % 1000 / 1000).astype(np.float32)
        emitted += n
        t_prev = frac
    assert t_prev == 1.0


def test_bursty_stream_starves_without_gate_and_not_with_it():
    speed = 4.0  # the fake device plays 4x faster than real time: 2 s of audio in 0.5 s
    generation_s = 2.0 * 0.8 / speed  # real-time factor 0.8 on the device's clock

    plain = FakeAudioBackend(speed=speed)
    result = play_stream(plain, bursty_producer(None, generation_s))
    assert result["underruns"] > 0

    gated = FakeAudioBackend(speed=speed)
    gate = StartGate(clock=lambda: time.monotonic() * speed)  # the fake device's time
    result = play_stream(gated, bursty_producer(gate, generation_s), gate=gate)
    assert result["underruns"] == 0
    played = gated.delivered_audio()
    expected = (np.arange(32_000) % 1000 / 1000).astype(np.float32)
    np.testing.assert_array_equal(played, expected)  # everything, in order, nothing dropped


def test_held_stream_plays_nothing_until_finished_when_no_progress_comes():
    backend = FakeAudioBackend(speed=8.0)
    out = backend.open_output()
    out.hold(StartGate())
    out.write(np.full(4000, 0.5, np.float32))
    time.sleep(0.1)
    assert backend.delivered_audio().size == 0 and out.underruns == 0
    out.finish()  # production ended: play what is queued
    assert out.drain(timeout=5.0)
    out.close()
    np.testing.assert_array_equal(backend.delivered_audio(), np.full(4000, 0.5, np.float32))
