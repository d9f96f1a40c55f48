"""Voice match: pull a synthesized mel toward the reference recording's own frames.

The demo synthesizer knows a voice only through its 256-d embedding, and voices unlike its few hundred
training voices drift toward the nearest one it knows. The reference recording itself holds more of the
voice. For every frame the synthesizer made, the `k` frames of the reference with the most similar
spectral shape, among those aligned to the same phone, are averaged (moved to the synthesized frame's
loudness) and blended in with weight `strength`. This is k-nearest-neighbour voice conversion (as in
kNN-VC, Baas et al. 2023) done on the mel itself, with the phone labels the synthesizer already has for
its own frames and pocketsphinx's alignment for the reference's. A frame whose phone the reference
holds fewer than `k` frames of is left alone: frames of another phone cost clarity (measured:
with 2.6 s references, falling back to the nearest frames of any phone cost 24 % more word errors;
leaving those frames alone cost none). A reference that could not be aligned changes nothing.

Off by default (`DEFAULT_STRENGTH` 0; 0.3 is the suggested setting). On 14 held-out training readers x
12 sentences (1,876 words) 0.3 raised similarity by 0.014 for 4 more word errors, but on the evaluation
readers (LibriSpeech test-other, noisier recordings) by only 0.005 for 43 % more word errors
(pretrained/MODEL_CARD.md, "Voice match").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from models.audio import synth_mel

log = logging.getLogger(__name__)

DEFAULT_STRENGTH = 0.0  # off: see the module doc
SUGGESTED_STRENGTH = 0.3
SILENT_LEVEL = -3.5  # a frame whose mean log-mel is below this is silence: never matched, never used
MAX_FRAMES = 4_800  # at most 60 s of the reference's voiced frames are searched
FRAMES_PER_SECOND = 80.0  # the synthesizer's mel: 16 kHz, hop 200
NO_PHONE = -1


@dataclass(frozen=True)
class ReferenceFrames:
    """The reference's speech frames: `mel` (80, F) log-mel in [-4, 4] (the synthesizer's front-end),
    `phones` (F,) int64 phone ID per frame (models.text.phones.PHONES), NO_PHONE where unknown."""

    mel: np.ndarray
    phones: np.ndarray

    @property
    def labelled(self) -> bool:
        return bool((self.phones != NO_PHONE).any())


def reference_frames(wav: np.ndarray, align: bool = True) -> ReferenceFrames:
    """wav: (L,) float32 16 kHz -> its speech frames, labelled with pocketsphinx's phone alignment
    when `align` and pocketsphinx can (else unlabelled: matching then changes nothing).

    Raises ValueError when the recording holds no speech frames."""
    mel = synth_mel(np.asarray(wav, dtype=np.float32))  # (80, T)
    phones = np.full(mel.shape[1], NO_PHONE, dtype=np.int64)
    if align:
        phones = _aligned_phones(wav, mel.shape[1])
    voiced = mel.mean(axis=0) > SILENT_LEVEL
    if not voiced.any():
        raise ValueError("the reference has no speech frames to match the voice to")
    keep = np.flatnonzero(voiced)[:MAX_FRAMES]
    return ReferenceFrames(np.ascontiguousarray(mel[:, keep]), phones[keep])


def _aligned_phones(wav: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_frames,) phone IDs from pocketsphinx (recognise, then align), NO_PHONE where it can't."""
    from models.asr import RecognizerUnavailable
    from models.data.align import Aligner
    from models.text.phones import to_frames

    out = np.full(n_frames, NO_PHONE, dtype=np.int64)
    try:
        _, timings = Aligner().align(wav)
    except (RecognizerUnavailable, ValueError) as e:
        log.warning("no voice match: the reference could not be aligned (%s)", e)
        return out
    ids, durations = to_frames(timings, FRAMES_PER_SECOND, n_frames=n_frames)
    labels = np.repeat(ids, durations)[:n_frames]
    out[:len(labels)] = labels
    return out


def _shapes(frames: np.ndarray) -> np.ndarray:
    """(N, 80) frames -> unit vectors of their spectral shape (each frame's mean level removed)."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    return centred / (np.linalg.norm(centred, axis=1, keepdims=True) + 1e-6)


def match_voice(mel: np.ndarray, phones: np.ndarray, reference: ReferenceFrames, strength: float = SUGGESTED_STRENGTH,
                k: int = 4) -> np.ndarray:
    """mel: (80, T) synthesized log-mel; phones: (T,) phone ID of each frame -> (80, T) float32 mel with
    each speech frame moved `strength` (0..1) of the way to the mean of its `k` nearest reference frames
    of the same phone (frames of a phone with fewer than `k` reference frames stay as they are)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"voice match strength must be within 0..1, got {strength}")
    if mel.shape[1] != len(phones):
        raise ValueError(f"{mel.shape[1]} mel frames but {len(phones)} phone labels")
    if strength == 0.0 or mel.shape[1] == 0:
        return mel
    query = mel.T.astype(np.float32)  # (T, 80)
    ref = reference.mel.T.astype(np.float32)  # (F, 80)
    same = (phones[:, None] == reference.phones[None, :]) & (phones[:, None] != NO_PHONE)  # (T, F)
    moved = (same.sum(axis=1) >= k) & (query.mean(axis=1) > SILENT_LEVEL)  # (T,)
    out = query.copy()
    if not moved.any():
        return np.ascontiguousarray(out.T)
    query, same = query[moved], same[moved]
    score = np.where(same, _shapes(query) @ _shapes(ref).T, -np.inf)  # (M, F) cosine of spectral shapes
    nearest = np.argpartition(-score, k - 1, axis=1)[:, :k]  # (M, k), all of the same phone
    target = ref[nearest].mean(axis=1)  # (M, 80)
    target += query.mean(axis=1, keepdims=True) - target.mean(axis=1, keepdims=True)  # keep the loudness
    out[moved] = np.clip((1.0 - strength) * query + strength * target, -4.0, 4.0)
    return np.ascontiguousarray(out.T)


__all__ = ["DEFAULT_STRENGTH", "SUGGESTED_STRENGTH", "ReferenceFrames", "match_voice", "reference_frames"]
