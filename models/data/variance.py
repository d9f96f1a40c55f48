"""Pitch and energy of every phone of the phone data (`sv2tts preprocess variance`), the targets of
models.synthesizer.phone_variance.

For each item of `sv2tts preprocess phones` whose recording is found (<id>.wav / .flac under the
audio roots), two arrays are added to items/<id>.npz:

    pitch   (N,) float32  mean log-F0 (log Hz) of the phone's voiced frames, NaN when none is voiced
    energy  (N,) float32  mean level of the phone's mel frames (mean over the 80 bands, [-4, 4] scale)

F0 comes from Praat's autocorrelation tracker (parselmouth, the `eval` extra) sampled at the mel's
frame times, in two passes per utterance like models.pitch (the second within 0.75 x Q1 .. 1.5 x Q3 of
the first) to avoid octave jumps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from models import audio
from models.data.gta import find_audio
from models.data.phone_data import FRAMES_PER_SECOND, read_phone_data
from models.pitch import CEILING_HZ, FLOOR_HZ, MIN_VOICED_FRAMES, PitchUnavailable

log = logging.getLogger(__name__)


def frame_f0(wav: np.ndarray, n_frames: int, floor: float = FLOOR_HZ, ceiling: float = CEILING_HZ
             ) -> np.ndarray:
    """(n_frames,) F0 in Hz at the mel frame centres (frame i at i / 80 s), 0 where unvoiced."""
    try:
        import parselmouth
    except ImportError:
        raise PitchUnavailable(
            "pitch needs praat-parselmouth: pip install -c constraints.txt -e '.[eval]'") from None
    out = np.zeros(n_frames)
    if len(wav) < 3 * audio.SAMPLE_RATE / floor:
        return out
    sound = parselmouth.Sound(np.asarray(wav, dtype=np.float64), sampling_frequency=audio.SAMPLE_RATE)
    pitch = sound.to_pitch_ac(time_step=1.0 / FRAMES_PER_SECOND, pitch_floor=floor, pitch_ceiling=ceiling)
    f0 = pitch.selected_array["frequency"]
    index = np.round(np.asarray(pitch.xs()) * FRAMES_PER_SECOND).astype(np.int64)
    keep = (index >= 0) & (index < n_frames)
    out[index[keep]] = f0[keep]
    return out


def two_pass_f0(wav: np.ndarray, n_frames: int) -> np.ndarray:
    """frame_f0 over 75-600 Hz, then again within the range the first pass found."""
    first = frame_f0(wav, n_frames)
    voiced = first[first > 0]
    if len(voiced) < MIN_VOICED_FRAMES:
        return first
    q1, q3 = np.percentile(voiced, [25, 75])
    floor, ceiling = max(FLOOR_HZ, 0.75 * q1), min(CEILING_HZ, 1.5 * q3)
    return frame_f0(wav, n_frames, floor, ceiling) if ceiling > floor * 1.5 else first


def phone_variance(f0: np.ndarray, mel: np.ndarray, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-phone (mean log-F0 of voiced frames or NaN, mean mel level) from frame F0 (T,) Hz, mel
    (80, T) and durations (N,) summing to T."""
    ends = np.cumsum(durations)
    starts = ends - durations
    level = mel.astype(np.float64).mean(axis=0)
    pitch = np.full(len(durations), np.nan, np.float32)
    energy = np.zeros(len(durations), np.float32)
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        span = f0[a:b]
        span = span[span > 0]
        if len(span):
            pitch[i] = np.log(span).mean()
        energy[i] = level[a:b].mean() if b > a else level[min(a, len(level) - 1)]
    return pitch, energy


def has_variance(path: Path) -> bool:
    """Whether an item's .npz already holds pitch and energy (read from the archive's index only)."""
    with np.load(path) as z:
        return "pitch" in z.files


def add_variance(phone_data: Path, audio_roots: Iterable[Path],
                 progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Add pitch and energy to every item of `phone_data` that lacks them. Returns counts of items
    done, skipped (done before) and missing (no recording found)."""
    items = read_phone_data(phone_data)
    found = find_audio(audio_roots)
    counts = {"done": 0, "skipped": 0, "missing": 0}
    for n, item in enumerate(items, 1):
        if has_variance(item.path):
            counts["skipped"] += 1
        elif item.id not in found:
            counts["missing"] += 1
            log.warning("%s: no recording under the audio roots; no pitch", item.id)
        else:
            with np.load(item.path) as z:
                arrays = dict(z)
            mel = arrays["mel"].astype(np.float32)
            f0 = two_pass_f0(audio.load_audio(found[item.id]), mel.shape[1])
            arrays["pitch"], arrays["energy"] = phone_variance(f0, mel, arrays["durations"])
            tmp = item.path.with_name(item.path.stem + ".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(item.path)
            counts["done"] += 1
        if progress is not None:
            progress(n, len(items))
    log.info("variance %s: %s", phone_data, counts)
    return counts
