"""`sv2tts clone --play`: audio streams to the (injected) default output device while it is written;
without a device the file is still written, with a one-line notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from toolbox import audio_io
from toolbox.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def clone(out: Path, synthesizer: Path, voice: Path, encoder: Path) -> int:
    return main(["clone", "--voice", str(voice), "-o", str(out), "--synthesizer", str(synthesizer),
                 "--encoder", str(encoder), "--vocoder", "griffinlim", "--text", "Hello there.",
                 "--seed", "3", "--play"])


def test_clone_play_streams_what_it_writes(tmp_path, monkeypatch, synthesizer_pt, librispeech,
                                           published_encoder_path, capsys):
    voice = sorted((librispeech / "test-other").rglob("*.flac"))[0]
    backend = audio_io.FakeAudioBackend(speed=50.0)
    monkeypatch.setattr(audio_io, "default_backend", lambda: backend)
    out = tmp_path / "out.wav"
    assert clone(out, synthesizer_pt, voice, published_encoder_path) == 0
    written, sr = sf.read(str(out), dtype="float32")
    played = backend.delivered_audio()
    assert sr == 16_000 and len(played) == len(written) > 0
    np.testing.assert_allclose(played, written, atol=1.0 / 32768 + 1e-6)  # file is PCM_16

    backend_off = audio_io.FakeAudioBackend(available=False, reason="no device")
    monkeypatch.setattr(audio_io, "default_backend", lambda: backend_off)
    out2 = tmp_path / "out2.wav"
    assert clone(out2, synthesizer_pt, voice, published_encoder_path) == 0
    assert "no audio output device; wrote" in capsys.readouterr().err
    np.testing.assert_array_equal(sf.read(str(out2), dtype="float32")[0], written)
