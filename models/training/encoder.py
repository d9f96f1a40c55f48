"""GE2E speaker-encoder training on preprocessed mels (`<data>/<speaker>/*.npy`, (T, 40) each)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from models.encoder import EncoderConfig, SpeakerEncoderNet
from models.evaluation import equal_error_rate
from models.training.distributed import init_world, pick_device, shutdown
from models.training.ge2e import ge2e_loss
from models.training.loop import Loop, run_configs
from models.training.run import RunDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderTrainConfig:
    speakers_per_batch: int = 64
    utterances_per_speaker: int = 10
    learning_rate: float = 1e-4
    grad_clip: float = 3.0
    similarity_grad_scale: float = 0.01  # GE2E scale/bias gradients are scaled down
    save_every: int = 500
    log_every: int = 10
    seed: int = 0

    @classmethod
    def rtvc(cls) -> EncoderTrainConfig:
        return cls()

    @classmethod
    def small(cls) -> EncoderTrainConfig:
        return cls(speakers_per_batch=8, utterances_per_speaker=5, learning_rate=1e-3, save_every=100, log_every=1)


PRESETS = {"rtvc": (EncoderConfig.rtvc, EncoderTrainConfig.rtvc),
           "small": (EncoderConfig.small, EncoderTrainConfig.small)}


class MelSpeakers:
    """Preprocessed encoder data: speaker folders of (T, 40) float32 mel `.npy` files."""

    def __init__(self, root: Path, frames: int) -> None:
        self.frames = frames
        self.speakers: list[list[Path]] = []
        for d in sorted(p for p in Path(root).iterdir() if p.is_dir()):
            files = sorted(d.glob("*.npy"))
            if files:
                self.speakers.append(files)
        if len(self.speakers) < 2:
            raise ValueError(f"{root}: need at least 2 speaker folders of .npy mels, found {len(self.speakers)}")

    def batch(self, rng: np.random.Generator, n: int, m: int) -> np.ndarray:
        """(n * m, frames, 40): m random crops of utterances of each of n random speakers."""
        spk = rng.choice(len(self.speakers), size=n, replace=n > len(self.speakers))
        out = []
        for s in spk:
            files = self.speakers[s]
            for i in rng.choice(len(files), size=m, replace=m > len(files)):
                mel = np.load(files[i], mmap_mode="r")
                start = int(rng.integers(0, mel.shape[0] - self.frames + 1))  # every start is possible
                out.append(np.asarray(mel[start:start + self.frames], dtype=np.float32))
        return np.stack(out)


def train_encoder(run_path: Path, data: Path, config: str = "rtvc", resume: bool = False,
                  max_steps: int | None = None) -> int:
    """Train (or resume) a GE2E encoder run. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, "encoder", PRESETS, EncoderConfig,
                                           EncoderTrainConfig)
        device = pick_device()
        dataset = MelSpeakers(data, model_cfg.partial_frames)
        torch.manual_seed(train_cfg.seed)
        net = SpeakerEncoderNet(model_cfg).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=train_cfg.learning_rate)
        loop = Loop("encoder", run, world, net, model_cfg, optimizer, train_cfg.seed,
                    train_cfg.save_every, train_cfg.log_every)
        step = loop.resume() if resume else 0
        model = DistributedDataParallel(net) if world.distributed else net
        n, m = train_cfg.speakers_per_batch, train_cfg.utterances_per_speaker

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            batch = torch.from_numpy(dataset.batch(rng, n, m)).to(device)
            embeds = model(batch).view(n, m, -1).cpu()
            loss, sim = ge2e_loss(embeds, net.similarity_weight.cpu(), net.similarity_bias.cpu())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for p in (net.similarity_weight, net.similarity_bias):
                p.grad *= train_cfg.similarity_grad_scale
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.grad_clip)
            optimizer.step()
            return {"loss": loss.item(), "eer": _eer(sim), "grad_norm": float(grad_norm),
                    "w": net.similarity_weight.item(), "b": net.similarity_bias.item()}

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)


def _eer(sim: torch.Tensor) -> float:
    n, m, _ = sim.shape
    labels = torch.eye(n, dtype=torch.bool).unsqueeze(1).expand(n, m, n)
    return equal_error_rate(sim.reshape(-1).numpy(), labels.reshape(-1).numpy())
