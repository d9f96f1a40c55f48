"""Evaluation metrics (kept out of the models): speaker-verification equal error rate, word error
rate, and summaries of pitch differences."""

from __future__ import annotations

import numpy as np


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """EER of a verification score list: the rate at which false accepts equal false rejects.

    scores: (P,) similarity per trial (higher = same speaker). labels: (P,) bool, True = same speaker.
    The ROC is swept over every distinct score; the EER is interpolated linearly between the two
    thresholds where FAR - FRR changes sign.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("EER needs both same-speaker and different-speaker trials")
    order = np.argsort(-scores, kind="stable")
    sorted_labels = labels[order]
    # Accepting the k highest scores (k = 0..P): false accepts and false rejects.
    fa = np.concatenate([[0], np.cumsum(~sorted_labels)]) / n_neg
    fr = 1.0 - np.concatenate([[0], np.cumsum(sorted_labels)]) / n_pos
    diff = fa - fr  # increases from -1 to +1
    k = int(np.argmax(diff >= 0))
    if k == 0:
        return float(fa[0])
    d0, d1 = diff[k - 1], diff[k]
    t = 0.0 if d1 == d0 else -d0 / (d1 - d0)
    return float(fa[k - 1] + t * (fa[k] - fa[k - 1]))


def pairwise_trials(embeddings: np.ndarray, speakers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs i < j: cosine scores of unit-norm (N, D) embeddings and same-speaker labels."""
    sims = embeddings @ embeddings.T
    iu = np.triu_indices(len(speakers), k=1)
    spk = np.asarray(speakers)
    return sims[iu], spk[iu[0]] == spk[iu[1]]


def centre_crop(wav: np.ndarray, n: int) -> np.ndarray:
    """The middle `n` samples of `wav` (all of it when it is not longer)."""
    start = max(0, (len(wav) - n) // 2)
    return wav[start:start + n]


def words(text: str) -> list[str]:
    """Text -> the words a recognizer would output: cleaned (numbers spelled out), lower case,
    punctuation removed except in-word apostrophes."""
    import re

    from models.text import english_cleaners

    cleaned = english_cleaners(text).replace("-", " ")
    return re.findall(r"[a-z]+(?:'[a-z]+)*", cleaned)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after `words` normalisation."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def pitch_summary(errors: np.ndarray, voices: list[str]) -> dict:
    """Aggregate signed pitch differences (semitones, NaN = no pitch found) per voice and overall.

    errors: (N,) clip-minus-reference differences; voices: (N,) voice of each clip. Returns
    {"median_abs", "mean_abs", "unmeasured", "by_voice": {voice: {"median_abs", "median"}}}; the
    signed per-voice median shows a voice made consistently higher (> 0) or lower.
    """
    errors = np.asarray(errors, dtype=np.float64)
    ok = np.isfinite(errors)
    summary: dict = {"median_abs": None, "mean_abs": None, "unmeasured": int((~ok).sum()), "by_voice": {}}
    if ok.any():
        summary["median_abs"] = round(float(np.median(np.abs(errors[ok]))), 3)
        summary["mean_abs"] = round(float(np.mean(np.abs(errors[ok]))), 3)
    names = np.asarray(voices)
    for voice in dict.fromkeys(voices):
        e = errors[(names == voice) & ok]
        if e.size:
            summary["by_voice"][voice] = {"median_abs": round(float(np.median(np.abs(e))), 3),
                                          "median": round(float(np.median(e)), 3)}
    return summary
