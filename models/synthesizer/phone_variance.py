"""Pitch and energy per phone, predicted from the phones and the speaker (FastPitch / FastSpeech 2's
variance predictors, with FiLM on the speaker like the duration predictor).

    phones, stress, word position (B, N) + speaker -> the duration predictor's network
    (models.synthesizer.phone_durations.PhonePredictor) -> (B, N, 2): normalised log-F0 and energy

The acoustic model (models.synthesizer.phone_model with `variance=True`) adds a projection of these
two values to each phone's encoding, so at synthesis time each phone's pitch and loudness come from
this predictor as well as from the embedding.

Targets (models.data.variance): the mean log-F0 of a phone's voiced frames (Praat's tracker) and the
mean level of its mel frames on the [-4, 4] scale. Both are normalised by the fixed constants below,
the same for every voice, so the predictor has to learn each speaker's own range.
"""

from __future__ import annotations

import math

import numpy as np

from models.synthesizer.phone_durations import DurationConfig, PhonePredictor

PITCH_CENTRE = math.log(140.0)  # log Hz: between typical male and female speech
PITCH_SCALE = 0.35  # log Hz per unit (about 6 semitones)
ENERGY_CENTRE = -1.0  # mean mel level of speech on the [-4, 4] scale, roughly
ENERGY_SCALE = 1.0


VarianceConfig = DurationConfig  # the same network (PhonePredictor) with two outputs


class VariancePredictor(PhonePredictor):
    def __init__(self, config: VarianceConfig) -> None:
        super().__init__(config, 2)


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

