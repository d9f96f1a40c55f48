"""Pipeline: reference -> embedding, text -> chunks -> mels -> audio with pauses; streaming order,
batching independence, long text in bounded batches, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from models.griffinlim import GriffinLim
from models.pipeline import Pipeline, text_chunks
from models.synthesizer import Synthesizer, Tacotron, TacotronConfig
from models.text import TextError
from models.vocoding import Cancelled

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FakeEncoder:
    def embed_utterance(self, wav: np.ndarray) -> np.ndarray:
        e = np.ones(256, dtype=np.float32)
        return e / np.linalg.norm(e)


class CountingSynthesizer:
    """Wraps a Synthesizer and records every call (texts per call, in order)."""

    def __init__(self, inner: Synthesizer) -> None:
        self.inner = inner
        self.batch_size = inner.batch_size
        self.calls: list[list[str]] = []

    def synthesize(self, texts, embeddings, **kwargs):
        self.calls.append(list(texts))
        return self.inner.synthesize(texts, embeddings, **kwargs)


@pytest.fixture(scope="module")
def quick_synth() -> Synthesizer:
    """Small random Tacotron that always stops at the earliest allowed step (15 frames at r = 3)."""
    torch.manual_seed(0)
    model = Tacotron(TacotronConfig.small())
    model.decoder.stop_proj.bias.data.fill_(1e4)
    return Synthesizer(model, precision="fp32")


def make(synth: Synthesizer, batch_size: int = 16) -> tuple[Pipeline, CountingSynthesizer]:
    synth = Synthesizer(synth.model, precision="fp32", batch_size=batch_size)
    counting = CountingSynthesizer(synth)
    return Pipeline(FakeEncoder(), counting, GriffinLim(n_iter=2)), counting


TEXT = "First sentence here. Second one follows it.\nA third line, after a break."


def test_clone_joins_sentences_with_short_pauses(quick_synth):
    pipe, _ = make(quick_synth)
    emb = pipe.embed(np.zeros(16_000, dtype=np.float32))
    assert emb.shape == (256,)
    chunks = pipe.split(TEXT)
    assert chunks == ["First sentence here. Second one follows it.", "A third line, after a break."]
    mels = pipe.synthesize(TEXT, emb, seed=1)
    wav = pipe.clone(TEXT, emb, seed=1)
    expected = sum((m.shape[1] - 1) * 200 for m in mels) + (len(mels) - 1) * 2400  # 0.15 s pauses
    assert wav.dtype == np.float32 and wav.shape == (expected,)
    np.testing.assert_array_equal(wav, pipe.clone(TEXT, emb, seed=1))
    first = pipe.vocode(mels[:1], seed=1)[0]
    np.testing.assert_array_equal(wav[: len(first)], first)
    assert not wav[len(first):len(first) + 2400].any()


def test_result_does_not_depend_on_batching(quick_synth):
    emb = FakeEncoder().embed_utterance(None)
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    a = make(quick_synth, batch_size=16)[0].clone(text, emb, seed=5)
    b = make(quick_synth, batch_size=2)[0].clone(text, emb, seed=5)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_stream_yields_first_sentence_before_synthesizing_the_next(quick_synth):
    pipe, counting = make(quick_synth)
    emb = FakeEncoder().embed_utterance(None)
    stream = pipe.stream(TEXT, emb, seed=1)
    first = next(stream)
    assert len(counting.calls) == 1 and counting.calls[0] == [pipe.split(TEXT)[0]] and first.size > 0
    rest = list(stream)
    np.testing.assert_allclose(np.concatenate([first, *rest]), pipe.clone(TEXT, emb, seed=1), atol=1e-5)


def test_long_text_is_synthesized_lazily_in_bounded_batches(quick_synth):
    pipe, counting = make(quick_synth)
    emb = FakeEncoder().embed_utterance(None)
    text = ("The train left the station at noon, and nobody on the platform noticed the small dog "
            "that had climbed aboard. ") * 190
    assert len(text) > 20_000
    n_chunks = len(pipe.split(text))
    progress = []
    parts = pipe.iter_sentences(text, emb, seed=0, progress=lambda f, m: progress.append(f))
    next(parts)
    assert len(counting.calls) == 1 and len(counting.calls[0]) == 16  # one batch, not the whole text
    n_parts = 1 + sum(1 for _ in parts)
    assert n_parts == n_chunks and len(counting.calls) == -(-n_chunks // 16)
    assert max(len(c) for c in counting.calls) <= 16
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)


def test_text_problems_and_cancel(quick_synth, caplog):
    with pytest.raises(TextError, match="empty"):
        text_chunks("  \n ")
    with pytest.raises(TextError):
        text_chunks("😀 ... !!!")
    assert text_chunks("Hello. 😀. World!") == ["Hello. 😀. World!"]  # the emoji is reported when encoded
    assert text_chunks("Hello.\n😀\nWorld!") == ["Hello.", "World!"]
    pipe, _ = make(quick_synth)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        pipe.clone(TEXT, FakeEncoder().embed_utterance(None), cancel=cancel)


DEMO_SYNTHESIZER = Path(__file__).resolve().parents[1] / "pretrained" / "demo-synthesizer.safetensors"


def test_speed_and_pitch_shift_per_call_with_the_demo_synthesizer():
    from models.synthesizer import load_synthesizer

    synth = load_synthesizer(DEMO_SYNTHESIZER)
    pipe = Pipeline(FakeEncoder(), synth, GriffinLim(n_iter=2))
    emb = FakeEncoder().embed_utterance(None)
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    (normal,) = pipe.synthesize(text, emb, seed=0)
    (fast,) = pipe.synthesize(text, emb, seed=0, speed=2.0)
    (slow,) = pipe.synthesize(text, emb, seed=0, speed=0.5)
    assert fast.shape[1] / normal.shape[1] == pytest.approx(0.5, abs=0.08)
    assert slow.shape[1] / normal.shape[1] == pytest.approx(2.0, abs=0.2)
    (higher,) = pipe.synthesize(text, emb, seed=0, pitch_shift=5.0)
    assert higher.shape == normal.shape and not np.allclose(higher, normal)
    assert synth.speed == 1.0 and synth.pitch_shift == 0.0  # for that call only
    wav = pipe.clone(text, emb, seed=0, speed=2.0)
    assert len(wav) == (fast.shape[1] - 1) * 200  # clone, iter_sentences and stream take them too
    assert synth.speed == 1.0
    with pytest.raises(ValueError, match="0.25..4"):
        pipe.synthesize(text, emb, speed=8.0)
    assert synth.speed == 1.0


def test_controls_refused_by_a_synthesizer_without_them(quick_synth):
    from models.pipeline import ControlsError
    from models.synthesizer import has_controls

    pipe, _ = make(quick_synth)
    emb = FakeEncoder().embed_utterance(None)
    assert not has_controls(quick_synth)
    assert len(pipe.synthesize("Hello there.", emb, seed=0, speed=1.0, pitch_shift=0.0)) == 1  # neutral: fine
    with pytest.raises(ControlsError, match="only the demo synthesizer"):
        pipe.synthesize("Hello there.", emb, seed=0, speed=2.0)


def test_damaged_output_is_refused_naming_the_model():
    """NaN audio, and finite audio far beyond full scale (weights scaled up), are damage, not sound."""
    from models.guard import MAX_AUDIO, NonFiniteError, check_finite

    ok = np.linspace(-1, 1, 100, dtype=np.float32)
    assert check_finite(ok, "audio", "v.safetensors") is ok
    mel = np.full((80, 10), 3 * MAX_AUDIO, np.float32)  # mels are not audio: no bound
    assert check_finite(mel, "mel", "s.safetensors") is mel
    with pytest.raises(NonFiniteError, match=r"v\.safetensors: produced audio peaking at 1e\+04 for a\.wav"):
        check_finite(ok * 1e4, "audio", "v.safetensors", "a.wav")
    bad = ok.copy()
    bad[3] = np.nan
    with pytest.raises(NonFiniteError, match=r"v\.safetensors: produced 1 NaN or infinite values in the audio"):
        check_finite(bad, "audio", "v.safetensors")


def test_voice_match_frames_reach_the_demo_synthesizer_and_others_ignore_them(quick_synth):
    from models.synthesizer import load_synthesizer
    from models.synthesizer.voice_match import ReferenceFrames
    from tests.test_voice_match import all_phones_reference

    synth = load_synthesizer(DEMO_SYNTHESIZER)
    pipe = Pipeline(FakeEncoder(), synth, GriffinLim(n_iter=2))
    emb = FakeEncoder().embed_utterance(None)
    text = "The quick brown fox jumps over the lazy dog."
    synth.voice_match = 0.3  # off by default
    t = np.arange(32_000) / 16_000
    voice = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 50)).astype(np.float32) * 0.2  # a buzz
    buzz = pipe.reference_frames(voice)
    assert isinstance(buzz, ReferenceFrames) and buzz.mel.shape[1] > 100
    frames = all_phones_reference()
    (plain,) = pipe.synthesize(text, emb, seed=0)
    (matched,) = pipe.synthesize(text, emb, seed=0, reference=frames)
    assert matched.shape == plain.shape and np.abs(matched - plain).mean() > 0.05
    streamed = np.concatenate(list(pipe.stream(text, emb, seed=0, reference=frames)))
    np.testing.assert_allclose(streamed, pipe.clone(text, emb, seed=0, reference=frames), atol=1e-4)
    assert pipe.reference_frames(np.zeros(16_000, np.float32)) is None  # no speech: no match, no error
    synth.voice_match = 0.0
    assert pipe.reference_frames(voice) is None
    other, _ = make(quick_synth)
    assert other.reference_frames(voice) is None
    assert len(other.synthesize("Hello there.", emb, seed=0, reference=frames)) == 1
