"""Finite checks at the model boundaries: an embedding, a mel or audio with NaN or infinite values
(or an all-zero embedding, or audio 50 times beyond full scale) means a damaged model file; it is
reported naming the file, never passed on as silent garbage (256 NaNs written as an "embedding", a NaN
mel turned into noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.checkpoint import CheckpointError

# Audio from any vocoder here stays near +-1 (WaveRNN is bounded by 1, Griffin-Lim by its mel's range, the
# iSTFT vocoder's magnitude is capped); a peak this far beyond full scale is damaged weights, not sound.
MAX_AUDIO = 50.0


class NonFiniteError(CheckpointError):
    """A model produced NaN/inf values (or a zero embedding): its weights are most likely damaged."""


def check_finite(x: np.ndarray, what: str, model: str | Path | None, source: str | None = None) -> np.ndarray:
    """Return `x` unchanged when every value is finite, else raise NonFiniteError.

    what: "embedding", "mel" or "audio"; model: the weights file (or a description) that produced it;
    source: the input it was computed from (a file name), when known.
    """
    x = np.asarray(x)
    of = f" for {source}" if source else ""
    if np.all(np.isfinite(x)):
        if what == "audio" and x.size and float(np.abs(x).max()) > MAX_AUDIO:
            raise NonFiniteError(
                f"{model or 'the model'}: produced audio peaking at {float(np.abs(x).max()):.3g}{of} (sound is "
                f"within +-1; every vocoder here stays below {MAX_AUDIO:g}); the model file is damaged (run "
                "`sv2tts models verify --rehash`, or use another file)")
        return x
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    raise NonFiniteError(
        f"{model or 'the model'}: produced {bad:,} NaN or infinite values in the {what}{of}; the model "
        "file is damaged (run `sv2tts models verify --rehash`, or use another file)")


def check_embedding(e: np.ndarray, model: str | Path | None, source: str | None = None) -> np.ndarray:
    """Finite and not all-zero speaker embedding(s): (256,) or (N, 256)."""
    check_finite(e, "speaker embedding", model, source)
    norms = np.linalg.norm(np.atleast_2d(e), axis=-1)
    if np.any(norms < 1e-6):
        of = f" for {source}" if source else ""
        raise NonFiniteError(f"{model or 'the model'}: produced an all-zero speaker embedding{of}; the "
                             "model file is damaged (run `sv2tts models verify --rehash`, or use another file)")
    return e
