"""Training of the speaker-conditioned pitch and energy predictor (models.synthesizer.phone_variance) on
phone data with pitch and energy (`sv2tts preprocess phones`, then `sv2tts preprocess variance`).

Like the duration predictor's training (models.training.durations, whose features, batches and
held-out split it shares): whole utterances, MSE on the normalised pitch of every voiced phone and on
the normalised energy of every phone but the leading and trailing pause, real speech drawn more often
and weighted more.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.data.phone_data import PhoneItem
from models.synthesizer.phone_variance import (
    ENERGY_CENTRE,
    ENERGY_SCALE,
    PITCH_CENTRE,
    PITCH_SCALE,
    VarianceConfig,
    VariancePredictor,
)
from models.text.frontend import NO_STRESS
from models.text.phones import PAD_PHONE_ID, PHONE_TO_ID
from models.training.durations import DurationTrainConfig, PredictorTask, linguistic_features, train_predictor

log = logging.getLogger(__name__)

KIND = "variance-predictor"
SEMITONES_PER_UNIT = PITCH_SCALE * 12 / np.log(2)  # a normalised pitch error of 1 in semitones


PRESETS = {"small": (VarianceConfig.small, lambda: dataclasses.replace(DurationTrainConfig.small(), decay_steps=2_000)),
           "tiny": (VarianceConfig.tiny, DurationTrainConfig.tiny)}


@dataclass(frozen=True)
class VarianceItem:
    """phones, stress, position (N,) int64; target (2, N) normalised pitch (NaN: unvoiced) and energy."""

    phones: np.ndarray
    stress: np.ndarray
    position: np.ndarray
    target: np.ndarray
    embed: np.ndarray
    real: bool


def load_items(items: list[PhoneItem]) -> list[VarianceItem]:
    out = []
    for it in items:
        with np.load(it.path) as z:
            if "pitch" not in z:
                raise ValueError(f"{it.path}: no pitch and energy; run `sv2tts preprocess variance` first")
            phones, pitch, energy, embed = z["phones"], z["pitch"], z["energy"], z["embed"]
        stress, position, _ = linguistic_features(phones, it.words)
        target = np.stack([(pitch - PITCH_CENTRE) / PITCH_SCALE, (energy - ENERGY_CENTRE) / ENERGY_SCALE])
        out.append(VarianceItem(phones, stress, position, target.astype(np.float32), embed.astype(np.float32),
                                it.source == "real"))
    return out


def collate(batch: list[VarianceItem], embeds: np.ndarray, real_weight: float) -> dict[str, torch.Tensor]:
    """Padded inputs (B, N), targets (B, N, 2) (NaN made 0) and per-target weights (B, N, 2): 0 at padding,
    at the edge pauses, and for the pitch of unvoiced phones."""
    n = max(len(b.phones) for b in batch)
    phones = torch.full((len(batch), n), PAD_PHONE_ID, dtype=torch.long)
    stress = torch.full((len(batch), n), NO_STRESS, dtype=torch.long)
    position = torch.zeros((len(batch), n), dtype=torch.long)
    target = torch.zeros((len(batch), n, 2))
    weight = torch.zeros((len(batch), n, 2))
    pau = PHONE_TO_ID["pau"]
    for i, b in enumerate(batch):
        k = len(b.phones)
        phones[i, :k] = torch.from_numpy(b.phones)
        stress[i, :k] = torch.from_numpy(b.stress)
        position[i, :k] = torch.from_numpy(b.position)
        t = b.target.T.copy()  # (N, 2)
        w = np.full((k, 2), real_weight if b.real else 1.0, np.float32)
        w[~np.isfinite(t[:, 0]), 0] = 0.0
        for edge in (0, k - 1):
            if b.phones[edge] == pau:
                w[edge] = 0.0
        target[i, :k] = torch.from_numpy(np.nan_to_num(t))
        weight[i, :k] = torch.from_numpy(w)
    return {"phones": phones, "stress": stress, "position": position, "speaker": torch.from_numpy(embeds),
            "target": target, "weight": weight}


def variance_losses(pred: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weighted MSE of each target, their sum, and the unweighted mean absolute pitch error in semitones."""
    w, err = batch["weight"], pred - batch["target"]
    pitch = (w[..., 0] * err[..., 0] ** 2).sum() / w[..., 0].sum().clamp_min(1e-6)
    energy = (w[..., 1] * err[..., 1] ** 2).sum() / w[..., 1].sum().clamp_min(1e-6)
    voiced = (w[..., 0] > 0).to(pred.dtype)
    semitones = (err[..., 0].abs() * voiced).sum() / voiced.sum().clamp_min(1.0) * SEMITONES_PER_UNIT
    return {"loss": pitch + energy, "pitch_mse": pitch, "energy_mse": energy, "pitch_semitones": semitones}


VARIANCE = PredictorTask(KIND, PRESETS, VariancePredictor, load_items, collate, variance_losses)


def train_variance(run_path: Path, data: Path, config: str = "small", resume: bool = False,
                   max_steps: int | None = None) -> int:
    """Train (or resume) a pitch and energy predictor run (the training config is the duration
    predictor's, DurationTrainConfig). Returns the final step."""
    return train_predictor(VARIANCE, run_path, data, config, resume, max_steps)
