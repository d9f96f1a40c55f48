"""Median pitch of speech and pitch differences in semitones, for evaluation (the `eval` extra).

The tracker is Praat's autocorrelation method (Boersma 1993) through parselmouth, in two passes
(Hirst & De Looze): a first pass over 75-600 Hz, then a second one between 0.75 x the first quartile
and 1.5 x the third quartile of the first, which removes most octave jumps. The floor of 75 Hz keeps
50/60 Hz mains hum (present in some LibriSpeech test-other readers) out of the range. Measured on
34 test-other utterances: median difference 0.4 semitone to librosa.pyin (75-600 Hz) at ~0.1 s per
clip instead of ~1.6 s; where the two differ by more than a semitone (11 clips), librosa.yin is
closer to this tracker than to pyin in all but one.
"""

from __future__ import annotations

import logging

import numpy as np

from models.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

FLOOR_HZ = 75.0
CEILING_HZ = 600.0
TIME_STEP = 0.01  # seconds between pitch frames
MIN_VOICED_FRAMES = 10  # fewer voiced frames (0.1 s) than this: no pitch (NaN)


class PitchUnavailable(RuntimeError):
    """The pitch tracker (parselmouth) is not installed."""


def voiced_f0(wav: np.ndarray, floor: float = FLOOR_HZ, ceiling: float = CEILING_HZ,
              sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """F0 in Hz of the voiced 10 ms frames of `wav` (L,) float audio; unvoiced frames are left out."""
    try:
        import parselmouth
    except ImportError:
        raise PitchUnavailable(
            "pitch needs praat-parselmouth: pip install -c constraints.txt -e '.[eval]'") from None
    wav = np.asarray(wav, dtype=np.float64)
    if wav.ndim != 1:
        raise ValueError(f"expected mono audio (L,), got shape {wav.shape}")
    if len(wav) < 3 * sample_rate / floor:  # Praat needs three periods of the floor in one window
        return np.zeros(0)
    sound = parselmouth.Sound(wav, sampling_frequency=sample_rate)
    f0 = sound.to_pitch_ac(time_step=TIME_STEP, pitch_floor=floor, pitch_ceiling=ceiling)
    f0 = f0.selected_array["frequency"]
    return f0[f0 > 0]


def median_f0(wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Median F0 (Hz) of the voiced frames of `wav` (L,), two-pass; NaN when fewer than 10 are voiced."""
    first = voiced_f0(wav, sample_rate=sample_rate)
    if len(first) < MIN_VOICED_FRAMES:
        return float("nan")
    q1, q3 = np.percentile(first, [25, 75])
    floor, ceiling = max(FLOOR_HZ, 0.75 * q1), min(CEILING_HZ, 1.5 * q3)
    second = voiced_f0(wav, floor, ceiling, sample_rate) if ceiling > floor * 1.5 else first
    if len(second) < MIN_VOICED_FRAMES:
        second = first
    return float(np.median(second))


def semitones(f0: float, reference_f0: float) -> float:
    """Signed pitch difference of f0 from reference_f0 in semitones (12 per octave); NaN if either is."""
    if not (f0 > 0 and reference_f0 > 0):
        return float("nan")
    return float(12.0 * np.log2(f0 / reference_f0))
