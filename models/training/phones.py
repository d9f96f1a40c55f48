"""Training of the duration-based synthesizer (models.synthesizer.phone_model) on phone data written
by `sv2tts preprocess phones`: random crops at phone boundaries, masked L1 + MSE on both mel outputs,
a share of every batch from real speech, noise on the embeddings so unseen voices fall between
the ones it learnt."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from models.data.phone_data import PhoneItem, read_phone_data
from models.data.variance import has_variance
from models.synthesizer.phone_model import SILENCE, PhoneSynth, PhoneSynthConfig
from models.synthesizer.phone_variance import normalise
from models.text.phones import PAD_PHONE_ID
from models.training.distributed import init_world, pick_device, shutdown
from models.training.loop import Loop, run_configs
from models.training.run import RunDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhoneTrainConfig:
    batch_size: int = 16
    crop_frames: int = 480
    real_share: float = 0.4  # share of each batch drawn from real speech (when there is any)
    embed_noise: float = 0.02  # std of the Gaussian noise added to the unit-norm embeddings
    lr: float = 1e-3
    warmup_steps: int = 500
    decay_steps: int = 6_000  # cosine decay to lr_floor * lr (the demo model: 6000 steps)
    lr_floor: float = 0.05
    clip_grad_norm: float = 1.0
    init_from: str = ""  # a phone synthesizer (.safetensors) a new run starts from (fine-tuning)
    save_every: int = 250
    log_every: int = 10
    seed: int = 0

    def lr_at(self, step: int) -> float:
        return warmup_cosine(step, self.lr, self.warmup_steps, self.decay_steps, self.lr_floor)

    @classmethod
    def small(cls) -> PhoneTrainConfig:
        return cls()

    @classmethod
    def tiny(cls) -> PhoneTrainConfig:
        return cls(batch_size=4, crop_frames=120, warmup_steps=1, lr=3e-3, save_every=5, log_every=1)


def warmup_cosine(step: int, lr: float, warmup_steps: int, decay_steps: int, floor: float) -> float:
    """Linear warm-up to `lr`, then cosine decay to floor * lr at `decay_steps` (a plain float)."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    f = min(1.0, (step - warmup_steps) / max(1, decay_steps - warmup_steps))
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * f)))


PRESETS = {"small": (PhoneSynthConfig.small, PhoneTrainConfig.small),
           "tiny": (PhoneSynthConfig.tiny, PhoneTrainConfig.tiny)}


class Cache:
    """Items' arrays, loaded once (the demo data fits in memory: ~100 MB as float16). With `variance`,
    each item's normalised pitch and energy (2, N) too (`sv2tts preprocess variance` must have run)."""

    def __init__(self, items: list[PhoneItem], variance: bool = False) -> None:
        self.items = items
        self.variance = variance
        self._arrays: dict[int, dict[str, np.ndarray]] = {}
        if variance:  # refuse before training, not at the first batch that meets such an item
            lacking = [it.path for it in items if not has_variance(it.path)]
            if lacking:
                raise ValueError(f"{len(lacking)} of {len(items)} items have no pitch and energy (e.g. "
                                 f"{lacking[0]}); run `sv2tts preprocess variance` on the phone data first")

    def get(self, i: int) -> dict[str, np.ndarray]:
        if i not in self._arrays:
            with np.load(self.items[i].path) as z:
                arrays = {k: z[k] for k in ("mel", "phones", "durations", "embed")}
                if self.variance:
                    arrays["variance"] = normalise(z["pitch"], z["energy"])
            self._arrays[i] = arrays
        return self._arrays[i]


Crop = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]


def crop(arrays: dict[str, np.ndarray], max_frames: int, rng: np.random.Generator) -> Crop:
    """A random run of whole phones of at most `max_frames` frames (at least one phone).

    Returns (mel (80, T) float32, phones (N,), durations (N,), variance (2, N) or None) with durations
    summing to T.
    """
    durations, phones = arrays["durations"], arrays["phones"]
    ends = np.cumsum(durations)
    if ends[-1] <= max_frames:
        first, last = 0, len(phones)
    else:
        starts = ends - durations
        candidates = np.nonzero(starts <= ends[-1] - max_frames)[0]
        first = int(rng.choice(candidates)) if len(candidates) else 0
        last = int(np.searchsorted(ends, starts[first] + max_frames, side="right"))
        last = max(last, first + 1)
    start = int(ends[first] - durations[first])
    end = int(ends[last - 1])
    variance = arrays["variance"][:, first:last] if "variance" in arrays else None
    return arrays["mel"][:, start:end].astype(np.float32), phones[first:last], durations[first:last], variance


def collate(crops: list[Crop], embeds: np.ndarray) -> dict[str, torch.Tensor]:
    n = max(len(c[1]) for c in crops)
    t = max(c[0].shape[1] for c in crops)
    phones = torch.full((len(crops), n), PAD_PHONE_ID, dtype=torch.long)
    durations = torch.zeros((len(crops), n), dtype=torch.long)
    mels = torch.full((len(crops), crops[0][0].shape[0], t), SILENCE)
    variance = torch.zeros((len(crops), 2, n))
    for i, (mel, ph, du, var) in enumerate(crops):
        phones[i, :len(ph)] = torch.from_numpy(ph)
        durations[i, :len(du)] = torch.from_numpy(du)
        mels[i, :, :mel.shape[1]] = torch.from_numpy(mel)
        if var is not None:
            variance[i, :, :var.shape[1]] = torch.from_numpy(var)
    batch = {"phones": phones, "durations": durations, "mels": mels, "speaker": torch.from_numpy(embeds)}
    if all(c[3] is not None for c in crops):
        batch["variance"] = variance
    return batch


def losses(out: dict[str, torch.Tensor], mels: torch.Tensor) -> dict[str, torch.Tensor]:
    mask = out["mask"]
    n = mask.sum() * mels.shape[1]
    parts = {}
    for name in ("mel_dec", "mel_post"):
        diff = (out[name] - mels) * mask
        parts[f"{name}_l1"] = diff.abs().sum() / n
        parts[f"{name}_mse"] = (diff ** 2).sum() / n
    return {"loss": sum(parts.values()), **parts}


def draw(items: list[PhoneItem], batch_size: int, real_share: float, rng: np.random.Generator) -> list[int]:
    """Item indices for one batch: about `real_share` of them from real speech when both kinds exist."""
    real = [i for i, it in enumerate(items) if it.source == "real"]
    other = [i for i, it in enumerate(items) if it.source != "real"]
    if not real or not other:
        return [int(i) for i in rng.integers(0, len(items), batch_size)]
    n_real = int(rng.binomial(batch_size, real_share))
    return [int(i) for i in rng.choice(real, n_real)] + [int(i) for i in rng.choice(other, batch_size - n_real)]


def noisy(embeds: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    if std <= 0:
        return embeds.astype(np.float32)
    e = embeds + rng.normal(0.0, std, embeds.shape)
    return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)


def start_from(net: PhoneSynth, path: Path) -> None:
    """Load the acoustic weights of a phone synthesizer file into `net` (same config required)."""
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    start = PhoneSynthesizer.from_file(path)
    # a model without pitch and energy may become one: the new projection starts at zero
    if dataclasses.replace(start.config, variance=net.config.variance) != net.config or (
            start.config.variance and not net.config.variance):
        raise ValueError(f"{path}: its model config differs from this run's ({start.config})")
    missing, unexpected = net.load_state_dict(start.model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("variance.") for k in missing):
        raise ValueError(f"{path}: the weights do not fit this run's model ({missing or unexpected})")
    log.info("starting from the weights of %s", path)


def train_phones(run_path: Path, data: Path, config: str = "small", resume: bool = False,
                 max_steps: int | None = None) -> int:
    """Train (or resume) a duration-based synthesizer run. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, "phone-synthesizer", PRESETS, PhoneSynthConfig,
                                           PhoneTrainConfig)
        items = read_phone_data(data)
        cache = Cache(items, model_cfg.variance)
        device = pick_device()
        torch.manual_seed(train_cfg.seed)
        net = PhoneSynth(model_cfg).to(device)
        if train_cfg.init_from and not resume:
            start_from(net, Path(train_cfg.init_from))
        optimizer = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=1e-6)
        loop = Loop("phone-synthesizer", run, world, net, model_cfg, optimizer, train_cfg.seed,
                    train_cfg.save_every, train_cfg.log_every)
        step = loop.resume() if resume else 0
        model = DistributedDataParallel(net) if world.distributed else net
        net.train()
        log.info("phone synthesizer: %d items (%d real), %d parameters", len(items),
                 sum(it.source == "real" for it in items), sum(p.numel() for p in net.parameters()))

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            lr = train_cfg.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            chosen = draw(items, train_cfg.batch_size, train_cfg.real_share, rng)
            arrays = [cache.get(i) for i in chosen]
            crops = [crop(a, train_cfg.crop_frames, rng) for a in arrays]
            embeds = noisy(np.stack([a["embed"] for a in arrays]), train_cfg.embed_noise, rng)
            batch = {k: v.to(device) for k, v in collate(crops, embeds).items()}
            out = model(batch["phones"], batch["durations"], batch["speaker"], batch.get("variance"))
            parts = losses(out, batch["mels"])
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.clip_grad_norm)
            if torch.isfinite(grad_norm):
                optimizer.step()
            else:
                log.warning("step %d: non-finite gradient norm; update skipped", step)
            return {**{k: v.item() for k, v in parts.items()}, "grad_norm": float(grad_norm), "lr": lr}

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)
