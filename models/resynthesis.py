"""Resynthesis evaluation: the vocoder's ceiling, without a synthesizer.

Each reference is prepared as the synthesizer's training data is (peak 0.9, long silences removed,
`models.audio.synth_mel`); every vocoder turns that real mel back into audio, which is compared with
the prepared original: speaker similarity (cosine of the encoder's embeddings), predicted MOS
(DNSMOS) of both, and the difference of their median pitch in semitones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import audio
from models.evaluation import pitch_summary
from models.naturalness import Dnsmos, MosScores, mean_scores
from models.pitch import median_f0, semitones
from models.vocoding import Vocoder

log = logging.getLogger(__name__)

PEAK = 0.9  # the synthesizer's training data is peak-normalised to this (models.data.writers.SYNTH_PEAK)
MIN_SECONDS = 0.5


@dataclass(frozen=True)
class Reference:
    """A prepared reference: wav (L,) float32 16 kHz with L = (T - 1) * 200, mel (80, T) in [-4, 4]."""

    path: Path
    voice: str
    wav: np.ndarray
    mel: np.ndarray


def prepare_reference(path: Path, voice: str | None = None) -> Reference:
    """Load, peak-normalise and VAD-trim `path` as synthesizer preprocessing does; its real mel.

    Raises AudioError for unusable audio (unreadable, silent, shorter than 0.5 s of speech).
    """
    wav = audio.peak_normalize(audio.load_audio(path), PEAK)
    trimmed = audio.trim_long_silences(wav)
    if len(trimmed) < MIN_SECONDS * audio.SAMPLE_RATE:
        raise audio.AudioError(f"{path}: less than {MIN_SECONDS} s of speech after trimming silences")
    mel = audio.synth_mel(trimmed)  # (80, T)
    wav = trimmed[: audio.frames_to_samples(mel.shape[1])]
    return Reference(Path(path), voice or Path(path).parent.name, wav, mel)


def evaluate(references: Sequence[Reference], vocoders: dict[str, Vocoder], encoder,
             mos: Dnsmos | None = None, pitch: bool = True, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> dict:
    """Vocode every reference's mel with every vocoder and compare with the original.

    encoder: has `embed_utterances(wavs) -> (N, 256)` unit-norm embeddings (the published encoder).
    Returns a JSON-ready report: "originals" (per clip: seconds, median F0, MOS) and one entry of
    "runs" per vocoder (similarity to the original, MOS of the resynthesis and its change from the
    original, pitch differences, vocoding real-time factor, and per clip values).
    """
    voices = [r.voice for r in references]
    original_embeds = encoder.embed_utterances([r.wav for r in references])  # (N, 256)
    original_f0 = np.full(len(references), np.nan) if pitch else None
    original_mos, originals = [], []
    for i, r in enumerate(references):
        if progress is not None:
            progress(f"originals: {i + 1}/{len(references)} {r.path.name}")
        item: dict = {"file": str(r.path), "voice": r.voice, "seconds": round(len(r.wav) / audio.SAMPLE_RATE, 2)}
        if original_f0 is not None:
            original_f0[i] = median_f0(r.wav)
            item["f0"] = _hz(original_f0[i])
        if mos is not None:
            original_mos.append(mos.score(r.wav))
            item["mos"] = original_mos[-1].rounded()
        originals.append(item)
    report: dict = {"mode": "resynthesis", "utterances": len(references), "voices": len(set(voices)),
                    "original": {"mos": mean_scores(original_mos),
                                 "other_voice_similarity_mean": _other_voice_mean(original_embeds, original_embeds,
                                                                                  voices)},
                    "runs": [], "originals": originals}
    for label, vocoder in vocoders.items():
        wavs, seconds = [], 0.0
        for i, r in enumerate(references):
            if progress is not None:
                progress(f"{label}: {i + 1}/{len(references)} {r.path.name}")
            start = time.perf_counter()
            wavs.append(np.asarray(vocoder.vocode(r.mel, seed=seed + i), dtype=np.float32))
            seconds += time.perf_counter() - start
        report["runs"].append(_run(label, references, wavs, seconds, encoder, original_embeds, original_f0,
                                   original_mos, mos))
    return report


def _run(label: str, references: Sequence[Reference], wavs: list[np.ndarray], seconds: float, encoder,
         original_embeds: np.ndarray, original_f0: np.ndarray | None, original_mos: list[MosScores],
         mos: Dnsmos | None) -> dict:
    voices = [r.voice for r in references]
    embeds = encoder.embed_utterances(wavs)  # (N, 256)
    sims = np.sum(embeds * original_embeds, axis=1)  # (N,) cosine to the own original
    audio_seconds = sum(len(w) for w in wavs) / audio.SAMPLE_RATE
    run: dict = {"vocoder": label, "similarity_mean": round(float(sims.mean()), 4),
                 "similarity_min": round(float(sims.min()), 4),
                 # Voices pulled together: resynthesis vs the originals of other voices, and among themselves
                 # (compare with the originals' own "other_voice_similarity_mean").
                 "other_voice_similarity_to_originals": _other_voice_mean(embeds, original_embeds, voices),
                 "other_voice_similarity_among_resynth": _other_voice_mean(embeds, embeds, voices),
                 "real_time_factor": round(seconds / max(audio_seconds, 1e-9), 4)}
    items = [{"file": str(r.path), "voice": r.voice, "similarity": round(float(s), 4)}
             for r, s in zip(references, sims, strict=True)]
    if mos is not None:
        scores = [mos.score(w) for w in wavs]
        run["mos"], before = mean_scores(scores), mean_scores(original_mos)
        run["mos_change"] = {k: round(v - before[k], 3) for k, v in run["mos"].items()}
        for item, s in zip(items, scores, strict=True):
            item["mos"] = s.rounded()
    if original_f0 is not None:
        errors = np.array([semitones(median_f0(w), f) for w, f in zip(wavs, original_f0, strict=True)])
        run["pitch_error_semitones"] = pitch_summary(errors, voices)
        for item, e in zip(items, errors, strict=True):
            item["pitch_error"] = None if not np.isfinite(e) else round(float(e), 3)
    run["items"] = items
    return run


def _other_voice_mean(embeds: np.ndarray, original_embeds: np.ndarray, voices: list[str]) -> float | None:
    """Mean cosine between clips and the originals of *other* voices (how much voices are pulled together)."""
    names = np.asarray(voices)
    other = names[:, None] != names[None, :]
    return round(float((embeds @ original_embeds.T)[other].mean()), 4) if other.any() else None


def _hz(f0: float) -> float | None:
    return round(float(f0), 1) if np.isfinite(f0) else None
