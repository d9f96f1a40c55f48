"""Training of the speaker-conditioned phone duration predictor (models.synthesizer.phone_durations)
on the phone data of `sv2tts preprocess phones`: whole utterances, MSE on log(1 + frames) of every
phone but the leading and trailing pause (recording silence, not speech), real speech drawn more
often and weighted more. A fixed 5 % of the speakers is held out and scored every `eval_every` steps.

The stress and word position of each aligned phone come from the Python front-end run on the item's
words, matched to the aligned phones (difflib); phones it does not match get a neutral class.
"""

from __future__ import annotations

import difflib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.data.phone_data import PhoneItem, read_phone_data
from models.synthesizer.phone_durations import DurationConfig, DurationPredictor, word_positions
from models.text import TextError
from models.text.frontend import NO_STRESS, text_to_phones
from models.text.phones import PAD_PHONE_ID, PHONE_TO_ID, PHONES
from models.training.distributed import init_world, pick_device, shutdown
from models.training.loop import Loop, run_configs
from models.training.phones import draw, noisy, warmup_cosine
from models.training.run import RunDir

log = logging.getLogger(__name__)

KIND = "duration-predictor"
_VOWELS = frozenset(p for p in PHONES if p[0] in "aeiou")


@dataclass(frozen=True)
class DurationTrainConfig:
    batch_size: int = 32
    real_share: float = 0.5  # share of each batch drawn from real speech
    real_weight: float = 2.0  # loss weight of a real phone relative to a synthetic one
    embed_noise: float = 0.02
    lr: float = 2e-3
    warmup_steps: int = 100
    decay_steps: int = 3_000
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
    def small(cls) -> DurationTrainConfig:
        return cls(heldout_share=0.05)

    @classmethod
    def tiny(cls) -> DurationTrainConfig:
        return cls(batch_size=4, warmup_steps=1, lr=1e-2, save_every=5, log_every=1, eval_every=5)


PRESETS = {"small": (DurationConfig.small, DurationTrainConfig.small),
           "tiny": (DurationConfig.tiny, DurationTrainConfig.tiny)}


@dataclass(frozen=True)
class DurationItem:
    """One utterance's inputs and target: phones, stress, position (N,) int64; frames (N,) int64; embed (256,)."""

    phones: np.ndarray
    stress: np.ndarray
    position: np.ndarray
    frames: np.ndarray
    embed: np.ndarray
    real: bool


def linguistic_features(phones: np.ndarray, words: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Stress and word position for aligned phone IDs, from the front-end's reading of `words`.

    Returns (stress (N,), position (N,), share of the phones matched).
    """
    stress = np.where(np.isin(phones, [PHONE_TO_ID[v] for v in _VOWELS]), 1, NO_STRESS).astype(np.int64)
    word_index = np.where(phones == PHONE_TO_ID["pau"], -1, -3).astype(np.int64)  # -3: unknown word
    try:
        reading = text_to_phones(words)
    except TextError:
        return stress, word_positions(word_index), 0.0
    names = [PHONES[i] for i in phones]
    matcher = difflib.SequenceMatcher(a=names, b=list(reading.phones), autojunk=False)
    matched = 0
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            i, j = block.a + k, block.b + k
            stress[i] = reading.stress[j]
            word_index[i] = reading.word_index[j]
            matched += 1
    positions = word_positions(word_index)
    positions[word_index == -3] = 2  # unmatched speech phone: "middle"
    return stress, positions, matched / max(1, len(phones))


def load_items(items: list[PhoneItem]) -> tuple[list[DurationItem], float]:
    """Every item's arrays and features; returns them and the mean share of matched phones."""
    out, shares = [], []
    for it in items:
        with np.load(it.path) as z:
            phones, frames, embed = z["phones"], z["durations"], z["embed"]
        stress, position, share = linguistic_features(phones, it.words)
        shares.append(share)
        out.append(DurationItem(phones, stress, position, frames, embed.astype(np.float32), it.source == "real"))
    return out, float(np.mean(shares)) if shares else 0.0


def split_heldout(items: list[PhoneItem], share: float) -> tuple[list[PhoneItem], list[PhoneItem]]:
    """(training, held-out) items: a speaker is held out when a hash of its id falls under `share`."""
    held = {it.speaker for it in items if zlib.crc32(it.speaker.encode()) % 1000 < share * 1000}
    return [it for it in items if it.speaker not in held], [it for it in items if it.speaker in held]


def collate(batch: list[DurationItem], embeds: np.ndarray, real_weight: float) -> dict[str, torch.Tensor]:
    """Padded tensors (B, N) and the per-phone loss weights (0 at padding and at the edge pauses)."""
    n = max(len(b.phones) for b in batch)
    phones = torch.full((len(batch), n), PAD_PHONE_ID, dtype=torch.long)
    stress = torch.full((len(batch), n), NO_STRESS, dtype=torch.long)
    position = torch.zeros((len(batch), n), dtype=torch.long)
    target = torch.zeros((len(batch), n))
    weight = torch.zeros((len(batch), n))
    pau = PHONE_TO_ID["pau"]
    for i, b in enumerate(batch):
        k = len(b.phones)
        phones[i, :k] = torch.from_numpy(b.phones)
        stress[i, :k] = torch.from_numpy(b.stress)
        position[i, :k] = torch.from_numpy(b.position)
        target[i, :k] = torch.from_numpy(np.log1p(b.frames.astype(np.float32)))
        w = np.full(k, real_weight if b.real else 1.0, np.float32)
        if b.phones[0] == pau:
            w[0] = 0.0
        if b.phones[-1] == pau:
            w[-1] = 0.0
        weight[i, :k] = torch.from_numpy(w)
    return {"phones": phones, "stress": stress, "position": position, "speaker": torch.from_numpy(embeds),
            "target": target, "weight": weight}


def duration_losses(pred: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weighted MSE on log(1 + frames), and the unweighted mean absolute error in frames."""
    w = batch["weight"]
    err = pred - batch["target"]
    frames_err = (torch.expm1(pred.clamp(max=8)) - torch.expm1(batch["target"])).abs()
    used = (w > 0).to(pred.dtype)
    return {"loss": (w * err ** 2).sum() / w.sum().clamp_min(1e-6),
            "mae_frames": (frames_err * used).sum() / used.sum().clamp_min(1.0)}


@dataclass(frozen=True)
class PredictorTask:
    """What a phone predictor trainer needs to know besides the shared loop (`train_predictor`): the model
    kind and presets, the network, and how its items are loaded, batched and scored. Items have `.embed`
    (256,) and `.real`."""

    kind: str
    presets: dict
    network: Callable[[DurationConfig], nn.Module]
    load_items: Callable[[list[PhoneItem]], list]
    collate: Callable[[list, np.ndarray, float], dict[str, torch.Tensor]]
    losses: Callable[[torch.Tensor, dict[str, torch.Tensor]], dict[str, torch.Tensor]]


@torch.no_grad()
def evaluate(task: PredictorTask, net: nn.Module, items: list, device: torch.device) -> dict[str, float]:
    """The task's losses over held-out items (unit weights), as val_* metrics."""
    net.eval()
    totals: dict[str, float] = {}
    for b0 in range(0, len(items), 64):
        chunk = items[b0:b0 + 64]
        batch = {k: v.to(device) for k, v in task.collate(chunk, np.stack([c.embed for c in chunk]), 1.0).items()}
        parts = task.losses(net(batch["phones"], batch["stress"], batch["position"], batch["speaker"]), batch)
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + v.item() * len(chunk)
    net.train()
    return {f"val_{k}": v / len(items) for k, v in totals.items()}


def train_predictor(task: PredictorTask, run_path: Path, data: Path, config: str, resume: bool,
                    max_steps: int | None) -> int:
    """Train (or resume) a phone predictor run: the loop shared by the duration and the pitch and energy
    predictors. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, task.kind, task.presets, DurationConfig,
                                           DurationTrainConfig)
        train_items, held_items = split_heldout(read_phone_data(data), train_cfg.heldout_share)
        items, heldout = task.load_items(train_items), task.load_items(held_items)
        log.info("%s: %d items (%d real), %d held out", task.kind, len(items), sum(it.real for it in items),
                 len(heldout))
        device = pick_device()
        torch.manual_seed(train_cfg.seed)
        net = task.network(model_cfg).to(device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=1e-6)
        loop = Loop(task.kind, run, world, net, model_cfg, optimizer, train_cfg.seed, train_cfg.save_every,
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
            batch = {k: v.to(device) for k, v in task.collate(chosen, embeds, train_cfg.real_weight).items()}
            parts = task.losses(net(batch["phones"], batch["stress"], batch["position"], batch["speaker"]), batch)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.clip_grad_norm)
            if torch.isfinite(grad_norm):
                optimizer.step()
            metrics = {**{k: v.item() for k, v in parts.items()}, "grad_norm": float(grad_norm), "lr": lr}
            if heldout and (step + 1) % train_cfg.eval_every == 0:
                metrics.update(evaluate(task, net, heldout, device))
            return metrics

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)


def _load_duration_items(items: list[PhoneItem]) -> list[DurationItem]:
    out, matched = load_items(items)
    if out:
        log.info("durations: the front-end matches %.1f %% of the aligned phones", 100 * matched)
    return out


DURATIONS = PredictorTask(KIND, PRESETS, DurationPredictor, _load_duration_items, collate, duration_losses)


def train_durations(run_path: Path, data: Path, config: str = "small", resume: bool = False,
                    max_steps: int | None = None) -> int:
    """Train (or resume) a duration predictor run. Returns the final step."""
    return train_predictor(DURATIONS, run_path, data, config, resume, max_steps)
