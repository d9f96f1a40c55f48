"""The reference generation algorithm, kept as a baseline for benchmarks and equivalence tests.

Per-sample Python loop over ``nn.GRUCell`` copies of the GRU weights, softmax + ``Categorical``
sampling, folds run as one batch (published target/overlap), float64 NumPy fold envelopes as the
reference (models.vocoder.folding), mu-law decode, de-emphasis, crop and fade-out. Slow on purpose:
this is what the fast path is measured against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.vocoder.folding import Finisher, FoldPlan, fold_index, overlap_add, uniform_plan
from models.vocoder.model import WaveRNN


@torch.no_grad()
def conditioning(net: WaveRNN, mel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Upsampled conditioning for one utterance.

    mel: (80, T) on the synthesizer's [-4, 4] scale. Returns (T * hop, 80 + res_out_dims) float32:
    [mel | a1 | a2 | a3 | a4] per sample (the mel is divided by 4 and zero-padded by `pad` frames).
    """
    c = net.config
    mel = torch.as_tensor(np.asarray(mel, dtype=np.float32)).to(next(net.parameters()).device)
    if mel.ndim != 2 or mel.shape[0] != c.n_mels:
        raise ValueError(f"mel must be ({c.n_mels}, T), got {tuple(mel.shape)}")
    x = F.pad(mel.unsqueeze(0) / c.mel_max_abs, (c.pad, c.pad))  # (1, 80, T + 2 pad), pad value 0
    m, aux = net.upsample(x)
    return torch.cat([m[0], aux[0]], dim=-1)  # (T hop, 80 + A)


def gru_cell(gru: nn.GRU) -> nn.GRUCell:
    cell = nn.GRUCell(gru.input_size, gru.hidden_size)
    cell.weight_ih.data, cell.weight_hh.data = gru.weight_ih_l0.data, gru.weight_hh_l0.data
    cell.bias_ih.data, cell.bias_hh.data = gru.bias_ih_l0.data, gru.bias_hh_l0.data
    return cell


@torch.no_grad()
def naive_generate(net: WaveRNN, mel: np.ndarray, target: int = 8000, overlap: int = 800,
                   seed: int | None = None, max_steps: int | None = None) -> np.ndarray:
    """Vocode (80, T) mel in [-4, 4] the reference way. Returns (T - 1) * hop float32 samples.

    `max_steps` stops the sample loop early (benchmarks time a prefix and extrapolate); the output is
    then only meaningful for timing.
    """
    c = net.config
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    cond = conditioning(net, mel)
    plan = uniform_plan(cond.shape[0], target, overlap)
    folded = fold_conditioning(cond, plan)  # (N, S, 80 + A)
    rnn1, rnn2 = gru_cell(net.rnn1), gru_cell(net.rnn2)
    n, seq_len, _ = folded.shape
    h1 = torch.zeros(n, c.rnn_dims)
    h2 = torch.zeros(n, c.rnn_dims)
    x = torch.zeros(n, 1)
    mels, aux = folded[..., :c.n_mels], folded[..., c.n_mels:]
    a1, a2, a3, a4 = aux.split(c.aux_dims, dim=-1)
    out = []
    steps = seq_len if max_steps is None else min(seq_len, max_steps)
    for i in range(steps):
        x = net.I(torch.cat([x, mels[:, i], a1[:, i]], dim=1))
        h1 = rnn1(x, h1)
        x = x + h1
        h2 = rnn2(torch.cat([x, a2[:, i]], dim=1), h2)
        x = x + h2
        x = F.relu(net.fc1(torch.cat([x, a3[:, i]], dim=1)))
        x = F.relu(net.fc2(torch.cat([x, a4[:, i]], dim=1)))
        posterior = F.softmax(net.fc3(x), dim=1)
        sample = torch.multinomial(posterior, 1, generator=gen)  # == Categorical(posterior).sample()
        x = 2.0 * sample.float() / (c.n_classes - 1) - 1.0
        out.append(x[:, 0])
    y = torch.stack(out, dim=1).numpy().astype(np.float64)  # (N, steps)
    if steps < seq_len:
        y = np.pad(y, ((0, 0), (0, seq_len - steps)))
    audio = overlap_add([y[i, : plan.lengths[i]] for i in range(n)], plan)
    wave_len = (mel.shape[1] - 1) * c.hop_length
    fin = Finisher(wave_len, c.bits, c.mu_law, c.preemphasis, c.fade_out_frames * c.hop_length)
    return fin.push(audio)


def fold_conditioning(cond: torch.Tensor, plan: FoldPlan) -> torch.Tensor:
    """(L, D) conditioning -> (num_folds, max_length, D), zero past the end (published padding)."""
    padded = torch.zeros(plan.padded_total + 1, cond.shape[1], dtype=cond.dtype)
    n = min(cond.shape[0], plan.padded_total)
    padded[:n] = cond[:n]
    return padded[torch.from_numpy(fold_index(plan))]
