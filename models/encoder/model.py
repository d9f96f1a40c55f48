"""The GE2E speaker encoder network: 3-layer LSTM -> linear -> ReLU -> L2 normalisation."""

from __future__ import annotations

import torch
from torch import nn

from models.encoder.config import EncoderConfig


class SpeakerEncoderNet(nn.Module):
    """Maps partial utterances to unit-norm speaker embeddings.

    Parameter names match the published checkpoint (``lstm.*``, ``linear.*``, ``similarity_weight``,
    ``similarity_bias``) so it loads with ``strict=True``. The two similarity scalars are the GE2E
    loss's learnable scale and bias; they are unused at inference.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(config.mel_channels, config.hidden_size, config.num_layers, batch_first=True)
        self.linear = nn.Linear(config.hidden_size, config.embedding_size)
        self.relu = nn.ReLU()
        self.similarity_weight = nn.Parameter(torch.tensor([10.0]))
        self.similarity_bias = nn.Parameter(torch.tensor([-5.0]))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """mels: (B, T, 40) power mel frames. Returns (B, E) unit-norm embeddings (entries >= 0)."""
        _, (hidden, _) = self.lstm(mels)  # hidden: (layers, B, H)
        raw = self.relu(self.linear(hidden[-1]))  # (B, E)
        return raw / (torch.norm(raw, dim=1, keepdim=True) + self.config.norm_epsilon)
