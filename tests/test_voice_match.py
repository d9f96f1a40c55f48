"""Voice match (models.synthesizer.voice_match): frames pulled toward the reference recording's own."""

from __future__ import annotations

import numpy as np
import pytest

from models.synthesizer.voice_match import NO_PHONE, ReferenceFrames, match_voice, reference_frames

RNG = np.random.default_rng(0)


def _shape(peak: int) -> np.ndarray:
    """(80,) a log-mel frame with one formant-like bump at band `peak`, mean level about -1."""
    bands = np.arange(80)
    return (-2.0 + 3.0 * np.exp(-0.5 * ((bands - peak) / 4.0) ** 2)).astype(np.float32)


def _reference() -> ReferenceFrames:
    """Phone 5 frames peak at band 20, phone 9 frames at band 60 (10 each, with a little noise)."""
    frames = [_shape(20) + 0.05 * RNG.standard_normal(80) for _ in range(10)]
    frames += [_shape(60) + 0.05 * RNG.standard_normal(80) for _ in range(10)]
    return ReferenceFrames(np.stack(frames, axis=1).astype(np.float32), np.array([5] * 10 + [9] * 10))


def all_phones_reference(per_phone: int = 6) -> ReferenceFrames:
    """`per_phone` frames of random spectral shape for every phone."""
    from models.text.phones import PHONES

    phones = np.repeat(np.arange(len(PHONES)), per_phone)
    return ReferenceFrames((RNG.uniform(-2.5, 1.0, (80, len(phones)))).astype(np.float32), phones)


def test_strength_zero_changes_nothing_and_one_takes_the_neighbours_shape_at_the_frames_loudness():
    ref = _reference()
    mel = np.stack([_shape(24) + 0.5, _shape(56) - 0.5], axis=1)  # (80, 2)
    phones = np.array([5, 9])
    assert match_voice(mel, phones, ref, 0.0) is mel
    np.testing.assert_array_equal(match_voice(mel, np.array([NO_PHONE, NO_PHONE]), ref, 1.0), mel)
    out = match_voice(mel, phones, ref, 1.0)
    assert out.shape == mel.shape and out.dtype == np.float32
    assert np.argmax(out[:, 0]) == pytest.approx(20, abs=1)  # nearest by shape: the band-20 frames
    assert np.argmax(out[:, 1]) == pytest.approx(60, abs=1)
    np.testing.assert_allclose(out.mean(axis=0), mel.mean(axis=0), atol=1e-5)  # loudness kept
    half = match_voice(mel, phones, ref, 0.5)
    np.testing.assert_allclose(half, 0.5 * (mel + out), atol=1e-5)


def test_the_same_phone_wins_over_a_closer_shape_when_the_reference_has_enough_of_it():
    ref = _reference()
    mel = _shape(58)[:, None]  # closest in shape to phone 9's frames
    assert np.argmax(match_voice(mel, np.array([9]), ref, 1.0)[:, 0]) == pytest.approx(60, abs=1)
    assert np.argmax(match_voice(mel, np.array([5]), ref, 1.0)[:, 0]) == pytest.approx(20, abs=1)
    # a phone the reference lacks, or holds fewer than k frames of: the frame stays as it is
    np.testing.assert_array_equal(match_voice(mel, np.array([3]), ref, 1.0), mel)
    few = ReferenceFrames(ref.mel[:, 7:13], ref.phones[7:13])  # 3 frames of phone 5, 3 of phone 9
    np.testing.assert_array_equal(match_voice(mel, np.array([9]), few, 1.0), mel)
    assert np.argmax(match_voice(mel, np.array([9]), few, 1.0, k=3)[:, 0]) == pytest.approx(60, abs=1)


def test_silent_frames_are_left_alone_and_bad_arguments_are_refused():
    ref = _reference()
    mel = np.stack([np.full(80, -4.0, np.float32), _shape(30)], axis=1)
    out = match_voice(mel, np.array([NO_PHONE, 5]), ref, 0.8)
    np.testing.assert_array_equal(out[:, 0], mel[:, 0])
    assert not np.allclose(out[:, 1], mel[:, 1])
    with pytest.raises(ValueError, match="0..1"):
        match_voice(mel, np.array([0, 0]), ref, 1.5)
    with pytest.raises(ValueError, match="2 mel frames but 3 phone labels"):
        match_voice(mel, np.array([0, 0, 0]), ref, 0.3)


def test_silence_has_no_frames_to_match():
    with pytest.raises(ValueError, match="no speech frames"):
        reference_frames(np.zeros(16_000, np.float32), align=False)


def test_real_speech_is_labelled_by_the_alignment(librispeech):
    pytest.importorskip("pocketsphinx")
    from models.audio import load_audio
    from models.text.phones import PHONE_TO_ID

    wav = load_audio(sorted((librispeech / "test-other").rglob("*.flac"))[0])
    frames = reference_frames(wav)
    assert frames.mel.shape[0] == 80 and frames.mel.shape[1] == len(frames.phones)
    assert frames.mel.mean(axis=0).min() > -3.5  # speech frames only
    assert (frames.phones != NO_PHONE).mean() > 0.9
    speech = frames.phones[(frames.phones != NO_PHONE) & (frames.phones != PHONE_TO_ID["pau"])]
    assert len(np.unique(speech)) >= 20  # a sentence holds most of English's phones
    assert not reference_frames(wav, align=False).labelled


def test_the_demo_synthesizer_matches_only_when_given_a_reference():
    from models.synthesizer.phone_durations import DurationConfig, DurationPredictor
    from models.synthesizer.phone_model import PhoneSynth, PhoneSynthConfig
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    synth = PhoneSynthesizer(PhoneSynth(PhoneSynthConfig.tiny()), durations=DurationPredictor(DurationConfig.tiny()))
    embed = np.ones(256, np.float32) / 16
    ref = all_phones_reference()
    (plain,) = synth.synthesize("A short test.", embed)
    assert synth.voice_match == 0.0  # off by default
    np.testing.assert_array_equal(synth.synthesize("A short test.", embed, reference=ref)[0], plain)
    synth.voice_match = 0.3
    (matched,) = synth.synthesize("A short test.", embed, reference=ref)
    ids, durations = synth.phones("A short test.", embed)
    np.testing.assert_allclose(matched, match_voice(plain, np.repeat(ids, durations), ref, synth.voice_match),
                               atol=1e-6)
    assert np.abs(matched - plain).mean() > 0.05
    synth.voice_match = 0.0
    np.testing.assert_array_equal(synth.synthesize("A short test.", embed, reference=ref)[0], plain)
    with pytest.raises(ValueError, match="voice match"):
        synth.voice_match = -0.1
