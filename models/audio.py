"""The project's one audio module: loading, resampling, loudness, VAD trimming and every mel front-end.

Nothing else in the project computes an STFT. Two front-ends live here:

* the speaker encoder's 40-band **power** mel (25 ms window, 10 ms hop), and
* the synthesizer/vocoder's 80-band **log** mel in [-4, 4] (50 ms window, 12.5 ms hop, pre-emphasis),
  with its inverse to a linear magnitude spectrogram for Griffin-Lim.

All waveforms are float32 mono at :data:`SAMPLE_RATE` unless stated otherwise.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr
from scipy.ndimage import binary_dilation
from scipy.signal import lfilter

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
FFMPEG_SUFFIXES = (".m4a", ".aac", ".mp4", ".opus", ".webm")
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES + FFMPEG_SUFFIXES


class AudioError(ValueError):
    """Audio that cannot be used, with a message meant for the user."""


# --------------------------------------------------------------------------------------------------
# Loading and resampling


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as float32 mono at `sample_rate`.

    wav, flac, ogg, mp3 (and aiff) go through soundfile; m4a/aac/mp4/opus/webm through ffmpeg when it
    is installed. Any channel count and bit depth; any rate (resampled with soxr, very high quality).

    Returns:
        wav: (L,) float32.
    Raises:
        AudioError: the file is missing, unreadable, empty, or needs ffmpeg that is not installed.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        wav, sr = _load_with_ffmpeg(path, sample_rate)
    else:
        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (L, C)
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            raise AudioError(
                f"{path}: cannot read this audio file ({e}). Supported formats: "
                f"{', '.join(s.lstrip('.') for s in AUDIO_SUFFIXES)}."
            ) from None
        wav = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if wav.size == 0:
        raise AudioError(f"{path}: the file contains no audio samples")
    if not np.all(np.isfinite(wav)):
        raise AudioError(f"{path}: the file contains invalid (NaN or infinite) samples")
    wav = resample(wav, sr, sample_rate)
    log.debug("loaded %s: %.2f s at %d Hz (source %d Hz)", path, len(wav) / sample_rate, sample_rate, sr)
    return wav


def _load_with_ffmpeg(path: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            f"{path}: {path.suffix} files need ffmpeg, which is not installed "
            "(Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg). "
            "Or convert the file to wav or flac first."
        )
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
           "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{path}: ffmpeg could not decode it ({detail[-1] if detail else 'unknown error'})")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy(), sample_rate


def resample(wav: np.ndarray, source_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample (L,) float audio with soxr's very-high-quality filter; a no-op when the rates match."""
    wav = np.asarray(wav, dtype=np.float32)
    if source_sr == target_sr:
        return wav
    if source_sr <= 0:
        raise AudioError(f"invalid sample rate {source_sr}")
    return soxr.resample(wav, source_sr, target_sr, quality="VHQ").astype(np.float32, copy=False)


def to_mono(wav: np.ndarray) -> np.ndarray:
    """(L,) or (L, C) -> (L,) float32 by averaging channels."""
    wav = np.asarray(wav, dtype=np.float32)
    return wav.mean(axis=1, dtype=np.float32) if wav.ndim == 2 else wav


# --------------------------------------------------------------------------------------------------
# Loudness and silence


def normalize_volume(wav: np.ndarray, target_dbfs: float = -30.0, increase_only: bool = True) -> np.ndarray:
    """Scale `wav` to `target_dbfs` mean power; with `increase_only`, never make it quieter.

    Silence (zero power) is returned unchanged instead of the reference's NaN.
    """
    power = float(np.mean(np.square(wav, dtype=np.float64))) if wav.size else 0.0
    if power <= 0.0:
        return wav
    gain_db = target_dbfs - 10.0 * np.log10(power)
    if gain_db < 0 and increase_only:
        return wav
    return (wav * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32, copy=False)


def peak_normalize(wav: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Rescale so that max|wav| == peak (silence is returned unchanged)."""
    m = float(np.max(np.abs(wav))) if wav.size else 0.0
    return wav if m == 0.0 else (wav * np.float32(peak / m)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class VadConfig:
    """webrtcvad trimming parameters of the published encoder."""

    window_ms: int = 30
    mode: int = 3
    moving_average_width: int = 8
    max_silence_windows: int = 6  # dilation element is max_silence_windows + 1 = 7


def vad_flags(wav: np.ndarray, config: VadConfig = VadConfig()) -> np.ndarray:
    """One webrtcvad speech flag per `window_ms` window of 16 kHz `wav` (truncated to whole windows).

    Samples are clipped to [-1, 1] before int16 conversion (the reference wraps around instead).
    Returns: (n_windows,) bool.
    """
    import webrtcvad

    win = config.window_ms * SAMPLE_RATE // 1000
    n = len(wav) // win
    pcm = np.round(np.clip(wav[: n * win], -1.0, 1.0) * 32767).astype("<i2").tobytes()
    vad = webrtcvad.Vad(config.mode)
    step = win * 2
    view = memoryview(pcm)
    return np.fromiter((vad.is_speech(view[i * step:(i + 1) * step], SAMPLE_RATE) for i in range(n)),
                       dtype=bool, count=n)


def speech_mask(flags: np.ndarray, config: VadConfig = VadConfig()) -> np.ndarray:
    """Smooth per-window VAD flags into a keep-mask: moving average (width 8, window i covers
    flags[i-3 .. i+4], zero padded), round half to even, then binary dilation by 7 windows."""
    width = config.moving_average_width
    padded = np.concatenate([np.zeros((width - 1) // 2), flags.astype(np.float64), np.zeros(width // 2)])
    csum = np.cumsum(padded)
    csum[width:] = csum[width:] - csum[:-width]
    averaged = csum[width - 1:] / width
    mask = np.round(averaged).astype(bool)
    if not mask.any():
        return mask
    return binary_dilation(mask, np.ones(config.max_silence_windows + 1))


def trim_long_silences(wav: np.ndarray, config: VadConfig = VadConfig()) -> np.ndarray:
    """Remove silences longer than ~180 ms as the published encoder does (webrtcvad mode 3).

    Returns the kept samples; the result may be empty when no speech is detected.
    """
    win = config.window_ms * SAMPLE_RATE // 1000
    flags = vad_flags(wav, config)
    mask = np.repeat(speech_mask(flags, config), win)
    return wav[: len(mask)][mask]


def preprocess_for_encoder(wav: np.ndarray, source: str = "audio", trim: bool = True) -> np.ndarray:
    """The encoder's preprocessing of 16 kHz audio: -30 dBFS increase-only normalisation, VAD trim.

    Raises:
        AudioError: the audio is silent or no speech is left after trimming.
    """
    if wav.size == 0 or float(np.max(np.abs(wav))) < 1e-4:
        raise AudioError(f"{source}: the audio is silent (peak below -80 dBFS); record or choose speech")
    wav = normalize_volume(wav, -30.0, increase_only=True)
    if trim:
        trimmed = trim_long_silences(wav)
        if trimmed.size == 0:
            raise AudioError(f"{source}: no speech detected ({len(wav) / SAMPLE_RATE:.2f} s of audio); "
                             "use a clip with clearly audible speech")
        wav = trimmed
    return wav


def enhance(wav: np.ndarray, peak: float = 0.97) -> np.ndarray:
    """Tidy generated speech as the reference toolbox's "Enhance vocoder output" does: -30 dBFS
    increase-only normalisation and removal of long silences (webrtcvad), then peak normalisation.
    Audio in which no speech is detected is only peak-normalised."""
    if wav.size == 0:
        return wav
    trimmed = trim_long_silences(normalize_volume(wav, -30.0, increase_only=True))
    return peak_normalize(trimmed if trimmed.size else wav, peak)


# --------------------------------------------------------------------------------------------------
# STFT and mel front-ends


def stft(wav: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """Centered Hann STFT with zero padding. Returns (1 + n_fft // 2, 1 + L // hop) complex64."""
    return librosa.stft(y=wav, n_fft=n_fft, hop_length=hop, win_length=win, window="hann",
                        center=True, pad_mode="constant")


def istft(spec: np.ndarray, hop: int, win: int, length: int | None = None) -> np.ndarray:
    """Inverse of :func:`stft`. spec: (F, T) complex. Returns (L,) float32."""
    return librosa.istft(spec, hop_length=hop, win_length=win, window="hann", center=True,
                         length=length).astype(np.float32, copy=False)


@functools.lru_cache(maxsize=8)
def mel_basis(n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-scale, Slaney-normalised mel filterbank (n_mels, 1 + n_fft // 2), float32 (read-only)."""
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    basis = basis.astype(np.float32)
    basis.setflags(write=False)
    return basis


@functools.lru_cache(maxsize=8)
def _mel_pinv(n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    inv = np.linalg.pinv(mel_basis(n_fft, n_mels, fmin, fmax)).astype(np.float32)
    inv.setflags(write=False)
    return inv


# Speaker encoder front-end ------------------------------------------------------------------------
ENCODER_N_FFT = 400  # 25 ms
ENCODER_HOP = 160  # 10 ms
ENCODER_N_MELS = 40


def encoder_mel(wav: np.ndarray) -> np.ndarray:
    """40-band power mel of 16 kHz audio, as the speaker encoder expects (no log, no normalisation).

    Returns: (T, 40) float32 with T = 1 + L // 160.
    """
    spec = np.abs(stft(wav, ENCODER_N_FFT, ENCODER_HOP, ENCODER_N_FFT)) ** 2  # (201, T)
    mel = mel_basis(ENCODER_N_FFT, ENCODER_N_MELS, 0.0, SAMPLE_RATE / 2) @ spec  # (40, T)
    return np.ascontiguousarray(mel.T, dtype=np.float32)


# Synthesizer / vocoder front-end ------------------------------------------------------------------
@dataclass(frozen=True)
class SynthMelConfig:
    """The published synthesizer's mel parameters (shared with the vocoder)."""

    n_fft: int = 800
    hop: int = 200  # 12.5 ms
    win: int = 800  # 50 ms
    n_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    max_abs_value: float = 4.0


SYNTH_MEL = SynthMelConfig()
HOP_LENGTH = SYNTH_MEL.hop


def preemphasis(wav: np.ndarray, k: float = SYNTH_MEL.preemphasis) -> np.ndarray:
    """y[n] = x[n] - k x[n-1]."""
    return lfilter([1.0, -k], [1.0], wav).astype(np.float32)


def deemphasis(wav: np.ndarray, k: float = SYNTH_MEL.preemphasis) -> np.ndarray:
    """Inverse of :func:`preemphasis`: y[n] = x[n] + k y[n-1]."""
    return lfilter([1.0], [1.0, -k], wav).astype(np.float32)


def synth_mel(wav: np.ndarray, c: SynthMelConfig = SYNTH_MEL) -> np.ndarray:
    """80-band log-mel of 16 kHz audio on the synthesizer's scale.

    Returns: (80, T) float32 in [-4, 4], T = 1 + L // 200.
    """
    spec = np.abs(stft(preemphasis(wav, c.preemphasis), c.n_fft, c.hop, c.win))  # (401, T) magnitude
    mel = mel_basis(c.n_fft, c.n_mels, c.fmin, c.fmax) @ spec
    db = 20.0 * np.log10(np.maximum(1e-5, mel)) - c.ref_level_db
    scaled = 2 * c.max_abs_value * (db - c.min_level_db) / (-c.min_level_db) - c.max_abs_value
    return np.clip(scaled, -c.max_abs_value, c.max_abs_value).astype(np.float32)


def synth_mel_to_magnitude(mel: np.ndarray, c: SynthMelConfig = SYNTH_MEL) -> np.ndarray:
    """Invert :func:`synth_mel` to a linear magnitude spectrogram (pseudo-inverse of the mel basis).

    mel: (80, T) in [-4, 4]. Returns: (401, T) float32 magnitudes (of the pre-emphasised signal).
    """
    m = np.clip(mel, -c.max_abs_value, c.max_abs_value)
    db = (m + c.max_abs_value) * (-c.min_level_db) / (2 * c.max_abs_value) + c.min_level_db
    amp = np.power(10.0, (db + c.ref_level_db) / 20.0, dtype=np.float32)
    return np.maximum(1e-10, _mel_pinv(c.n_fft, c.n_mels, c.fmin, c.fmax) @ amp).astype(np.float32)


def frames_to_samples(n_frames: int, hop: int = HOP_LENGTH) -> int:
    """Number of waveform samples a vocoder produces for a mel of `n_frames` frames: (T - 1) * hop."""
    return max(0, n_frames - 1) * hop
