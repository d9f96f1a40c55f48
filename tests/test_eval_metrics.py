"""Evaluation metrics on signals with known answers: pitch (semitones), DNSMOS ordering, summaries,
reference subsets, and the one vocoder resolution shared by `clone` and `eval`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.evaluation import pitch_summary

SR = 16_000


def tone(f0: float, seconds: float = 2.0, harmonics: int = 1) -> np.ndarray:
    """A steady periodic signal at f0 Hz: harmonics 1..n with 1/k amplitudes, peak about 0.3."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1))
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def speech_like(seconds: float = 3.0) -> np.ndarray:
    """A voiced, syllable-modulated harmonic complex with a slowly moving F0 around 150 Hz."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(150 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return (0.1 * x).astype(np.float32)


# ------------------------------------------------------------------------------------------ pitch
@pytest.fixture(scope="module")
def pitch():
    pytest.importorskip("parselmouth", reason="the eval extra (praat-parselmouth) is not installed")
    import models.pitch

    return models.pitch


@pytest.mark.parametrize(("f0", "harmonics"), [(110.0, 1), (150.0, 10), (220.0, 1), (310.0, 5)])
def test_median_f0_of_a_steady_tone(pitch, f0, harmonics):
    assert pitch.median_f0(tone(f0, harmonics=harmonics)) == pytest.approx(f0, rel=0.005)


@pytest.mark.parametrize("shift", [-5.0, -1.0, 2.0, 7.0])
def test_semitone_difference_of_a_shifted_tone(pitch, shift):
    base = tone(140.0, harmonics=8)
    shifted = tone(140.0 * 2 ** (shift / 12), harmonics=8)
    assert pitch.semitones(pitch.median_f0(shifted), pitch.median_f0(base)) == pytest.approx(shift, abs=0.05)


def test_mains_hum_is_below_the_pitch_floor(pitch):
    hum = tone(60.0, harmonics=1)
    assert np.isnan(pitch.median_f0(hum))
    assert pitch.median_f0(0.2 * hum + tone(200.0, harmonics=5)) == pytest.approx(200.0, rel=0.01)


def test_no_pitch_in_silence_or_a_too_short_clip(pitch):
    assert np.isnan(pitch.median_f0(np.zeros(SR, dtype=np.float32)))
    assert np.isnan(pitch.median_f0(tone(200.0, seconds=0.02)))
    assert np.isnan(pitch.semitones(float("nan"), 100.0)) and np.isnan(pitch.semitones(100.0, 0.0))


def test_pitch_summary_per_voice_and_overall():
    s = pitch_summary(np.array([1.0, -3.0, 2.0, np.nan, 0.5]), ["a", "a", "a", "b", "b"])
    assert s["median_abs"] == 1.5 and s["mean_abs"] == 1.625 and s["unmeasured"] == 1
    assert s["by_voice"] == {"a": {"median_abs": 2.0, "median": 1.0}, "b": {"median_abs": 0.5, "median": 0.5}}
    assert pitch_summary(np.array([np.nan]), ["a"])["median_abs"] is None


# ------------------------------------------------------------------------------------------ DNSMOS
@pytest.fixture(scope="module")
def dnsmos():
    pytest.importorskip("speechmos", reason="the eval extra (speechmos, onnxruntime) is not installed")
    from models.naturalness import Dnsmos

    return Dnsmos()


def test_dnsmos_rates_clean_voiced_sound_above_noise(dnsmos):
    rng = np.random.default_rng(0)
    clean = speech_like()
    noisy = clean + 0.03 * rng.standard_normal(len(clean)).astype(np.float32)
    noise = 0.1 * rng.standard_normal(len(clean)).astype(np.float32)
    c, n, z = dnsmos.score(clean), dnsmos.score(noisy), dnsmos.score(noise)
    for key in ("p808", "sig", "bak", "ovrl"):  # no noise, some noise, only noise
        assert getattr(c, key) > getattr(n, key) > getattr(z, key), key
    assert all(1.0 <= v <= 5.0 for v in (*c.rounded().values(), *z.rounded().values()))


def test_dnsmos_refuses_unusable_audio(dnsmos):
    with pytest.raises(ValueError, match="at least 0.1 s"):
        dnsmos.score(np.zeros(100, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        dnsmos.score(np.full(SR, np.nan, dtype=np.float32))


def test_mean_scores():
    from models.naturalness import MosScores, mean_scores

    assert mean_scores([MosScores(3.0, 2.0, 4.0, 1.0), MosScores(4.0, 3.0, 4.0, 2.0)]) == {
        "p808": 3.5, "sig": 2.5, "bak": 4.0, "ovrl": 1.5}
    assert mean_scores([]) == {}


# ------------------------------------------------------------------------------------------ choices
def test_take_in_turn_spreads_a_subset_over_voices():
    from toolbox.commands.eval import take_in_turn

    files = [Path(f"{v}/{v}-{i}.flac") for v in ("a", "b", "c") for i in range(4)]
    chosen = take_in_turn(files, 7)
    assert [f.parent.name for f in chosen].count("a") == 3 and len(chosen) == 7
    assert {f.parent.name for f in chosen} == {"a", "b", "c"} and chosen == sorted(chosen, key=files.index)
    assert take_in_turn(files, None) == files and take_in_turn(files, 99) == files


def test_vocoder_resolution(tmp_path):
    from models.checkpoint import CheckpointError
    from models.griffinlim import GriffinLim
    from models.store import ModelMissingError, ModelStore
    from models.vocoders import resolve_vocoder, vocoder_label

    store = ModelStore(cache_dir=tmp_path)  # nothing downloaded: the bundled iSTFT vocoder is the default
    assert isinstance(resolve_vocoder("Griffin-Lim", store), GriffinLim)
    default = resolve_vocoder(None, store)
    assert vocoder_label(None, default) == "default (IstftVocoder)"
    assert vocoder_label("gl", resolve_vocoder("gl", store)) == "gl"
    with pytest.raises(ModelMissingError, match="vocoder model is missing"):
        resolve_vocoder("vocoder", store)  # the store's name of the published WaveRNN
    with pytest.raises(CheckpointError, match=r"nope\.pt: no such vocoder file or name \(names: griffinlim, "):
        resolve_vocoder(str(tmp_path / "nope.pt"), store)
