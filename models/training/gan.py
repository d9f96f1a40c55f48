"""Losses and discriminators for training waveform generators (the iSTFT vocoder).

* :class:`MultiScaleMelLoss`: L1 between log-mel spectrograms at several window sizes (as in DAC).
* :class:`MultiPeriodDiscriminator` (HiFi-GAN): 2-D convs over the waveform folded by a period.
* :class:`MultiResolutionDiscriminator` (UnivNet/Vocos): 2-D convs over magnitude spectrograms.
Both are slimmed for CPU training (fewer channels than the papers). Adversarial losses are least
squares (LSGAN) with L1 feature matching.
"""

from __future__ import annotations

import librosa
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class MultiScaleMelLoss(nn.Module):
    """Mean over scales of L1(log10 mel(pred), log10 mel(true)). Audio (B, L) at `sample_rate`."""

    def __init__(self, sample_rate: int = 16_000, windows: tuple[int, ...] = (128, 256, 512, 1024, 2048),
                 n_mels: tuple[int, ...] = (16, 32, 64, 80, 128)) -> None:
        super().__init__()
        self.windows = windows
        for w, m in zip(windows, n_mels, strict=True):
            basis = librosa.filters.mel(sr=sample_rate, n_fft=w, n_mels=m, fmin=0.0, fmax=sample_rate / 2)
            self.register_buffer(f"mel_{w}", torch.from_numpy(basis), persistent=False)
            self.register_buffer(f"win_{w}", torch.hann_window(w), persistent=False)

    def forward(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        loss = pred.new_zeros(())
        for w in self.windows:
            loss = loss + F.l1_loss(self.log_mel(pred, w), self.log_mel(true, w))
        return loss / len(self.windows)

    def log_mel(self, x: torch.Tensor, w: int) -> torch.Tensor:
        """(B, L) -> (B, n_mels, frames) log10 mel at window `w` (hop w / 4)."""
        spec = torch.stft(x, w, w // 4, window=getattr(self, f"win_{w}"), return_complex=True).abs()
        return torch.log10((getattr(self, f"mel_{w}") @ spec).clamp_min(1e-5))


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        self.period = period
        convs, c_in = [], 1
        for c_out in channels:
            convs.append(weight_norm(nn.Conv2d(c_in, c_out, (5, 1), (3, 1), padding=(2, 0))))
            c_in = c_out
        convs.append(weight_norm(nn.Conv2d(c_in, c_in, (5, 1), 1, padding=(2, 0))))
        self.convs = nn.ModuleList(convs)
        self.out = weight_norm(nn.Conv2d(c_in, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = x.shape  # (B, L)
        x = F.pad(x, (0, (-n) % self.period), mode="reflect").view(b, 1, -1, self.period)
        return conv_stack(self.convs, self.out, x)


def conv_stack(convs: nn.ModuleList, out: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv layers then the output conv: (flattened scores, every layer's features)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = out(x)
    feats.append(x)
    return x.flatten(1), feats


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11)) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p) for p in periods)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(x) for d in self.discriminators]


class ResolutionDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, channels: int = 32) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        k = (3, 9)
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, k, padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True).abs()
        x = spec.transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        return conv_stack(self.convs, self.out, x)


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, resolutions: tuple[tuple[int, int], ...] = ((1024, 256), (512, 128), (256, 64))) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(n, h) for n, h in resolutions)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(x) for d in self.discriminators]


class Discriminators(nn.Module):
    """MPD + MRD as one module (one optimizer, one state dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator()
        self.mrd = MultiResolutionDiscriminator()

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return self.mpd(x) + self.mrd(x)


def discriminator_loss(real: list[tuple[torch.Tensor, list]], fake: list[tuple[torch.Tensor, list]]
                       ) -> torch.Tensor:
    """LSGAN: real scores towards 1, fake towards 0 (mean over sub-discriminators)."""
    loss = sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for (r, _), (f, _) in zip(real, fake, strict=True))
    return loss / len(real)


def generator_loss(fake: list[tuple[torch.Tensor, list]]) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f, _ in fake) / len(fake)


def feature_matching_loss(real: list[tuple[torch.Tensor, list]], fake: list[tuple[torch.Tensor, list]]
                          ) -> torch.Tensor:
    loss, count = 0.0, 0
    for (_, fr), (_, ff) in zip(real, fake, strict=True):
        for a, b in zip(fr, ff, strict=True):
            loss = loss + F.l1_loss(b, a.detach())
            count += 1
    return loss / count
