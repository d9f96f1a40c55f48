"""Which torch device to run inference on: an NVIDIA GPU (CUDA), else Apple's GPU (MPS), else the CPU."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def best_device(cpu_only: bool = False) -> str:
    """"cuda" when a CUDA GPU is usable, else "mps" on Apple silicon with Metal, else "cpu"."""
    if cpu_only:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
