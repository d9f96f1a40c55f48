"""Training of the speaker-conditioned pitch and energy predictor (models.synthesizer.phone_variance) on
phone data with pitch and energy (`sv2tts preprocess phones`, then `sv2tts preprocess variance`).

Like the duration predictor's training (models.training.durations, whose features, batches and
held-out split it shares): whole utterances, MSE on the normalised pitch of every voiced phone and on
the normalised energy of every phone but the leading and trailing pause, real speech drawn more often
and weighted more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.data.phone_data import PhoneItem, read_phone_data
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
from models.training.distributed import init_world, pick_device, shutdown
from models.training.durations import linguistic_features, split_heldout
from models.training.loop import Loop, run_configs
from models.training.phones import draw, noisy, warmup_cosine
from models.training.run import RunDir

log = logging.getLogger(__name__)

KIND = "variance-predictor"
SEMITONES_PER_UNIT = PITCH_SCALE * 12 / np.log(2)  # a normalised pitch error of 1 in semitones


@dataclass(frozen=True)
class VarianceTrainConfig:
    batch_size: int = 32
    real_share: float = 0.5  # share of each batch drawn from real speech
    real_weight: float = 2.0  # loss weight of a real phone relative to a synthetic one
    embed_noise: float = 0.02
    lr: float = 2e-3
    warmup_steps: int = 100
    decay_steps: int = 2_000
    lr_floor: float = 0.05
    clip_grad_norm: float = 1.0
    heldout_share: float = 0.0  # of the speakers, by a hash of the speaker id (small: 5 %)
    eval_every: int = 100
    save_every: int = 250
    log_every: int = 10
    seed: int = 0

    def lr_at(self, step: int) -> float:
        return warmup_cosine(step, self.lr, self.warmup_steps, self.decay_steps, self.lr_floor)

    @classmethod
    def small(cls) -> VarianceTrainConfig:
        return cls(heldout_share=0.05)

    @classmethod
    def tiny(cls) -> VarianceTrainConfig:
        return cls(batch_size=4, warmup_steps=1, lr=1e-2, save_every=5, log_every=1, eval_every=5)


PRESETS = {"small": (VarianceConfig.small, VarianceTrainConfig.small),
           "tiny": (VarianceConfig.tiny, VarianceTrainConfig.tiny)}


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


@torch.no_grad()
def evaluate(net: VariancePredictor, items: list[VarianceItem], device: torch.device) -> dict[str, float]:
    net.eval()
    totals: dict[str, float] = {}
    for b0 in range(0, len(items), 64):
        chunk = items[b0:b0 + 64]
        batch = {k: v.to(device) for k, v in
                 collate(chunk, np.stack([c.embed for c in chunk]), real_weight=1.0).items()}
        parts = variance_losses(net(batch["phones"], batch["stress"], batch["position"], batch["speaker"]), batch)
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + v.item() * len(chunk)
    net.train()
    return {f"val_{k}": v / len(items) for k, v in totals.items()}


def train_variance(run_path: Path, data: Path, config: str = "small", resume: bool = False,
                   max_steps: int | None = None) -> int:
    """Train (or resume) a pitch and energy predictor run. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, KIND, PRESETS, VarianceConfig,
                                           VarianceTrainConfig)
        train_items, held_items = split_heldout(read_phone_data(data), train_cfg.heldout_share)
        items, heldout = load_items(train_items), load_items(held_items)
        log.info("variance: %d items (%d real), %d held out", len(items), sum(it.real for it in items), len(heldout))
        device = pick_device()
        torch.manual_seed(train_cfg.seed)
        net = VariancePredictor(model_cfg).to(device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=1e-6)
        loop = Loop(KIND, run, world, net, model_cfg, optimizer, train_cfg.seed, train_cfg.save_every,
                    train_cfg.log_every)
        step = loop.resume() if resume else 0
        net.train()
        kinds = [PhoneItem("", "", "real" if it.real else "synthetic", 0, Path()) for it in items]

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            lr = train_cfg.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            chosen = [items[i] for i in draw(kinds, train_cfg.batch_size, train_cfg.real_share, rng)]
            embeds = noisy(np.stack([c.embed for c in chosen]), train_cfg.embed_noise, rng)
            batch = {k: v.to(device) for k, v in collate(chosen, embeds, train_cfg.real_weight).items()}
            parts = variance_losses(net(batch["phones"], batch["stress"], batch["position"], batch["speaker"]), batch)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.clip_grad_norm)
            if torch.isfinite(grad_norm):
                optimizer.step()
            metrics = {**{k: v.item() for k, v in parts.items()}, "grad_norm": float(grad_norm), "lr": lr}
            if heldout and (step + 1) % train_cfg.eval_every == 0:
                metrics.update(evaluate(net, heldout, device))
            return metrics

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)
