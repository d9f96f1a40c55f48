"""The audio front-end: loading any format/rate/channels/depth, loudness, VAD trimming, mels."""

from __future__ import annotations

import shutil
import subprocess

import librosa
import numpy as np
import pytest
import soundfile as sf

from models import audio
from models.audio import AudioError


def tone(sr: int, seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(wav: np.ndarray, sr: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.fft.rfftfreq(len(wav), 1 / sr)[np.argmax(spectrum)])


@pytest.mark.parametrize("sr", [8_000, 22_050, 44_100, 48_000, 96_000])
def test_load_resamples_any_rate_to_16k(tmp_path, sr):
    path = tmp_path / f"tone_{sr}.wav"
    sf.write(path, tone(sr), sr)
    wav = audio.load_audio(path)
    assert wav.dtype == np.float32
    assert abs(len(wav) - 16_000) <= 2
    assert dominant_frequency(wav) == pytest.approx(440, abs=2)
    core = wav[2000:-2000]  # away from the resampler's edge transients
    assert np.sqrt(np.mean(core ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_stereo_is_mixed_to_mono(tmp_path):
    left = tone(16_000, amp=0.8)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16_000)
    wav = audio.load_audio(path)
    assert wav.ndim == 1
    np.testing.assert_allclose(wav, left / 2, atol=1e-4)


def test_24_bit_samples_keep_their_precision(tmp_path):
    x = tone(16_000, amp=0.9) + np.float32(3e-6)  # below 16-bit resolution
    path = tmp_path / "deep.wav"
    sf.write(path, x, 16_000, subtype="PCM_24")
    assert sf.info(path).subtype == "PCM_24"
    np.testing.assert_allclose(audio.load_audio(path), x, atol=2 ** -22)


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(200)))
    with pytest.raises(AudioError, match="broken.wav: cannot read"):
        audio.load_audio(bad)
    with pytest.raises(AudioError, match="nope.flac: no such file"):
        audio.load_audio(tmp_path / "nope.flac")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="no audio samples"):
        audio.load_audio(empty)


def test_m4a_needs_ffmpeg_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "voice.m4a"
    path.write_bytes(b"\x00" * 64)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="need ffmpeg"):
        audio.load_audio(path)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_m4a_decodes_through_ffmpeg(tmp_path):
    src = tmp_path / "src.wav"
    sf.write(src, tone(44_100, seconds=1.0, freq=300), 44_100)
    dst = tmp_path / "voice.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-c:a", "aac", str(dst)], check=True)
    wav = audio.load_audio(dst)
    assert abs(len(wav) - 16_000) < 2_000  # aac adds priming samples
    assert dominant_frequency(wav) == pytest.approx(300, abs=3)


def test_volume_normalisation_is_increase_only_and_safe_on_silence():
    quiet = tone(16_000, amp=0.001)
    louder = audio.normalize_volume(quiet, -30)
    assert 10 * np.log10(np.mean(louder.astype(np.float64) ** 2)) == pytest.approx(-30, abs=0.01)
    loud = tone(16_000, amp=0.9)
    assert audio.normalize_volume(loud, -30) is loud
    silence = np.zeros(16_000, dtype=np.float32)
    out = audio.normalize_volume(silence, -30)
    assert np.all(np.isfinite(out)) and not out.any()


def test_silence_is_refused_with_a_clear_message():
    with pytest.raises(AudioError, match="silent"):
        audio.preprocess_for_encoder(np.zeros(32_000, dtype=np.float32), "mic")


def expected_mask(flags: np.ndarray) -> np.ndarray:
    """The trimming rule restated: a window is speech when >= 5 of flags[i-3 .. i+4] are voiced
    (exactly 4 rounds half-to-even to silence); speech then extends 3 windows to each side."""
    n = len(flags)
    core = np.array([flags[max(0, i - 3):i + 5].sum() >= 5 for i in range(n)])
    return np.array([core[max(0, i - 3):i + 4].any() for i in range(n)])


@pytest.mark.parametrize("pattern", [
    [0] * 20,
    [0] * 10 + [1] * 4 + [0] * 10,  # 4 of 8 voiced: rounds to silence
    [0] * 10 + [1] * 5 + [0] * 10,  # 5 of 8: speech
    [0] * 10 + [1] + [0] * 10,  # a click
    [0] * 5 + [1] * 10 + [0] * 6 + [1] * 10 + [0] * 5,  # short gap: bridged
    [0] * 5 + [1] * 10 + [0] * 16 + [1] * 10 + [0] * 5,  # long gap: cut
    [1] * 12,
])
def test_speech_mask_follows_the_published_rule(pattern):
    flags = np.array(pattern, dtype=bool)
    np.testing.assert_array_equal(audio.speech_mask(flags), expected_mask(flags))


def test_short_gap_kept_long_gap_cut():
    short = np.array([0] * 5 + [1] * 10 + [0] * 3 + [1] * 10 + [0] * 5, dtype=bool)
    long = np.array([0] * 5 + [1] * 10 + [0] * 16 + [1] * 10 + [0] * 5, dtype=bool)
    assert audio.speech_mask(short)[15:18].all()  # a 90 ms pause survives
    assert not audio.speech_mask(long)[20:26].any()  # 480 ms pause is removed


def test_trim_removes_a_long_pause_from_real_speech(librispeech):
    path = sorted((librispeech / "test-other").glob("*/*.flac"))[0]
    speech, _ = sf.read(path, dtype="float32")
    speech = speech[:48_000]
    with_pause = np.concatenate([speech, np.zeros(32_000, np.float32), speech])
    trimmed = audio.trim_long_silences(with_pause)
    assert len(trimmed) < len(with_pause) - 28_000  # the 2 s pause is (almost) gone
    assert len(trimmed) > 2 * 48_000 * 0.6  # the speech stays


def test_vad_clips_instead_of_wrapping():
    # A clipped square wave at +-1.5: wrapping would turn it into noise-like int16 values.
    x = np.tile(np.r_[np.full(40, 1.5), np.full(40, -1.5)], 60).astype(np.float32)
    assert audio.vad_flags(x).shape == (len(x) // 480,)


def test_encoder_mel_shape_and_power_scale():
    wav = tone(16_000, seconds=1.0, freq=1000, amp=0.5)
    mel = audio.encoder_mel(wav)
    assert mel.shape == (1 + 16_000 // 160, 40) and mel.dtype == np.float32
    assert mel.min() >= 0  # power, no log
    centres = librosa.mel_frequencies(42, fmin=0, fmax=8000)[1:-1]  # Slaney band centres
    assert abs(centres[int(np.argmax(mel[50]))] - 1000) < 60


def test_synth_mel_range_and_inverse_round_trip():
    wav = tone(16_000, seconds=1.0, freq=500, amp=0.5) + tone(16_000, seconds=1.0, freq=2000, amp=0.2)
    mel = audio.synth_mel(wav)
    assert mel.shape == (80, 1 + 16_000 // 200)
    assert mel.min() >= -4 and mel.max() <= 4
    mag = audio.synth_mel_to_magnitude(mel)
    assert mag.shape == (401, mel.shape[1])
    # Re-projecting the pseudo-inverse onto the mel basis recovers the mel closely where it has energy.
    again = audio.mel_basis(800, 80, 55.0, 7600.0) @ mag
    db = 20 * np.log10(np.maximum(1e-5, again)) - 20
    back = np.clip(0.08 * db + 4, -4, 4)
    error = np.abs(back[mel > -2] - mel[mel > -2])
    assert np.median(error) < 1e-3 and error.mean() < 0.25  # exact except where pinv goes negative


def test_preemphasis_round_trip():
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    np.testing.assert_allclose(audio.deemphasis(audio.preemphasis(x)), x, atol=1e-4)


def test_enhance_trims_long_pauses_and_normalises_the_peak(librispeech):
    path = sorted((librispeech / "test-other").glob("*/*.flac"))[0]
    speech = sf.read(path, dtype="float32")[0][:48_000] * 0.05
    wav = np.concatenate([speech, np.zeros(32_000, np.float32), speech])
    out = audio.enhance(wav)
    assert len(out) < len(wav) - 28_000  # the 2 s pause is gone
    assert np.max(np.abs(out)) == pytest.approx(0.97, abs=1e-6)
    silence = np.zeros(16_000, np.float32)
    np.testing.assert_array_equal(audio.enhance(silence), silence)  # nothing to trim or scale
