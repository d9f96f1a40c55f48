"""Pitch and energy per phone, predicted from the phones and the speaker (FastPitch / FastSpeech 2's
variance predictors, with FiLM on the speaker like the duration predictor).

    phones, stress, word position (B, N) -> the duration predictor's layout -> (B, N, 2): normalised
    log-F0 and energy of each phone

The acoustic model (models.synthesizer.phone_model with `variance=True`) adds a projection of these
two values to each phone's encoding, so at synthesis time the voice's pitch comes from this
predictor (and a pitch shift moves it) instead of being learnt implicitly from the embedding alone.

Targets (models.data.variance): the mean log-F0 of a phone's voiced frames (Praat's tracker) and the
mean level of its mel frames on the [-4, 4] scale. Both are normalised by the fixed constants below,
the same for every voice, so the predictor has to learn each speaker's own range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.synthesizer.phone_durations import N_WORD_POSITIONS
from models.synthesizer.phone_model import FiLMConv
from models.text.frontend import N_STRESS
from models.text.phones import PAD_PHONE_ID, PHONES

PITCH_CENTRE = math.log(140.0)  # log Hz: between typical male and female speech
PITCH_SCALE = 0.35  # log Hz per unit (about 6 semitones)
ENERGY_CENTRE = -1.0  # mean mel level of speech on the [-4, 4] scale, roughly
ENERGY_SCALE = 1.0
SEMITONE = math.log(2.0) / 12.0  # in log Hz


@dataclass(frozen=True)
class VarianceConfig:
    n_phones: int = len(PHONES)
    speaker_dim: int = 256
    dim: int = 128
    layers: int = 3
    kernel: int = 3
    dropout: float = 0.1

    @classmethod
    def small(cls) -> VarianceConfig:
        return cls()

    @classmethod
    def tiny(cls) -> VarianceConfig:
        return cls(dim=16, layers=1)


class VariancePredictor(nn.Module):
    def __init__(self, config: VarianceConfig) -> None:
        super().__init__()
        c = self.config = config
        self.phone = nn.Embedding(c.n_phones + 1, c.dim, padding_idx=PAD_PHONE_ID)
        self.stress = nn.Embedding(N_STRESS, c.dim)
        self.position = nn.Embedding(N_WORD_POSITIONS, c.dim)
        self.blocks = nn.ModuleList(FiLMConv(c.dim, c.kernel, 1, c.speaker_dim, c.dropout) for _ in range(c.layers))
        self.out = nn.Linear(c.dim, 2)

    def forward(self, phones: torch.Tensor, stress: torch.Tensor, position: torch.Tensor, speaker: torch.Tensor
                ) -> torch.Tensor:
        """phones, stress, position (B, N) int64, speaker (B, 256) -> (B, N, 2) normalised pitch and
        energy (0 at padding)."""
        mask = (phones != PAD_PHONE_ID).unsqueeze(1).to(torch.float32)  # (B, 1, N)
        x = (self.phone(phones) + self.stress(stress) + self.position(position)).transpose(1, 2)
        for block in self.blocks:
            x = block(x, speaker, mask)
        return self.out(F.gelu(x).transpose(1, 2)) * mask.transpose(1, 2)


def normalise(log_f0: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """(N,) log-F0 per phone (NaN where unvoiced) and (N,) energy -> (2, N) float32 model input.
    Unvoiced phones take the pitch interpolated from their voiced neighbours (a voice with no voiced
    phone at all: the centre)."""
    pitch = fill_unvoiced(np.asarray(log_f0, dtype=np.float64))
    out = np.stack([(pitch - PITCH_CENTRE) / PITCH_SCALE,
                    (np.asarray(energy, dtype=np.float64) - ENERGY_CENTRE) / ENERGY_SCALE])
    return out.astype(np.float32)


def fill_unvoiced(log_f0: np.ndarray) -> np.ndarray:
    """NaN entries replaced by linear interpolation over the phone index (held at the ends)."""
    voiced = np.isfinite(log_f0)
    if not voiced.any():
        return np.full(len(log_f0), PITCH_CENTRE)
    idx = np.arange(len(log_f0))
    return np.interp(idx, idx[voiced], log_f0[voiced])


def shifted(variance: np.ndarray, semitones: float) -> np.ndarray:
    """(2, N) normalised values with the pitch moved by `semitones` (energy unchanged)."""
    out = np.array(variance, dtype=np.float32, copy=True)
    out[0] += semitones * SEMITONE / PITCH_SCALE
    return out
