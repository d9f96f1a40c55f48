"""A phone duration predictor conditioned on the speaker (FastSpeech 2's variance predictor, plus FiLM).

    phones (B, N), stress (B, N), word position (B, N) -> summed embeddings -> conv blocks, each
    modulated by the 256-d speaker embedding (FiLM) -> linear -> log(1 + frames) (B, N)

Trained by :mod:`models.training.durations` on the phone timings of the demo synthesizer's data
(flite's for the synthetic voices, pocketsphinx forced alignments for the real ones), it replaces
flite's durations at synthesis time, so the rhythm follows the voice instead of one flite voice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.synthesizer.phone_model import FiLMConv
from models.text.frontend import N_STRESS
from models.text.phones import PAD_PHONE_ID, PHONE_TO_ID, PHONES

# Where a phone sits in its word: pause, first, middle, last, the only phone of the word.
WORD_POSITIONS = ("pause", "first", "middle", "last", "only")
N_WORD_POSITIONS = len(WORD_POSITIONS)
EDGE_PAUSE_FRAMES = 16  # the leading and trailing pause (flite's 0.2 s, which the acoustic model learnt)


@dataclass(frozen=True)
class DurationConfig:
    n_phones: int = len(PHONES)
    speaker_dim: int = 256
    dim: int = 128
    layers: int = 3
    kernel: int = 3
    dropout: float = 0.1

    @classmethod
    def small(cls) -> DurationConfig:
        return cls()

    @classmethod
    def tiny(cls) -> DurationConfig:
        return cls(dim=16, layers=1)


def word_positions(word_index: np.ndarray) -> np.ndarray:
    """(N,) word index per phone (-1: pause) -> (N,) int64 position classes (see WORD_POSITIONS)."""
    w = np.asarray(word_index)
    prev = np.concatenate([[-2], w[:-1]])
    nxt = np.concatenate([w[1:], [-2]])
    first, last = w != prev, w != nxt
    pos = np.where(first & last, 4, np.where(first, 1, np.where(last, 3, 2)))
    return np.where(w < 0, 0, pos).astype(np.int64)


class PhonePredictor(nn.Module):
    """phones, stress, word position (B, N) + speaker (B, 256) -> (B, N, outputs) values per phone.
    The network of the duration predictor (1 output) and of the pitch and energy predictor (2)."""

    def __init__(self, config: DurationConfig, outputs: int) -> None:
        super().__init__()
        c = self.config = config
        self.phone = nn.Embedding(c.n_phones + 1, c.dim, padding_idx=PAD_PHONE_ID)
        self.stress = nn.Embedding(N_STRESS, c.dim)
        self.position = nn.Embedding(N_WORD_POSITIONS, c.dim)
        self.blocks = nn.ModuleList(FiLMConv(c.dim, c.kernel, 1, c.speaker_dim, c.dropout) for _ in range(c.layers))
        self.out = nn.Linear(c.dim, outputs)

    def forward(self, phones: torch.Tensor, stress: torch.Tensor, position: torch.Tensor, speaker: torch.Tensor
                ) -> torch.Tensor:
        """phones, stress, position (B, N) int64 (PAD_PHONE_ID pads phones), speaker (B, 256)
        -> (B, N, outputs) (0 at padding)."""
        mask = (phones != PAD_PHONE_ID).unsqueeze(1).to(torch.float32)  # (B, 1, N)
        x = (self.phone(phones) + self.stress(stress) + self.position(position)).transpose(1, 2)  # (B, C, N)
        for block in self.blocks:
            x = block(x, speaker, mask)
        return self.out(F.gelu(x).transpose(1, 2)) * mask.transpose(1, 2)


class DurationPredictor(PhonePredictor):
    def __init__(self, config: DurationConfig) -> None:
        super().__init__(config, 1)

    def forward(self, phones: torch.Tensor, stress: torch.Tensor, position: torch.Tensor, speaker: torch.Tensor
                ) -> torch.Tensor:
        """-> (B, N) predicted log(1 + frames) (0 at padding)."""
        return super().forward(phones, stress, position, speaker).squeeze(-1)


def to_frames(log_durations: np.ndarray, phones: np.ndarray, rate: float = 1.0) -> np.ndarray:
    """(N,) predicted log(1 + frames) -> (N,) int64 frames at speaking `rate` (>1 faster).

    Boundaries are rounded from the cumulative sum so rounding errors do not pile up; the leading
    and trailing pauses get EDGE_PAUSE_FRAMES / rate; every other phone at least one frame.
    """
    frames = np.maximum(np.expm1(np.asarray(log_durations, dtype=np.float64)), 0.0) / rate
    pau = PHONE_TO_ID["pau"]
    for i in (0, len(frames) - 1):
        if len(frames) and phones[i] == pau:
            frames[i] = EDGE_PAUSE_FRAMES / rate
    frames = np.maximum(frames, 1.0)
    bounds = np.round(np.cumsum(frames)).astype(np.int64)
    out = np.diff(np.concatenate([[0], bounds]))
    return np.maximum(out, 1)
