"""The toolbox window with the real model layer: a random-weight Tacotron of the published layout
(30.9 M parameters) and Griffin-Lim, behind the real StoreEngine and worker thread."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.engine import GRIFFIN_LIM, StoreEngine
from toolbox.gui.testing import EmptyStore, FakeEngine, make_window
from toolbox.gui.testing import harmonic_voice as voice

T = 60_000  # ms: a 2-core CPU shared with other jobs

class FakeEncoder:
    def __init__(self) -> None:
        self.fake = FakeEngine()

    def embed_utterance(self, wav):
        return self.fake.embed(wav)


@pytest.fixture(scope="module")
def rtvc_synthesizer():
    import torch

    from models.synthesizer import Synthesizer, Tacotron, TacotronConfig

    torch.manual_seed(0)
    return Synthesizer(Tacotron(TacotronConfig.rtvc()))


@pytest.fixture
def window(qtbot, tmp_path, rtvc_synthesizer):
    engine = StoreEngine(store=EmptyStore(), models={"encoder": ("fake encoder", FakeEncoder()),
                                                  "synthesizer": ("random rtvc", rtvc_synthesizer)})
    backend = FakeAudioBackend(speed=50.0)
    w, executor = make_window(engine, backend, tmp_dir=tmp_path)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()
    executor.shutdown(wait=True)


def test_missing_models_are_marked_with_how_to_get_them(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from models.store import ModelStore

    store = ModelStore(cache_dir=tmp_path / "empty-cache")
    engine = StoreEngine(store=store)
    assert engine.defaults()["vocoder"] == "demo-vocoder"  # nothing downloaded: the bundled vocoder
    assert GRIFFIN_LIM in engine.choices()["vocoder"]
    w, executor = make_window(engine, FakeAudioBackend(), tmp_dir=tmp_path)
    qtbot.addWidget(w)
    try:
        box = w.generate_panel.model_boxes["synthesizer"]
        i = box.findText("synthesizer")
        assert i >= 0
        assert "sv2tts models download synthesizer" in box.itemData(i, Qt.ItemDataRole.ToolTipRole)
    finally:
        w.shutdown()
        executor.shutdown()


def test_store_engine_offers_given_models_and_griffin_lim(rtvc_synthesizer):
    engine = StoreEngine(store=EmptyStore(), models={"synthesizer": ("random rtvc", rtvc_synthesizer)})
    assert engine.choices()["vocoder"] == [GRIFFIN_LIM]
    assert engine.defaults()["synthesizer"] == "random rtvc"
    assert engine.defaults()["vocoder"] == GRIFFIN_LIM


def test_generate_with_random_rtvc_synthesizer_and_griffin_lim(qtbot, window):
    assert window.generate_panel.model("vocoder") == GRIFFIN_LIM
    u = window.add_utterance(voice(150.0), "ref", "ref")
    qtbot.waitUntil(lambda: u.embedding is not None, timeout=T)
    window.generate_panel.set_seed(3)
    window.generate_panel.text.setPlainText("Hello world.")
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "done", window.status.errors
    clip = window.outputs.clips[0]
    (mel,) = clip.mels
    assert mel.shape[0] == 80 and mel.shape[1] >= 2
    qtbot.waitUntil(lambda: window.spectrograms.generated.idle, timeout=T)
    assert window.spectrograms.generated.mel_img.get_array().shape == mel.shape
    assert len(clip.wav) == (mel.shape[1] - 1) * 200  # Griffin-Lim: (T - 1) * hop samples
    assert np.abs(clip.wav).max() > 0
    qtbot.waitUntil(lambda: not window.player.playing, timeout=T)
    backend = window.backend
    np.testing.assert_array_equal(backend.delivered_audio(), clip.wav)  # streamed, in order


def test_stop_cancels_the_real_synthesizer_mid_run(qtbot, window, rtvc_synthesizer, monkeypatch):
    import functools

    # random weights may stop early; run to the length guard so there is something to interrupt
    monkeypatch.setattr(rtvc_synthesizer.model, "generate",
                        functools.partial(type(rtvc_synthesizer.model).generate, rtvc_synthesizer.model,
                                          use_stop_token=False), raising=False)
    u = window.add_utterance(voice(110.0), "ref", "ref")
    qtbot.waitUntil(lambda: u.embedding is not None, timeout=T)
    window.generate_panel.text.setPlainText("A rather long sentence that takes the synthesizer a while. " * 3)
    fractions = []
    window.models.worker.progress.connect(lambda job, f, rtf: fractions.append(f))
    qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(fractions) > 0 and fractions[-1] > 0.0, timeout=T)
    with qtbot.waitSignal(window.generation_finished, timeout=10_000) as blocker:
        qtbot.mouseClick(window.generate_panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "cancelled"
    assert fractions[-1] < 0.3  # stopped inside synthesis (the first 30 % of the bar)
    assert window.generate_panel.both_button.isEnabled()


class FileStore(EmptyStore):
    """A store that only maps names to files."""

    def __init__(self, files: dict) -> None:
        self.files = files

    def path(self, name: str):
        return self.files.get(name)


class SpySynthesizer:
    """Has the demo synthesizer's controls; records them at each call."""

    def __init__(self) -> None:
        self.speed, self.pitch_shift, self.voice_match = 1.0, 0.0, 0.3
        self.seen: list[tuple[float, float]] = []
        self.references: list[object] = []

    def synthesize(self, texts, embeddings, **kwargs):
        self.seen.append((self.speed, self.pitch_shift))
        self.references.append(kwargs.get("reference"))
        return [np.zeros((80, 10), np.float32) for _ in texts]


def test_store_engine_passes_speed_and_pitch_to_the_synthesizer(rtvc_synthesizer, tmp_path):
    from pathlib import Path

    spy = SpySynthesizer()
    engine = StoreEngine(store=EmptyStore(), models={"synthesizer": ("spy", spy)})
    assert engine.supports_controls()
    emb = np.ones(256, np.float32) / 16
    engine.synthesize(["Hello."], emb, seed=0, progress=lambda f, m: None, cancel=None, speed=1.5,
                      pitch_shift=-2.0)
    engine.synthesize(["Hello."], emb, seed=0, progress=lambda f, m: None, cancel=None)
    assert spy.seen == [(1.5, -2.0), (1.0, 0.0)]  # for that call only
    # Told from the file's header, without loading it: the demo synthesizer has them, a Tacotron not.
    demo = Path(__file__).resolve().parents[1] / "pretrained" / "demo-synthesizer.safetensors"
    (tmp_path / "tacotron.pt").write_bytes(b"PK\x03\x04 not loaded")
    engine = StoreEngine(store=FileStore({"demo": demo, "tacotron": tmp_path / "tacotron.pt"}))
    engine.select("synthesizer", "demo")
    assert engine.supports_controls() and "synthesizer" not in engine._loaded
    engine.select("synthesizer", "tacotron")
    assert not engine.supports_controls()
    engine = StoreEngine(store=EmptyStore(), models={"synthesizer": ("random rtvc", rtvc_synthesizer)})
    assert not engine.supports_controls()


def test_speed_and_pitch_are_disabled_for_the_published_tacotron(qtbot, window):
    gp = window.generate_panel
    qtbot.waitUntil(lambda: not gp.speed_box.isEnabled(), timeout=T)
    assert not gp.pitch_box.isEnabled() and gp.speed is None and gp.pitch_shift is None
    assert "cannot change its speed, pitch or voice match" in gp.speed_box.toolTip()


def test_store_engine_matches_the_voice_of_the_recording_it_embedded():
    spy = SpySynthesizer()
    engine = StoreEngine(store=EmptyStore(), models={"synthesizer": ("spy", spy), "encoder": ("fake", FakeEncoder())})
    quiet = np.ones(256, np.float32) / 16  # never embedded here: no reference
    emb = engine.embed(voice(2.0))
    for e in (quiet, emb, emb):
        engine.synthesize(["Hello."], e, seed=0, progress=lambda f, m: None, cancel=None)
    none, first, again = spy.references
    assert none is None and first is not None and again is first  # computed once per recording
    assert first.mel.shape[0] == 80 and first.mel.shape[1] > 100
    engine.synthesize(["Hello."], emb, seed=0, progress=lambda f, m: None, cancel=None, voice_match=0.0)
    assert spy.references[-1] is None and spy.voice_match == 0.3  # off for that call only
    spy.voice_match = 0.0
    engine.synthesize(["Hello."], emb, seed=0, progress=lambda f, m: None, cancel=None)
    assert spy.references[-1] is None
