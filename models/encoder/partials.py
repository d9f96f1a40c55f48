"""Cutting an utterance into the overlapping 1.6 s partials the encoder embeds."""

from __future__ import annotations

import math

import numpy as np

from models.encoder.config import EncoderConfig


def partial_slices(n_samples: int, config: EncoderConfig) -> tuple[list[slice], list[slice]]:
    """Where the partial utterances of an `n_samples`-long waveform lie.

    Starts every `partial_step` frames; the last partial is dropped when less than `min_coverage` of
    it is real audio (at least one partial is always kept). Examples at 16 kHz with the published
    preset: 0.5, 1 and 1.6 s -> 1 partial; 2 s -> 2; 3 s -> 3; 5 s -> 5; 10 s -> 12.

    Returns:
        (wav_slices, mel_slices): sample ranges and mel-frame ranges, one of each per partial.
    """
    hop, frames = config.hop_samples, config.partial_frames
    n_frames = math.ceil((n_samples + 1) / hop)
    stop = max(1, n_frames - frames + config.partial_step + 1)
    mel_slices = [slice(i, i + frames) for i in range(0, stop, config.partial_step)]
    wav_slices = [slice(s.start * hop, s.stop * hop) for s in mel_slices]
    coverage = (n_samples - wav_slices[-1].start) / (wav_slices[-1].stop - wav_slices[-1].start)
    if coverage < config.min_coverage and len(mel_slices) > 1:
        mel_slices, wav_slices = mel_slices[:-1], wav_slices[:-1]
    return wav_slices, mel_slices


def pad_for_partials(wav: np.ndarray, wav_slices: list[slice]) -> np.ndarray:
    """Zero-pad `wav` so that the last partial lies entirely inside it."""
    end = wav_slices[-1].stop
    return np.pad(wav, (0, end - len(wav))) if end >= len(wav) else wav
