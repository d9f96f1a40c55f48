"""The GE2E softmax loss (Wan et al. 2018, section 2.1) with exclusive centroids."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-5


def similarity_matrix(embeds: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every utterance to every speaker centroid.

    embeds: (N speakers, M utterances, D) unit-norm. For its own speaker an utterance is compared
    with the centroid of the *other* M - 1 utterances (exclusive centroid).
    Returns: (N, M, N) similarities.
    """
    n, m, _ = embeds.shape
    total = embeds.sum(dim=1, keepdim=True)  # (N, 1, D)
    incl = total / m
    incl = incl / (incl.norm(dim=2, keepdim=True) + EPS)  # (N, 1, D)
    excl = (total - embeds) / (m - 1)
    excl = excl / (excl.norm(dim=2, keepdim=True) + EPS)  # (N, M, D)
    sim = torch.einsum("nmd,kd->nmk", embeds, incl[:, 0])  # (N, M, N)
    own = (embeds * excl).sum(dim=2)  # (N, M)
    eye = torch.eye(n, dtype=torch.bool, device=embeds.device).unsqueeze(1)  # (N, 1, N)
    return torch.where(eye, own.unsqueeze(2), sim)


def ge2e_loss(embeds: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax GE2E loss. embeds: (N, M, D). weight, bias: learnable scalars (1,).

    Returns: (loss scalar, similarities (N, M, N) detached).
    """
    n, m, _ = embeds.shape
    sim = similarity_matrix(embeds)
    logits = (sim * weight + bias).reshape(n * m, n)
    target = torch.arange(n, device=embeds.device).repeat_interleave(m)
    return F.cross_entropy(logits, target), sim.detach()
