"""A duration-based synthesizer: phones with frame durations + speaker embedding -> 80-band mel.

The demo model shipped in ``pretrained/`` (see MODEL_CARD.md). Attention-free, so it needs no
alignment to be learnt, which a Tacotron does not manage within a CPU budget: the durations come
from flite's phone timings (training and synthesis alike), the voice from the 256-d GE2E embedding,
which modulates every convolution block (FiLM: per-channel scale and shift).

    phones (B, N) -> embedding -> encoder conv blocks -> repeat each phone for its frames
    + within-phone position features -> dilated decoder conv blocks -> mel_dec (B, 80, T)
    -> postnet (residual) -> mel_post

With `variance=True` each phone's encoding also gets a projection (kernel-3 convolution, zero at
initialisation so a model without it can be fine-tuned into one) of its normalised pitch and energy
(models.synthesizer.phone_variance): the ground truth in training, predicted values at synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.text.phones import PAD_PHONE_ID, PHONES

SILENCE = -4.0  # the bottom of the [-4, 4] mel scale


@dataclass(frozen=True)
class PhoneSynthConfig:
    n_phones: int = len(PHONES)
    speaker_dim: int = 256
    n_mels: int = 80
    phone_dim: int = 192
    encoder_layers: int = 4
    encoder_kernel: int = 5
    decoder_dim: int = 192
    decoder_kernel: int = 5
    decoder_dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    postnet_layers: int = 3
    dropout: float = 0.1
    frames_per_second: float = 80.0  # 16 kHz / hop 200
    flite_voice: str = "slt"  # whose timings the model was trained on and synthesizes with
    variance: bool = False  # phones also get their pitch and energy (see the module doc)

    @classmethod
    def small(cls) -> PhoneSynthConfig:
        return cls()

    @classmethod
    def tiny(cls) -> PhoneSynthConfig:
        """For tests: a few thousand parameters."""
        return cls(phone_dim=16, encoder_layers=1, decoder_dim=16, decoder_dilations=(1, 2), postnet_layers=1)


class FiLMConv(nn.Module):
    """Residual block: conv -> GELU -> LayerNorm -> speaker scale/shift -> dropout, added to the input."""

    def __init__(self, dim: int, kernel: int, dilation: int, speaker_dim: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.norm = nn.LayerNorm(dim)
        self.film = nn.Linear(speaker_dim, 2 * dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, speaker: torch.Tensor, mask: torch.Tensor,
                film: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, T), speaker (B, S), mask (B, 1, T) -> (B, C, T) (zero where masked).

        film: this block's `self.film(speaker)` (B, 2C) when already computed (PhoneSynth.films)."""
        y = F.gelu(self.conv(x * mask))
        y = self.norm(y.transpose(1, 2)).transpose(1, 2)
        scale, shift = (self.film(speaker) if film is None else film).unsqueeze(-1).chunk(2, dim=1)
        return (x + self.dropout(y * (1 + scale) + shift)) * mask


def expand(durations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frame-level indexing of phone durations.

    durations: (B, N) int frames per phone (0 for padding).
    Returns index (B, T) of each frame's phone, features (B, 2, T) [position within the phone in
    (0, 1), log(1 + duration) / 4] and mask (B, 1, T) of real frames; T is the longest total.
    """
    b, n = durations.shape
    ends = durations.cumsum(1)  # (B, N)
    lengths = ends[:, -1] if n else torch.zeros(b, dtype=durations.dtype, device=durations.device)
    t = int(lengths.max().item()) if b else 0
    frames = torch.arange(t, device=durations.device)
    index = torch.searchsorted(ends, frames.expand(b, t).contiguous(), right=True).clamp_max(max(n - 1, 0))
    starts = ends - durations
    d = durations.gather(1, index).to(torch.float32)
    pos = (frames[None, :] - starts.gather(1, index) + 0.5) / d.clamp_min(1.0)
    mask = (frames[None, :] < lengths[:, None]).unsqueeze(1).to(torch.float32)
    features = torch.stack([pos, torch.log1p(d) / 4.0], dim=1) * mask
    return index, features, mask


class PhoneSynth(nn.Module):
    def __init__(self, config: PhoneSynthConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embedding = nn.Embedding(c.n_phones + 1, c.phone_dim, padding_idx=PAD_PHONE_ID)
        self.encoder = nn.ModuleList(FiLMConv(c.phone_dim, c.encoder_kernel, 1, c.speaker_dim, c.dropout)
                                     for _ in range(c.encoder_layers))
        if c.variance:
            self.variance = nn.Conv1d(2, c.phone_dim, 3, padding=1)
            nn.init.zeros_(self.variance.weight)
            nn.init.zeros_(self.variance.bias)
        self.bridge = nn.Linear(c.phone_dim, c.decoder_dim)
        self.frame_features = nn.Linear(2, c.decoder_dim)
        self.decoder = nn.ModuleList(FiLMConv(c.decoder_dim, c.decoder_kernel, d, c.speaker_dim, c.dropout)
                                     for d in c.decoder_dilations)
        self.to_mel = nn.Linear(c.decoder_dim, c.n_mels)
        self.postnet_in = nn.Conv1d(c.n_mels, c.decoder_dim, 5, padding=2)
        self.postnet = nn.ModuleList(FiLMConv(c.decoder_dim, 5, 1, c.speaker_dim, c.dropout)
                                     for _ in range(c.postnet_layers))
        self.postnet_out = nn.Conv1d(c.decoder_dim, c.n_mels, 5, padding=2)

    def blocks(self) -> list[FiLMConv]:
        """Every speaker-modulated block, in the order forward runs them."""
        return [*self.encoder, *self.decoder, *self.postnet]

    def films(self, speaker: torch.Tensor) -> list[torch.Tensor]:
        """Every block's FiLM (B, 2C) of `speaker` (B, S). Training computes them block by block; in eval
        mode one matrix product over the blocks' stacked weights (kept until train() is called) does it,
        saving a small product per block per sentence."""
        blocks = self.blocks()
        if self.training:
            return [b.film(speaker) for b in blocks]
        key = (speaker.dtype, speaker.device, tuple(b.film.weight._version + b.film.bias._version for b in blocks))
        if getattr(self, "_film_cache", (None,))[0] != key:
            weight = torch.cat([b.film.weight for b in blocks]).to(speaker.dtype)
            bias = torch.cat([b.film.bias for b in blocks]).to(speaker.dtype)
            self._film_cache = (key, weight.detach(), bias.detach())
        _, weight, bias = self._film_cache
        return list(F.linear(speaker, weight, bias).split([b.film.out_features for b in blocks], dim=1))

    def train(self, mode: bool = True) -> PhoneSynth:
        self.__dict__.pop("_film_cache", None)  # weights may change
        return super().train(mode)

    def forward(self, phones: torch.Tensor, durations: torch.Tensor, speaker: torch.Tensor,
                variance: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """phones (B, N) IDs (PAD_PHONE_ID padding), durations (B, N) frames, speaker (B, 256); with a
        `variance` config, variance (B, 2, N) normalised pitch and energy (None: zeros).

        Returns mel_dec and mel_post (B, 80, T) (silence after each item's end) and mask (B, 1, T).
        """
        x = self.embedding(phones).transpose(1, 2)  # (B, C, N)
        phone_mask = (phones != PAD_PHONE_ID).unsqueeze(1).to(x.dtype)
        films = iter(self.films(speaker))
        for block in self.encoder:
            x = block(x, speaker, phone_mask, next(films))
        if self.config.variance and variance is not None:
            x = x + self.variance(variance.to(x.dtype) * phone_mask) * phone_mask
        index, features, mask = expand(durations * (phones != PAD_PHONE_ID))
        features, mask = features.to(x.dtype), mask.to(x.dtype)
        x = self.bridge(x.transpose(1, 2))  # (B, N, D)
        h = x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1])).transpose(1, 2)  # (B, D, T)
        h = (h + self.frame_features(features.transpose(1, 2)).transpose(1, 2)) * mask
        for block in self.decoder:
            h = block(h, speaker, mask, next(films))
        mel_dec = self.to_mel(h.transpose(1, 2)).transpose(1, 2)
        y = self.postnet_in(mel_dec * mask)
        for block in self.postnet:
            y = block(y, speaker, mask, next(films))
        mel_post = mel_dec + self.postnet_out(y * mask)
        fill = torch.full_like(mel_dec, SILENCE)
        return {"mel_dec": torch.where(mask > 0, mel_dec, fill), "mel_post": torch.where(mask > 0, mel_post, fill),
                "mask": mask}
