"""Training the iSTFT vocoder (models.vocoder.istft) on real speech.

Data: any folder of audio files (searched recursively), e.g. the LibriSpeech train-clean-100 readers.
Each step cuts random segments, optionally changes their speed by resampling (pitch and formants move
together: new voices from few speakers) and their level, and computes the synthesizer's mel of each
segment on the fly, so the vocoder sees exactly the mels the synthesizer is trained to produce.
Fine-tuning: a folder of synthesizer-aligned mels (`sv2tts preprocess gta`, models.data.gta) gives
`gta_share` of each batch as (predicted mel, real audio) pairs, the rest as above from the same audio;
`init_from` starts the run from trained weights.

Losses: multi-scale log-mel L1 of the audio, L1 of the predicted log magnitude, and the anti-wrapped
phase losses of APNet (Ai & Ling 2023: instantaneous phase, group delay, instantaneous frequency)
against the target's own STFT; optionally APNet's STFT consistency (the predicted magnitude against the
magnitude the overlap-added output really has). A synthesizer-aligned mel fixes the recording's envelope
but not its waveform, so its phase is no target: with `gta_phase_losses` off those segments learn their
phase from the mel and consistency losses only (measured: phase learnt on real mels alone left the
bundled synthesizer's clones harder to recognise than Griffin-Lim's, while the same magnitudes with
Griffin-Lim phase were not); after `adversarial_from` steps also a multi-period + multi-resolution
discriminator (LSGAN) with feature matching. On a 2-core CPU the discriminators cost ~20x the
generator per step, so the default run trains without them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch
from torch.nn.parallel import DistributedDataParallel

from models.audio import AUDIO_SUFFIXES, load_audio, peak_normalize, synth_mel
from models.training.distributed import init_world, pick_device, shutdown
from models.training.gan import (
    Discriminators,
    MultiScaleMelLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from models.training.loop import Loop, run_configs
from models.training.run import RunDir
from models.vocoder.istft import KIND, IstftConfig, IstftNet, overlap_add, spectrum

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IstftTrainConfig:
    batch_size: int = 16
    segment_frames: int = 48  # mel frames per training segment (0.6 s)
    learning_rate: float = 5e-4
    warmup_steps: int = 500
    decay_per_1k: float = 0.98  # learning rate x this every 1000 steps
    betas: tuple[float, float] = (0.8, 0.9)
    adversarial_from: int = -1  # the step from which the discriminators take part (-1: never)
    mel_weight: float = 45.0
    magnitude_weight: float = 10.0
    phase_weight: float = 10.0  # each of the three phase losses
    gta_phase_losses: bool = True  # False: synthesizer-aligned segments get no phase losses (see below)
    consistency_weight: float = 0.0  # L1 between the predicted log magnitude and that of the output's own STFT
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    clip_grad_norm: float = 100.0
    speed_probability: float = 0.5  # share of segments resampled by a random factor
    speed_range: float = 0.12  # factor in [1 / (1 + r), 1 + r]
    gain_db: tuple[float, float] = (-9.0, 1.0)
    peak: float = 0.9  # utterances are peak-normalised to this before the gain
    gta_share: float = 0.5  # with synthesizer-aligned data: share of segments with the predicted mel
    init_from: str = ""  # weights (.safetensors) a new run starts from (fine-tuning)
    extra_audio: str = ""  # with synthesizer-aligned data: a folder of more audio for the real-mel segments
    save_every: int = 250
    log_every: int = 10
    seed: int = 0

    @classmethod
    def default(cls) -> IstftTrainConfig:
        return cls()

    @classmethod
    def tiny(cls) -> IstftTrainConfig:
        return cls(batch_size=4, segment_frames=16, warmup_steps=1, adversarial_from=3, save_every=5, log_every=1)


PRESETS = {"default": (IstftConfig.default, IstftTrainConfig.default),
           "tiny": (IstftConfig.tiny, IstftTrainConfig.tiny)}


class AudioPool:
    """Every utterance of a folder in memory, peak-normalised; random augmented segments from it.

    With a synthesizer-aligned (GTA) folder, `gta` holds (predicted mel (80, T), audio) pairs and
    `waves` their audio, peak-normalised, for the real-mel segments.
    """

    def __init__(self, root: Path, peak: float, extra_audio: str | Path = "") -> None:
        from models.data.gta import is_gta_folder, read_gta_data

        self.gta: list[tuple[np.ndarray, np.ndarray]] = []
        self.waves: list[np.ndarray] = []
        if is_gta_folder(root):
            items = read_gta_data(root)
            self.gta = [(it["mel_gta"], it["audio"]) for it in items]
            self.waves = [peak_normalize(it["audio"], peak) for it in items]
        for folder in [root] * (not self.gta) + [Path(extra_audio)] * bool(extra_audio):
            files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise ValueError(f"{folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found")
            self.waves += [peak_normalize(load_audio(f), peak) for f in files]
        self.weights = _by_length([len(w) for w in self.waves])
        self.gta_weights = _by_length([len(a) for _, a in self.gta])
        log.info("vocoder data: %d utterances, %.1f min (%d synthesizer-aligned)", len(self.waves),
                 sum(map(len, self.waves)) / 16000 / 60, len(self.gta))

    def segment(self, rng: np.random.Generator, n: int, cfg: IstftTrainConfig) -> np.ndarray:
        """A random (n,) float32 segment, speed- and gain-augmented, zero-padded if too short."""
        wav = self.waves[int(rng.choice(len(self.waves), p=self.weights))]
        factor = 1.0
        if rng.random() < cfg.speed_probability:
            factor = math.exp(rng.uniform(-math.log1p(cfg.speed_range), math.log1p(cfg.speed_range)))
        need = int(math.ceil(n * factor)) + 64
        start = int(rng.integers(0, max(1, len(wav) - need)))
        piece = wav[start:start + need]
        if factor != 1.0:  # played back at 16 kHz, pitch and formants scale by `factor`
            piece = soxr.resample(piece, 16000 * factor, 16000).astype(np.float32)
        piece = np.pad(piece, (0, max(0, n - len(piece))))[:n]
        gain = 10 ** (rng.uniform(*cfg.gain_db) / 20)
        peak = float(np.abs(piece).max(initial=0.0))
        gain = min(gain, 0.99 / peak) if peak > 0 else gain
        return (piece * gain).astype(np.float32)

    def gta_segment(self, rng: np.random.Generator, frames: int, hop: int, half: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        """A predicted mel (80, frames) and its audio with `half` samples of context on both sides."""
        mel, wav = self.gta[int(rng.choice(len(self.gta), p=self.gta_weights))]
        o = int(rng.integers(0, max(1, mel.shape[1] - frames + 1)))
        n = (frames - 1) * hop + 2 * half
        padded = np.pad(wav, (half, max(0, o * hop + n - len(wav) - half)))  # index j = sample j - half
        mel = np.pad(mel[:, o:o + frames], ((0, 0), (0, max(0, frames - mel.shape[1] + o))),
                     constant_values=-4.0)
        return mel, padded[o * hop:o * hop + n].astype(np.float32)


def _by_length(lengths: list[int]) -> np.ndarray:
    a = np.asarray(lengths, dtype=np.float64)
    return a / a.sum() if a.size else a


def training_batch(pool: AudioPool, rng: np.random.Generator, cfg: IstftTrainConfig, model: IstftConfig
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mels (B, 80, S) of the segments, their audio with context (B, (S - 1) * hop + n_fft) and (B,)
    bool: which segments have a synthesizer-aligned (predicted) mel.

    Each segment carries n_fft / 2 extra samples on both sides so that its S mel frames are the
    frames the whole utterance's mel would have there (centred frames need half a window around them);
    the vocoder's target is the middle (S - 1) * hop samples.
    """
    s, hop, half = cfg.segment_frames, model.hop, model.n_fft // 2
    edge = half // hop
    n = (s - 1) * hop + 2 * half
    mels, wavs, gta = [], [], []
    for _ in range(cfg.batch_size):
        gta.append(bool(pool.gta) and rng.random() < cfg.gta_share)
        if gta[-1]:
            mel, x = pool.gta_segment(rng, s, hop, half)
        else:
            x = pool.segment(rng, n, cfg)
            mel = synth_mel(x)[:, edge:edge + s]  # (80, S)
        mels.append(mel)
        wavs.append(x)
    return torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(wavs)), torch.tensor(gta)


def wrapped(x: torch.Tensor) -> torch.Tensor:
    """|x| after wrapping to [-pi, pi]: the distance between two phases."""
    return torch.abs(x - 2 * math.pi * torch.round(x / (2 * math.pi)))


def phase_losses(pred: torch.Tensor, true: torch.Tensor, items: torch.Tensor | None = None
                 ) -> dict[str, torch.Tensor]:
    """APNet's anti-wrapped phase losses between (B, F, T) phase spectrograms, over the (B,) bool `items`
    (all when None; zero when none)."""
    if items is not None:
        pred, true = pred[items], true[items]
    if pred.shape[0] == 0:
        zero = pred.sum() * 0.0  # keeps the graph (DDP expects every parameter to get a gradient)
        return {"phase": zero, "group_delay": zero, "inst_freq": zero}
    return {"phase": wrapped(pred - true).mean(),
            "group_delay": wrapped(torch.diff(pred, dim=1) - torch.diff(true, dim=1)).mean(),
            "inst_freq": wrapped(torch.diff(pred, dim=2) - torch.diff(true, dim=2)).mean()}


def consistency_loss(log_mag: torch.Tensor, audio: torch.Tensor, model: IstftConfig, window: torch.Tensor
                     ) -> torch.Tensor:
    """L1 between the predicted log magnitude (B, F, S) and the log magnitude of the overlap-added
    output's own STFT (audio (B, (S - 1) * hop), frame t centred on sample t * hop), on the frames whose
    window lies inside the segment."""
    edge = model.n_fft // 2 // model.hop
    again = torch.stft(audio, model.n_fft, model.hop, window=window, center=True, return_complex=True)
    s = log_mag.shape[-1]
    return torch.nn.functional.l1_loss(torch.log(again[..., edge:s - edge].abs().clamp_min(1e-5)),
                                       log_mag[..., edge:s - edge])


def target_spectrum(audio: torch.Tensor, model: IstftConfig, window: torch.Tensor) -> torch.Tensor:
    """The STFT frames of the segment's mel frames: (B, n_fft + (S-1) hop) -> (B, F, S) complex."""
    return torch.stft(audio, model.n_fft, model.hop, window=window, center=False, return_complex=True)


def learning_rate(step: int, cfg: IstftTrainConfig) -> float:
    return cfg.learning_rate * min(1.0, (step + 1) / cfg.warmup_steps) * cfg.decay_per_1k ** (step / 1000)


def train_istft_vocoder(run_path: Path, data: Path, config: str = "default", resume: bool = False,
                        max_steps: int | None = None) -> int:
    """Train (or resume) an iSTFT vocoder run on the audio files under `data`. Returns the final step."""
    world = init_world()
    try:
        run = RunDir(run_path)
        model_cfg, cfg = run_configs(run, config, resume, world, KIND, PRESETS, IstftConfig,
                                     IstftTrainConfig)
        pool = AudioPool(data, cfg.peak, cfg.extra_audio)
        device = pick_device()
        torch.manual_seed(cfg.seed)
        net, disc = IstftNet(model_cfg).to(device), Discriminators().to(device)
        if cfg.init_from and not resume:
            from models.vocoder.istft_vocoder import IstftVocoder

            start = IstftVocoder.from_file(cfg.init_from)
            # the network must be the same; how synthesized mels are prepared for it may differ
            same = dataclasses.replace(start.config, synthesized_mel_contrast=model_cfg.synthesized_mel_contrast)
            if same != model_cfg:
                raise ValueError(f"{cfg.init_from}: its model config differs from this run's ({start.config})")
            net.load_state_dict(start.net.state_dict())
        mel_loss = MultiScaleMelLoss(model_cfg.sample_rate).to(device)
        opt_g = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, betas=cfg.betas)
        opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.learning_rate, betas=cfg.betas)
        loop = Loop(KIND, run, world, net, model_cfg, opt_g, cfg.seed, cfg.save_every, cfg.log_every,
                    extras={"discriminators": disc, "optimizer_d": opt_d})
        step = loop.resume() if resume else 0
        gen = DistributedDataParallel(net) if world.distributed else net
        dis = DistributedDataParallel(disc) if world.distributed else disc
        net.train()
        disc.train()

        def one_step(step: int, rng: np.random.Generator) -> dict[str, float]:
            mels, audio, gta = (t.to(device) for t in training_batch(pool, rng, cfg, model_cfg))
            half = model_cfg.n_fft // 2
            target = audio[:, half:audio.shape[1] - half]  # (B, L)
            true_spec = target_spectrum(audio, model_cfg, net.window)  # (B, F, S)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = learning_rate(step, cfg)
            log_mag, phase = gen(mels)  # (B, F, S) each
            fake = overlap_add(spectrum(log_mag, phase), net.window, model_cfg.hop)  # (B, L)
            metrics = {"mel": mel_loss(fake, target),
                       "magnitude": torch.nn.functional.l1_loss(log_mag, torch.log(true_spec.abs().clamp_min(1e-5))),
                       **phase_losses(phase, torch.angle(true_spec), None if cfg.gta_phase_losses else ~gta)}
            loss = (cfg.mel_weight * metrics["mel"] + cfg.magnitude_weight * metrics["magnitude"]
                    + cfg.phase_weight * (metrics["phase"] + metrics["group_delay"] + metrics["inst_freq"]))
            if cfg.consistency_weight > 0:
                metrics["consistency"] = consistency_loss(log_mag, fake, model_cfg, net.window)
                loss = loss + cfg.consistency_weight * metrics["consistency"]
            if 0 <= cfg.adversarial_from <= step:
                scores = dis(torch.cat([target, fake.detach()]))
                n = target.shape[0]
                d_loss = discriminator_loss([(s[:n], []) for s, _ in scores], [(s[n:], []) for s, _ in scores])
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                metrics["d_grad_norm"] = torch.nn.utils.clip_grad_norm_(disc.parameters(), cfg.clip_grad_norm)
                opt_d.step()
                with torch.no_grad():
                    real_out = disc(target)
                fake_out = disc(fake)
                metrics.update(d=d_loss, adversarial=generator_loss(fake_out),
                               features=feature_matching_loss(real_out, fake_out))
                loss = loss + cfg.adversarial_weight * metrics["adversarial"] + cfg.feature_weight * metrics["features"]
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_grad_norm)
            opt_g.step()
            return {"loss": float(loss.detach()), "lr": learning_rate(step, cfg),
                    **{k: float(v.detach()) for k, v in metrics.items()}}

        return loop.train(one_step, step, max_steps)
    finally:
        shutdown(world)
