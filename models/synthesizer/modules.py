"""Tacotron building blocks. Parameter names follow the published synthesizer.pt exactly.

Everything that runs over padded sequences takes `lengths` and masks the padding, so an item gives the
same output inside a padded batch as alone: convolutions see zeros past the end (as alone), the BiGRU
runs on packed sequences, and attention gives padded characters exactly zero weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True on valid positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class HighwayNetwork(nn.Module):
    """y = g * relu(W1 x) + (1 - g) * x with g = sigmoid(W2 x)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.W1 = nn.Linear(size, size)
        self.W2 = nn.Linear(size, size)
        self.W1.bias.data.fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.W2(x))
        return g * F.relu(self.W1(x)) + (1.0 - g) * x


class BatchNormConv(nn.Module):
    """Conv1d (no bias, 'same' padding of k // 2) -> optional ReLU -> BatchNorm1d (ReLU before BN)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, stride=1, padding=kernel // 2, bias=False)
        self.bnorm = nn.BatchNorm1d(out_channels)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.bnorm(F.relu(x) if self.relu else x)


class CBHG(nn.Module):
    """Conv bank (k = 1..K) -> max-pool -> 2 projections -> residual -> highways -> BiGRU.

    x: (B, in_channels, T) -> (B, T, channels) (BiGRU of channels // 2 per direction).
    """

    def __init__(self, K: int, in_channels: int, channels: int, proj_channels: tuple[int, int],
                 num_highways: int) -> None:
        super().__init__()
        self.conv1d_bank = nn.ModuleList([BatchNormConv(in_channels, channels, k) for k in range(1, K + 1)])
        self.maxpool = nn.MaxPool1d(kernel_size=2, stride=1, padding=1)
        self.conv_project1 = BatchNormConv(K * channels, proj_channels[0], 3)
        self.conv_project2 = BatchNormConv(proj_channels[0], proj_channels[1], 3, relu=False)
        if proj_channels[-1] != channels:
            self.pre_highway = nn.Linear(proj_channels[-1], channels, bias=False)
        else:
            self.pre_highway = None
        self.highways = nn.ModuleList([HighwayNetwork(channels) for _ in range(num_highways)])
        self.rnn = nn.GRU(channels, channels // 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        T = x.size(-1)
        valid = None if lengths is None else length_mask(lengths, T).unsqueeze(1).to(x.dtype)  # (B, 1, T)

        def zero_padding(t: torch.Tensor) -> torch.Tensor:
            return t if valid is None else t * valid

        residual = x
        x = zero_padding(x)
        x = torch.cat([conv(x)[:, :, :T] for conv in self.conv1d_bank], dim=1)  # (B, K*C, T)
        x = self.maxpool(x)[:, :, :T]  # out[t] = max(x[t-1], x[t]): never looks past the end
        x = self.conv_project1(zero_padding(x))
        x = self.conv_project2(zero_padding(x))
        x = (x + residual).transpose(1, 2)  # (B, T, C_proj)
        if self.pre_highway is not None:
            x = self.pre_highway(x)
        for highway in self.highways:
            x = highway(x)
        if lengths is None:
            return self.rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=T)[0]


class PreNet(nn.Module):
    """FC -> ReLU -> dropout -> FC -> ReLU -> dropout. Dropout is on at inference too, as trained.

    With `masks` (pre-scaled keep masks, broadcastable to each layer's output) the dropout is those
    masks, drawn by the caller from a seeded generator; otherwise F.dropout with the global RNG.
    """

    def __init__(self, in_dims: int, fc1_dims: int, fc2_dims: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dims, fc1_dims)
        self.fc2 = nn.Linear(fc1_dims, fc2_dims)
        self.p = dropout

    def forward(self, x: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.dropout(x, self.p, training=True) if masks is None else x * masks[0]
        x = F.relu(self.fc2(x))
        return F.dropout(x, self.p, training=True) if masks is None else x * masks[1]


class Encoder(nn.Module):
    """chars (B, T_x) + speaker embedding (B, S) -> (B, T_x, encoder_dims + S)."""

    def __init__(self, n_symbols: int, embed_dims: int, encoder_dims: int, K: int, num_highways: int,
                 dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, embed_dims)
        self.pre_net = PreNet(embed_dims, encoder_dims, encoder_dims, dropout)
        self.cbhg = CBHG(K, encoder_dims, encoder_dims, (encoder_dims, encoder_dims), num_highways)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor | None, speaker: torch.Tensor,
                masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.pre_net(self.embedding(chars), masks)  # (B, T_x, E)
        x = self.cbhg(x.transpose(1, 2), lengths)  # (B, T_x, E)
        return torch.cat([x, speaker[:, None, :].expand(-1, x.size(1), -1)], dim=2)


class LSA(nn.Module):
    """Location-sensitive attention (parameters only; the step is computed by the decoder)."""

    def __init__(self, attn_dims: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, filters, kernel_size=kernel, padding=kernel // 2, bias=True)
        self.L = nn.Linear(filters, attn_dims, bias=False)
        self.W = nn.Linear(attn_dims, attn_dims, bias=True)
        self.v = nn.Linear(attn_dims, 1, bias=False)


class Decoder(nn.Module):
    """Decoder parameters and the `r` buffer (frames per step, saved in checkpoints)."""

    def __init__(self, n_mels: int, context_dims: int, decoder_dims: int, lstm_dims: int, dropout: float,
                 max_r: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.register_buffer("r", torch.tensor(1, dtype=torch.int32))
        self.n_mels = n_mels
        self.max_r = max_r
        self.prenet = PreNet(n_mels, decoder_dims * 2, decoder_dims * 2, dropout)
        self.attn_net = LSA(decoder_dims, filters, kernel)
        self.attn_rnn = nn.GRUCell(context_dims + decoder_dims * 2, decoder_dims)
        self.rnn_input = nn.Linear(context_dims + decoder_dims, lstm_dims)
        self.res_rnn1 = nn.LSTMCell(lstm_dims, lstm_dims)
        self.res_rnn2 = nn.LSTMCell(lstm_dims, lstm_dims)
        self.mel_proj = nn.Linear(lstm_dims, n_mels * max_r, bias=False)
        self.stop_proj = nn.Linear(context_dims + lstm_dims, 1)
