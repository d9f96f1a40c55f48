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
