"""The models bundled in pretrained/: intact, found by default without network, the encoder equal to
the published one, and the demo synthesizer intelligible and close to unseen real voices."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from models.store import ModelStore


def test_bundled_files_match_the_manifest():
    store = ModelStore()
    bundled = [e for e in store.entries() if e.path is not None]
    assert {e.name for e in bundled} >= {"bundled-encoder", "demo-synthesizer", "demo-vocoder"}
    for result in store.verify():
        if result.name in {e.name for e in bundled}:
            assert result.ok, result


def test_defaults_work_offline(tmp_path, monkeypatch):
    """An empty cache (nothing downloaded): the bundled encoder and demo synthesizer are used."""
    monkeypatch.setenv("SV2TTS_MODELS_DIR", str(tmp_path))
    store = ModelStore()
    assert store.default("encoder").name == "encoder.safetensors"
    assert store.default("synthesizer").name == "demo-synthesizer.safetensors"
    assert store.default("vocoder").name == "demo-vocoder.safetensors"


def test_bundled_encoder_is_the_published_encoder(published_encoder_path):
    from models.checkpoint import load_torch_checkpoint, model_state_of
    from models.encoder import SpeakerEncoder

    published = model_state_of(load_torch_checkpoint(published_encoder_path), published_encoder_path)
    bundled = SpeakerEncoder.from_file(ModelStore().entry("bundled-encoder").path).net.state_dict()
    assert set(bundled) == set(published)
    assert all(torch.equal(bundled[k], published[k].float()) for k in bundled)


def test_demo_synthesizer_clones_unseen_real_voices(librispeech):
    """Two held-out LibriSpeech test-other readers, two sentences never used in training."""
    pytest.importorskip("pocketsphinx")
    from models.asr import Recognizer
    from models.encoder import SpeakerEncoder
    from models.evaluation import word_errors
    from models.griffinlim import GriffinLim
    from models.pipeline import Pipeline
    from models.synthesizer import load_synthesizer
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    store = ModelStore()
    encoder = SpeakerEncoder.default()
    synth = load_synthesizer(store.default("synthesizer"))
    assert isinstance(synth, PhoneSynthesizer)
    pipeline = Pipeline(encoder, synth, GriffinLim())
    refs = [sorted((librispeech / "test-other" / spk).glob("*.flac"))[0] for spk in ("1688", "3005")]
    sentences = ["She found seven old coins buried under the garden wall.",
                 "Please bring the green folder to the meeting tomorrow morning."]
    recognizer = Recognizer()
    errors = words = 0
    sims = []
    for ref in refs:
        embed = pipeline.embed(ref)
        for s in sentences:
            wav = pipeline.clone(s, embed, seed=0)
            assert np.all(np.isfinite(wav)) and 1.5 < len(wav) / 16_000 < 8
            e, n = word_errors(s, recognizer.transcribe(wav))
            errors, words = errors + e, words + n
            sims.append(float(encoder.embed_utterance(wav) @ embed))
    assert errors / words <= 0.5, (errors, words)
    assert np.mean(sims) >= 0.6, sims


def test_toolbox_generates_with_the_bundled_models_out_of_the_box(qtbot, tmp_path, monkeypatch):
    """A fresh user: empty model cache, no network, no flite on PATH. The window picks the bundled encoder
    and demo synthesizer with the bundled iSTFT vocoder, and a typed sentence is synthesized and played."""
    from PySide6.QtCore import Qt

    from toolbox.audio_io import FakeAudioBackend
    from toolbox.gui.engine import StoreEngine
    from toolbox.gui.testing import harmonic_voice, make_window

    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("flite") is None
    engine = StoreEngine(store=ModelStore(cache_dir=tmp_path / "empty-cache"))
    assert engine.defaults() == {"encoder": "bundled-encoder", "synthesizer": "demo-synthesizer",
                                 "vocoder": "demo-vocoder"}
    w, executor = make_window(engine, FakeAudioBackend(speed=50.0), tmp_dir=tmp_path)
    qtbot.addWidget(w)
    try:
        w.show()
        u = w.add_utterance(harmonic_voice(150.0), "ref", "ref")
        qtbot.waitUntil(lambda: u.embedding is not None, timeout=60_000)
        w.generate_panel.text.setPlainText("Hello world. This is the demo voice.")
        assert w.generate_panel.speed_box.isEnabled()  # the demo synthesizer has speed and pitch
        w.generate_panel.speed_box.setValue(1.25)
        w.generate_panel.pitch_box.setValue(2.0)
        with qtbot.waitSignal(w.generation_finished, timeout=120_000) as blocker:
            qtbot.mouseClick(w.generate_panel.both_button, Qt.MouseButton.LeftButton)
        assert blocker.args[1] == "done", w.status.errors
        clip = w.outputs.clips[0]
        assert clip.mels and all(m.shape[0] == 80 for m in clip.mels)
        assert len(clip.wav) > 16_000 and np.abs(clip.wav).max() > 0.01
        qtbot.waitUntil(lambda: not w.player.playing, timeout=60_000)
        np.testing.assert_array_equal(w.backend.delivered_audio(), clip.wav)
    finally:
        w.shutdown()
        executor.shutdown(wait=True)
