"""Griffin-Lim vocoder: the Vocoder interface, lengths, seeds, streaming, and that it inverts real mels."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from models.audio import load_audio, synth_mel
from models.griffinlim import GriffinLim
from models.vocoding import Cancelled, Vocoder


@pytest.fixture(scope="module")
def speech_mel(librispeech) -> np.ndarray:
    path = sorted((librispeech / "test-other").rglob("*.flac"))[0]
    return synth_mel(load_audio(path)[: 2 * 16_000])  # (80, 161)


def test_is_a_vocoder_with_the_published_length_and_a_seed():
    gl = GriffinLim(n_iter=5)
    assert isinstance(gl, Vocoder) and gl.sample_rate == 16_000
    mel = np.random.default_rng(0).uniform(-4, 0, (80, 40)).astype(np.float32)
    a = gl.vocode(mel, seed=1)
    assert a.dtype == np.float32 and a.shape == ((40 - 1) * 200,)
    np.testing.assert_array_equal(a, gl.vocode(mel, seed=1))
    assert not np.array_equal(a, gl.vocode(mel, seed=2))
    assert gl.vocode(mel[:, :1]).shape == (0,)
    with pytest.raises(ValueError, match="80"):
        gl.vocode(mel[:40])


def test_stream_yields_the_vocode_samples_in_order():
    gl = GriffinLim(n_iter=5, stream_chunk=1000)
    mel = np.random.default_rng(1).uniform(-4, 0, (80, 30)).astype(np.float32)
    chunks = list(gl.stream(mel, seed=3))
    assert len(chunks) == 6 and all(len(c) <= 1000 for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), gl.vocode(mel, seed=3))


def test_inverts_a_real_speech_mel(speech_mel):
    # power 1 isolates the phase reconstruction: the output's mel must match the input's
    for n_iter, limit in ((30, 0.12), (2, 0.5)):
        wav = GriffinLim(n_iter=n_iter, power=1.0).vocode(speech_mel, seed=0)
        err = np.abs(synth_mel(wav)[:, 1:-1] - speech_mel[:, 1:-1]).mean()
        assert err < limit, (n_iter, err)
    fast = GriffinLim(n_iter=30, power=1.0).vocode(speech_mel, seed=0)
    plain = GriffinLim(n_iter=30, momentum=0.0, power=1.0).vocode(speech_mel, seed=0)
    err = {name: np.abs(synth_mel(w)[:, 1:-1] - speech_mel[:, 1:-1]).mean()
           for name, w in (("fast", fast), ("plain", plain))}
    assert err["fast"] < err["plain"]  # momentum converges faster


def test_progress_and_cancel():
    mel = np.full((80, 20), -2.0, dtype=np.float32)
    seen = []
    GriffinLim(n_iter=4).vocode(mel, progress=lambda f, m: seen.append(f))
    assert seen == [0.25, 0.5, 0.75, 1.0]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        GriffinLim().vocode(mel, cancel=cancel)
