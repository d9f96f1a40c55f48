"""Griffin-Lim vocoder for the synthesizer's mels: no weights, works offline, lower quality than WaveRNN.

Inverse of :func:`models.audio.synth_mel`: mel -> linear magnitude (pseudo-inverse of the mel basis),
raised to the power 1.5 as in the reference, phase by *fast* Griffin-Lim (Perraudin et al. 2013,
momentum 0.99) which converges in about 30 iterations where plain Griffin-Lim needs 60+, then
de-emphasis. All STFTs come from models.audio.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import numpy as np

from models.audio import (
    SAMPLE_RATE,
    SYNTH_MEL,
    deemphasis,
    frames_to_samples,
    istft,
    stft,
    synth_mel_to_magnitude,
)
from models.vocoding import Progress, check_cancel

log = logging.getLogger(__name__)


class GriffinLim:
    """A `models.vocoding.Vocoder`: mel (80, T) in [-4, 4] -> (T - 1) * 200 samples at 16 kHz."""

    sample_rate = SAMPLE_RATE

    def __init__(self, n_iter: int = 30, momentum: float = 0.99, power: float = 1.5,
                 stream_chunk: int = 4000) -> None:
        if n_iter < 1 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"need n_iter >= 1 and 0 <= momentum < 1 (got {n_iter}, {momentum})")
        self.n_iter = n_iter
        self.momentum = momentum
        self.power = power
        self.stream_chunk = stream_chunk

    def vocode(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> np.ndarray:
        """mel: (80, T) log-mel in [-4, 4]. Returns (L,) float32, L = (T - 1) * 200.

        seed fixes the random initial phase (same seed, same samples). Raises Cancelled.
        """
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != SYNTH_MEL.n_mels:
            raise ValueError(f"mel must be ({SYNTH_MEL.n_mels}, T), got {mel.shape}")
        n_samples = frames_to_samples(mel.shape[1])
        if n_samples == 0:
            return np.zeros(0, dtype=np.float32)
        magnitude = synth_mel_to_magnitude(mel) ** self.power  # (401, T)
        rng = np.random.default_rng(seed)
        angles = np.exp(2j * np.pi * rng.random(magnitude.shape)).astype(np.complex64)
        previous = np.zeros_like(angles)
        c = SYNTH_MEL
        blend = self.momentum / (1.0 + self.momentum)
        for i in range(self.n_iter):
            check_cancel(cancel, "Griffin-Lim")
            rebuilt = stft(istft(magnitude * angles, c.hop, c.win, n_samples), c.n_fft, c.hop, c.win)
            angles = rebuilt - blend * previous
            angles /= np.abs(angles) + 1e-16
            previous = rebuilt
            if progress is not None:
                progress((i + 1) / self.n_iter, "Griffin-Lim")
        wav = deemphasis(istft(magnitude * angles, c.hop, c.win, n_samples))
        return wav.astype(np.float32, copy=False)

    def stream(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """The `vocode` waveform in chunks of `stream_chunk` samples (Griffin-Lim needs the whole mel
        to estimate phase, so the first chunk arrives when the sentence is done, in tens of ms)."""
        wav = self.vocode(mel, seed=seed, progress=progress, cancel=cancel)
        for start in range(0, len(wav), self.stream_chunk):
            yield wav[start:start + self.stream_chunk]
