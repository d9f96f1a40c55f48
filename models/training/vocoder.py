"""WaveRNN training on preprocessed data: random windows of ground-truth (or synthesizer-aligned)
mels and their pre-emphasised, mu-law coded audio; cross-entropy over the 2^bits classes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from models.audio import preemphasis
from models.training.data import Utterance, load_mel, read_metadata
from models.training.distributed import init_world, pick_device, shutdown
from models.training.loop import Loop, run_configs
from models.training.run import RunDir
from models.vocoder.config import VocoderConfig
from models.vocoder.model import WaveRNN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VocoderTrainConfig:
    batch_size: int = 100
    learning_rate: float = 1e-4
    seq_hops: int = 5  # training window: seq_hops * hop samples (1000)
    clip_grad_norm: float = 4.0  # the reference clips nothing; a bad batch should not wreck a run
    mel_dir: str = "mels"  # "mels_gta" for synthesizer-aligned mels
    save_every: int = 1000
    log_every: int = 10
    seed: int = 0

    @classmethod
    def rtvc(cls) -> VocoderTrainConfig:
        return cls()

    @classmethod
    def small(cls) -> VocoderTrainConfig:
        return cls(batch_size=32, learning_rate=1e-3, save_every=200, log_every=10)


PRESETS = {"rtvc": (VocoderConfig.rtvc, VocoderTrainConfig.rtvc),
           "small": (VocoderConfig.small, VocoderTrainConfig.small)}


def encode_mu_law(x: np.ndarray, bits: int) -> np.ndarray:
    """[-1, 1] audio -> class labels in [0, 2^bits - 1] (mu = 2^bits - 1)."""
    mu = 2 ** bits - 1
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.floor((f + 1) / 2 * mu + 0.5).astype(np.int64)


def training_labels(wav: np.ndarray, n_frames: int, c: VocoderConfig) -> np.ndarray:
    """The labels of a whole utterance: pre-emphasis, clip, pad/crop to n_frames * hop, mu-law."""
    x = np.clip(preemphasis(wav, c.preemphasis), -1, 1)
    x = np.pad(x, (0, max(0, n_frames * c.hop_length - len(x))))[: n_frames * c.hop_length]
    return encode_mu_law(x, c.bits) if c.mu_law else np.clip(((x + 1) * (2 ** c.bits - 1) / 2).round(), 0,
                                                                   2 ** c.bits - 1).astype(np.int64)


def sample_windows(items: list[Utterance], rng: np.random.Generator, batch: int, c: VocoderConfig,
                   seq_hops: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random training windows. Returns x (B, L) previous samples in [-1, 1], mels (B, 80, seq_hops
    + 2 pad) on the network's [-1, 1] scale, y (B, L) next-sample labels; L = seq_hops * hop."""
    mel_win, seq = seq_hops + 2 * c.pad, seq_hops * c.hop_length
    xs, ms, ys = [], [], []
    candidates = [it for it in items if it.n_frames >= mel_win]
    if not candidates:
        raise ValueError(f"no utterance has the {mel_win} mel frames a training window needs")
    for i in rng.choice(len(candidates), size=batch, replace=True):
        item = candidates[i]
        mel = load_mel(item)  # (80, T)
        labels = training_labels(np.load(item.audio), mel.shape[1], c)
        offset = int(rng.integers(0, mel.shape[1] - mel_win + 1))
        start = (offset + c.pad) * c.hop_length
        window = np.pad(labels[start:start + seq + 1], (0, max(0, start + seq + 1 - len(labels))))
        xs.append(2 * window[:-1] / (2 ** c.bits - 1) - 1)
        ys.append(window[1:])
        ms.append(mel[:, offset:offset + mel_win] / c.mel_max_abs)
    return (torch.tensor(np.stack(xs), dtype=torch.float32), torch.tensor(np.stack(ms), dtype=torch.float32),
            torch.tensor(np.stack(ys), dtype=torch.long))


def train_vocoder(run_path: Path, data: Path, config: str = "rtvc", resume: bool = False,
                  max_steps: int | None = None) -> int:
    """Train (or resume) a WaveRNN run. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, "vocoder", PRESETS, VocoderConfig,
                                           VocoderTrainConfig)
        items = read_metadata(data, mel_dir=train_cfg.mel_dir)
        device = pick_device()
        torch.manual_seed(train_cfg.seed)
        net = WaveRNN(model_cfg).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=train_cfg.learning_rate)
        loop = Loop("vocoder", run, world, net, model_cfg, optimizer, train_cfg.seed,
                    train_cfg.save_every, train_cfg.log_every)
        step = loop.resume() if resume else 0
        model = DistributedDataParallel(net) if world.distributed else net
        net.train()

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            x, mels, y = (t.to(device) for t in sample_windows(items, rng, train_cfg.batch_size, model_cfg,
                                                               train_cfg.seq_hops))
            logits = model(x, mels)  # (B, L, classes)
            loss = F.cross_entropy(logits.transpose(1, 2), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.clip_grad_norm)
            optimizer.step()
            accuracy = (logits.argmax(-1) == y).float().mean().item()
            return {"loss": loss.item(), "accuracy": accuracy, "grad_norm": float(grad_norm)}

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)
