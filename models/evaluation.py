"""Evaluation metrics (kept out of the models): speaker-verification equal error rate."""

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
