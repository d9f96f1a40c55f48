"""A fast frame-rate vocoder: ConvNeXt blocks over the mel predict an STFT, an inverse STFT gives audio.

The design follows the Vocos idea (Siuzdenko et al. 2023): everything runs at the mel's frame rate
(80 frames/s) and the waveform comes from one inverse FFT per frame, so the cost per second of audio
is a few MFLOP per frame instead of WaveRNN's four GEMMs per *sample*. The head predicts a log
magnitude and a phase for each of the 401 bins of the synthesizer's own STFT (n_fft 800, hop 200,
Hann window), so frame t is centred on sample t * hop exactly as in :func:`models.audio.synth_mel`.

Shapes: mel (B, 80, T) on the synthesizer's [-4, 4] scale -> audio (B, (T - 1) * hop) in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

KIND = "istft-vocoder"


@dataclass(frozen=True)
class IstftConfig:
    """Hyper-parameters of :class:`IstftNet`, stored in the safetensors header with the weights."""

    n_mels: int = 80
    mel_max_abs: float = 4.0  # the network sees mel / mel_max_abs
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel: int = 7
    n_fft: int = 800
    hop: int = 200
    sample_rate: int = 16_000
    max_log_magnitude: float = 4.6  # exp(4.6) ~ 100: caps the magnitude as a safety net
    # How much a synthesizer's mel is contrast-enhanced before this vocoder renders it (1: not at all;
    # models.vocoding.synthesized_input). Set when the model is exported, from measurements on
    # training voices (pretrained/MODEL_CARD.md); real mels (resynthesis, `sv2tts vocode`) are never changed.
    synthesized_mel_contrast: float = 1.0

    def __post_init__(self) -> None:
        if self.kernel % 2 != 1 or self.n_fft % self.hop or self.n_fft // self.hop < 2:
            raise ValueError(f"need an odd kernel and n_fft a multiple (>= 2) of hop; got {self}")
        for name in ("n_mels", "dim", "intermediate", "layers", "n_fft", "hop", "sample_rate"):
            if not 0 < getattr(self, name) <= 1 << 16:
                raise ValueError(f"IstftConfig.{name} = {getattr(self, name)} is out of range")
        if not 1.0 <= self.synthesized_mel_contrast <= 3.0:
            raise ValueError(f"IstftConfig.synthesized_mel_contrast = {self.synthesized_mel_contrast} is not in [1, 3]")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def context(self) -> int:
        """Mel frames on each side that influence one output frame (the receptive-field radius)."""
        return (self.kernel // 2) * (self.layers + 1)

    @classmethod
    def default(cls) -> IstftConfig:
        """The bundled model (3.6 M parameters)."""
        return cls()

    @classmethod
    def tiny(cls) -> IstftConfig:
        """For tests: same I/O, narrow layers."""
        return cls(dim=32, intermediate=64, layers=2)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, with a residual. x: (B, C, T)."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)  # (B, T, C)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class IstftNet(nn.Module):
    """mel (B, 80, T) -> (log magnitude, phase), each (B, n_fft // 2 + 1, T)."""

    def __init__(self, config: IstftConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel, padding=c.kernel // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(c.dim, c.intermediate, c.kernel, 1.0 / c.layers)
                                    for _ in range(c.layers))
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, 2 * c.n_bins)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.apply(_init)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        x = self.embed(mel / c.mel_max_abs)  # (B, dim, T)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (B, 2F, T)
        log_mag, phase = out.split(c.n_bins, dim=1)
        return log_mag.clamp(max=c.max_log_magnitude), phase

    def waveform(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, 80, T) -> audio (B, (T - 1) * hop)."""
        log_mag, phase = self(mel)
        return overlap_add(spectrum(log_mag, phase), self.window, self.config.hop)


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)


def spectrum(log_mag: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Complex STFT (B, F, T) from log magnitude and phase (B, F, T)."""
    mag = torch.exp(log_mag)
    return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))


def overlap_add(spec: torch.Tensor, window: torch.Tensor, hop: int) -> torch.Tensor:
    """Inverse of models.audio.stft (centred frames): (B, F, T) complex -> (B, (T - 1) * hop).

    Frame t is centred on sample t * hop; each output sample is divided by the sum of the squared
    windows of the frames that cover it (all of them exist, so the edges are exact too).
    """
    audio, envelope = overlap_add_frames(spec, window, hop)
    half, n = window.shape[0] // 2, (spec.shape[-1] - 1) * hop
    return audio[:, half:half + n] / envelope[half:half + n]


def overlap_add_frames(spec: torch.Tensor, window: torch.Tensor, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed inverse FFT of each frame, overlap-added: (B, F, n) -> audio (B, (n - 1) * hop + n_fft)
    and the squared-window envelope ((n - 1) * hop + n_fft,) of those n frames (clamped above 0).
    Index j of the result is sample (first frame) * hop - n_fft // 2 + j of the utterance."""
    n_fft, n_frames = window.shape[0], spec.shape[-1]
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]  # (B, n_fft, n)
    fold = dict(output_size=(1, (n_frames - 1) * hop + n_fft), kernel_size=(1, n_fft), stride=(1, hop))
    audio = F.fold(frames, **fold)[:, 0, 0]  # (B, length)
    envelope = F.fold(window.square()[None, :, None].expand(1, n_fft, n_frames), **fold)[0, 0, 0]
    return audio, envelope.clamp_min(1e-8)


def n_parameters(config: IstftConfig) -> int:
    """Parameter count of an IstftNet of this config (without building it)."""
    c = config
    block = c.dim * c.kernel + c.dim + 2 * c.dim + 2 * c.dim * c.intermediate + c.intermediate + c.dim + c.dim
    return (c.n_mels * c.dim * c.kernel + c.dim + 2 * c.dim + c.layers * block + 2 * c.dim
            + c.dim * 2 * c.n_bins + 2 * c.n_bins)

