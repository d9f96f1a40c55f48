"""What every vocoder offers (Griffin-Lim, WaveRNN), so the pipeline, CLI and GUI accept any of them.

A mel is the synthesizer's output: (80, T) float32 log-mel in [-4, 4], hop 200 at 16 kHz. A vocoder
turns it into (T - 1) * 200 float32 samples at `sample_rate`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

Progress = Callable[[float, str], None]
"""Progress callback: (fraction done in 0..1, short message)."""


class Cancelled(Exception):
    """Raised by long operations when their `cancel` event was set."""


def check_mel(mel: np.ndarray, n_mels: int) -> np.ndarray:
    """A vocoder's input checked: (n_mels, T) finite values, returned as contiguous float32."""
    mel = np.ascontiguousarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[0] != n_mels:
        raise ValueError(f"mel must be ({n_mels}, T) float32, got shape {mel.shape}")
    if not np.all(np.isfinite(mel)):
        raise ValueError("mel contains NaN or infinite values")
    return mel


ACTIVE_FLOOR = -3.5  # frames whose mean over the bands is above this are sound, not silence


def enhance_contrast(mel: np.ndarray, factor: float) -> np.ndarray:
    """Spread each band of a log-mel (80, T) around its mean over the sounding frames by `factor`
    (a global-variance post-filter: sharper formants and onsets), clipped to [-4, 4]; silent frames
    are left alone. A new array; `mel` is not changed."""
    out = np.array(mel, dtype=np.float32, copy=True)
    active = out.mean(axis=0) > ACTIVE_FLOOR
    if factor == 1.0 or active.sum() < 2:
        return out
    mean = out[:, active].mean(axis=1, keepdims=True)
    out[:, active] = np.clip(mean + factor * (out[:, active] - mean), -4.0, 4.0)
    return out


def synthesized_input(mel: np.ndarray, vocoder: object) -> np.ndarray:
    """A synthesizer's mel as `vocoder` wants it. A vocoder trained on real mels renders a synthesizer's
    smoother mels less clearly than Griffin-Lim does unless their contrast is raised first; such a
    vocoder says by how much (`synthesized_mel_contrast`, stored with its weights). Only mels that a
    synthesizer made go through here, never real ones."""
    factor = float(getattr(vocoder, "synthesized_mel_contrast", 1.0))
    return mel if factor == 1.0 else enhance_contrast(mel, factor)


def check_cancel(cancel: threading.Event | None, what: str = "operation") -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled")


@runtime_checkable
class Vocoder(Protocol):
    """mel (80, T) in [-4, 4] -> waveform (L,) float32 at `sample_rate`, L = (T - 1) * 200."""

    sample_rate: int

    def vocode(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> np.ndarray:
        """The whole waveform at once. Raises Cancelled when `cancel` is set."""
        ...

    def stream(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """The same waveform as consecutive chunks in time order (concatenated: == vocode)."""
        ...
