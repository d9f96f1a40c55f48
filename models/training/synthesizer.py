"""Tacotron training on preprocessed data: reduction-factor/learning-rate schedule, the reference
losses (decoder MSE + L1, postnet MSE, stop BCE), gradient clipping, attention plots as PNG."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from models.synthesizer.config import TacotronConfig
from models.synthesizer.tacotron import Tacotron
from models.text import PAD_ID, text_to_sequence
from models.training.data import Utterance, load_mel, read_metadata
from models.training.distributed import init_world, pick_device, shutdown
from models.training.loop import Loop, run_configs
from models.training.run import RunDir

log = logging.getLogger(__name__)

SILENCE = -4.0  # mel padding value (the bottom of the [-4, 4] scale)


@dataclass(frozen=True)
class SynthTrainConfig:
    # (r, learning rate, until step, batch size) per stage; the published schedule keeps r = 2.
    schedule: tuple[tuple[int, float, int, int], ...] = (
        (2, 1e-3, 20_000, 12), (2, 5e-4, 40_000, 12), (2, 2e-4, 80_000, 12),
        (2, 1e-4, 160_000, 12), (2, 3e-5, 320_000, 12), (2, 1e-5, 640_000, 12))
    clip_grad_norm: float = 1.0
    max_mel_frames: int = 900
    save_every: int = 1000
    log_every: int = 10
    plot_every: int = 500
    seed: int = 0

    @classmethod
    def rtvc(cls) -> SynthTrainConfig:
        return cls()

    @classmethod
    def small(cls) -> SynthTrainConfig:
        return cls(schedule=((3, 1e-3, 4_000, 16), (2, 5e-4, 20_000, 16), (2, 2e-4, 100_000, 16)),
                   save_every=200, log_every=10, plot_every=200)

    def stage(self, step: int) -> tuple[int, float, int]:
        """(r, lr, batch size) in force at `step`."""
        for r, lr, until, batch in self.schedule:
            if step < until:
                return r, lr, batch
        r, lr, _, batch = self.schedule[-1]
        return r, lr, batch


PRESETS = {"rtvc": (TacotronConfig.rtvc, SynthTrainConfig.rtvc),
           "small": (TacotronConfig.small, SynthTrainConfig.small)}


def collate(items: list[Utterance], r: int) -> dict[str, torch.Tensor]:
    """Pad a batch: text with the pad ID, mels with silence to (longest + 1) rounded up to r frames.

    Returns chars (B, T_x), text_lengths (B,), mels (B, 80, T), mel_lengths (B,), speaker (B, 256),
    stop_target (B, T): 0 before each item's last frame, 1 from it on (padding included).
    """
    seqs = [text_to_sequence(it.text) for it in items]
    mels = [load_mel(it) for it in items]
    t_x = max(len(s) for s in seqs)
    t_mel = max(m.shape[1] for m in mels) + 1
    t_mel += -t_mel % r
    chars = torch.full((len(items), t_x), PAD_ID, dtype=torch.long)
    mel_batch = torch.full((len(items), mels[0].shape[0], t_mel), SILENCE)
    stop = torch.ones(len(items), t_mel)
    for i, (s, m) in enumerate(zip(seqs, mels, strict=True)):
        chars[i, :len(s)] = torch.tensor(s)
        mel_batch[i, :, :m.shape[1]] = torch.from_numpy(m)
        stop[i, :m.shape[1] - 1] = 0
    return {"chars": chars, "text_lengths": torch.tensor([len(s) for s in seqs]), "mels": mel_batch,
            "mel_lengths": torch.tensor([m.shape[1] for m in mels]),
            "speaker": torch.from_numpy(np.stack([np.load(it.embed) for it in items]).astype(np.float32)),
            "stop_target": stop}


def losses(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference losses. The decoder is also trained on the padding (it learns silence after the end,
    as in the reference); the postnet masks padded frames to zero, so its loss covers real frames only."""
    y = batch["mels"]
    valid = (torch.arange(y.shape[2], device=y.device)[None, :] < batch["mel_lengths"][:, None])  # (B, T)
    valid = valid.unsqueeze(1).to(y.dtype)  # (B, 1, T)
    post_mse = ((out["mel_post"] - y) ** 2 * valid).sum() / (valid.sum() * y.shape[1])
    parts = {"mel_dec_mse": F.mse_loss(out["mel_dec"], y), "mel_dec_l1": F.l1_loss(out["mel_dec"], y),
             "mel_post_mse": post_mse,
             "stop_bce": F.binary_cross_entropy_with_logits(out["stop_logits"], batch["stop_target"])}
    return {"loss": sum(parts.values()), **parts}


def train_synthesizer(run_path: Path, data: Path, config: str = "rtvc", resume: bool = False,
                      max_steps: int | None = None) -> int:
    """Train (or resume) a Tacotron run. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, train_cfg = run_configs(run, config, resume, world, "synthesizer", PRESETS, TacotronConfig,
                                           SynthTrainConfig)
        items = read_metadata(data, max_frames=train_cfg.max_mel_frames)
        device = pick_device()
        torch.manual_seed(train_cfg.seed)
        net = Tacotron(model_cfg).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=train_cfg.schedule[0][1])
        loop = Loop("synthesizer", run, world, net, model_cfg, optimizer, train_cfg.seed,
                    train_cfg.save_every, train_cfg.log_every)
        step = loop.resume() if resume else 0
        model = DistributedDataParallel(net) if world.distributed else net
        net.train()

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            r, lr, batch_size = train_cfg.stage(step)
            net.decoder.r.fill_(r)
            for group in optimizer.param_groups:
                group["lr"] = lr
            chosen = rng.choice(len(items), size=batch_size, replace=batch_size > len(items))
            batch = {k: v.to(device) for k, v in collate([items[i] for i in chosen], r).items()}
            out = model(batch["chars"], batch["text_lengths"], batch["mels"], batch["speaker"], batch["mel_lengths"])
            parts = losses(out, batch)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train_cfg.clip_grad_norm)
            if torch.isfinite(grad_norm):
                optimizer.step()
            else:
                log.warning("step %d: non-finite gradient norm; update skipped", step)
            if world.is_main and (step + 1) % train_cfg.plot_every == 0:
                save_attention_plot(out["attention"][0].detach().cpu().numpy(),
                                    run.path / "plots" / f"attention_{step + 1:07d}.png", items[chosen[0]].text)
            return {**{k: v.item() for k, v in parts.items()}, "grad_norm": float(grad_norm), "r": r, "lr": lr}

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)


def save_attention_plot(attention: np.ndarray, path: Path, title: str) -> None:
    """attention: (decoder steps, T_x) -> a PNG with the text on the title."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    image = ax.imshow(attention.T, aspect="auto", origin="lower", interpolation="none")
    fig.colorbar(image, ax=ax)
    ax.set_xlabel("decoder step")
    ax.set_ylabel("character")
    ax.set_title(title[:80], fontsize=9)
    fig.savefig(path, dpi=80)
