"""The fatchord WaveRNN network (published layout): mel upsampler + autoregressive GRU core.

Parameter names, shapes and registration order match the published ``vocoder.pt`` so that a strict
``load_state_dict`` works. Generation lives elsewhere (``fast.py``, ``naive.py``); this module only
holds the network and a teacher-forced forward for training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.vocoder.config import VocoderConfig


class ResBlock(nn.Module):
    def __init__(self, dims: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dims, dims, kernel_size=1, bias=False)
        self.conv2 = nn.Conv1d(dims, dims, kernel_size=1, bias=False)
        self.batch_norm1 = nn.BatchNorm1d(dims)
        self.batch_norm2 = nn.BatchNorm1d(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        y = F.relu(self.batch_norm1(self.conv1(x)))
        return self.batch_norm2(self.conv2(y)) + x


class MelResNet(nn.Module):
    """Mel (B, 80, T) -> aux features (B, res_out_dims, T - 2 pad)."""

    def __init__(self, c: VocoderConfig) -> None:
        super().__init__()
        self.conv_in = nn.Conv1d(c.n_mels, c.compute_dims, kernel_size=2 * c.pad + 1, bias=False)
        self.batch_norm = nn.BatchNorm1d(c.compute_dims)
        self.layers = nn.ModuleList(ResBlock(c.compute_dims) for _ in range(c.res_blocks))
        self.conv_out = nn.Conv1d(c.compute_dims, c.res_out_dims, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.batch_norm(self.conv_in(x)))
        for layer in self.layers:
            x = layer(x)
        return self.conv_out(x)


class Stretch2d(nn.Module):
    """Nearest-neighbour repeat along time: (B, C, F, T) -> (B, C, F, T * x)."""

    def __init__(self, x_scale: int) -> None:
        super().__init__()
        self.x_scale = x_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.x_scale, dim=-1)


class UpsampleNetwork(nn.Module):
    """Mel (B, 80, T) -> (mels (B, (T - 2 pad) hop, 80), aux (B, (T - 2 pad) hop, res_out_dims))."""

    def __init__(self, c: VocoderConfig) -> None:
        super().__init__()
        self.hop = c.hop_length
        self.indent = c.pad * c.hop_length
        self.resnet = MelResNet(c)
        self.resnet_stretch = Stretch2d(c.hop_length)
        layers: list[nn.Module] = []
        for s in c.upsample_factors:
            conv = nn.Conv2d(1, 1, kernel_size=(1, 2 * s + 1), padding=(0, s), bias=False)
            with torch.no_grad():
                conv.weight.fill_(1.0 / (2 * s + 1))  # box filter
            layers += [Stretch2d(s), conv]
        self.up_layers = nn.ModuleList(layers)  # parameters at indices 1, 3, 5

    def forward(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        aux = self.resnet_stretch(self.resnet(m))  # (B, A, (T - 2 pad) hop)
        x = m.unsqueeze(1)  # (B, 1, 80, T)
        for f in self.up_layers:
            x = f(x)
        x = x.squeeze(1)[:, :, self.indent:-self.indent]  # (B, 80, (T - 2 pad) hop)
        return x.transpose(1, 2), aux.transpose(1, 2)


class WaveRNN(nn.Module):
    """fatchord WaveRNN, RAW mode: logits over 2**bits mu-law classes for each next sample."""

    def __init__(self, config: VocoderConfig) -> None:
        super().__init__()
        c = self.config = config
        self.upsample = UpsampleNetwork(c)
        self.I = nn.Linear(c.n_mels + c.aux_dims + 1, c.rnn_dims)  # [x_prev | mel | a1]
        self.rnn1 = nn.GRU(c.rnn_dims, c.rnn_dims, batch_first=True)
        self.rnn2 = nn.GRU(c.rnn_dims + c.aux_dims, c.rnn_dims, batch_first=True)  # [x | a2]
        self.fc1 = nn.Linear(c.rnn_dims + c.aux_dims, c.fc_dims)  # [x | a3]
        self.fc2 = nn.Linear(c.fc_dims + c.aux_dims, c.fc_dims)  # [x | a4]
        self.fc3 = nn.Linear(c.fc_dims, c.n_classes)
        # Training-step counter; an int64 Parameter in the published file (never trained).
        self.step = nn.Parameter(torch.zeros(1, dtype=torch.long), requires_grad=False)

    def conditioning(self, mels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Upsampled conditioning. mels: (B, 80, T) on the network's [-1, 1] scale, already padded.

        Returns (m (B, L, 80), a1, a2, a3, a4 each (B, L, aux_dims)) with L = (T - 2 pad) * hop.
        """
        m, aux = self.upsample(mels)
        return (m, *aux.split(self.config.aux_dims, dim=-1))

    def forward(self, x: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits.

        Args:
            x: (B, L) previous samples in [-1, 1] (label -> 2 label / (n_classes - 1) - 1).
            mels: (B, 80, L / hop + 2 pad) mel windows on the [-1, 1] scale.
        Returns:
            logits: (B, L, n_classes).
        """
        m, a1, a2, a3, a4 = self.conditioning(mels)
        h = self.I(torch.cat([x.unsqueeze(-1), m, a1], dim=-1))  # (B, L, R)
        y, _ = self.rnn1(h)
        h = h + y
        y, _ = self.rnn2(torch.cat([h, a2], dim=-1))
        h = h + y
        h = F.relu(self.fc1(torch.cat([h, a3], dim=-1)))
        h = F.relu(self.fc2(torch.cat([h, a4], dim=-1)))
        return self.fc3(h)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
