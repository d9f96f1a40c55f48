"""WaveRNN vocoder configuration (stored with the weights)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class VocoderConfig:
    """fatchord WaveRNN hyper-parameters ("RAW" mode). `rtvc()` is the published vocoder.pt preset."""

    bits: int = 9  # 2**bits output classes
    mu_law: bool = True
    upsample_factors: tuple[int, ...] = (5, 5, 8)  # product == hop_length
    rnn_dims: int = 512
    fc_dims: int = 512
    compute_dims: int = 128
    res_out_dims: int = 128
    res_blocks: int = 10
    pad: int = 2  # mel frames of context on each side
    n_mels: int = 80
    hop_length: int = 200
    sample_rate: int = 16_000
    mel_max_abs: float = 4.0  # the synthesizer's mel scale; the network sees mel / mel_max_abs
    preemphasis: float = 0.97
    fade_out_frames: int = 20  # linear fade-out over the last 20 hops of the output

    def __post_init__(self) -> None:
        if math.prod(self.upsample_factors) != self.hop_length:
            raise ValueError(f"upsample factors {self.upsample_factors} must multiply to {self.hop_length}")
        if self.res_out_dims % 4:
            raise ValueError("res_out_dims must split into 4 equal aux parts")

    @property
    def n_classes(self) -> int:
        return 2 ** self.bits

    @property
    def aux_dims(self) -> int:
        return self.res_out_dims // 4

    @classmethod
    def rtvc(cls) -> VocoderConfig:
        """The published Real-Time-Voice-Cloning vocoder.pt (4 480 935 parameters)."""
        return cls()

    @classmethod
    def small(cls) -> VocoderConfig:
        """A small vocoder for tests and quick demos (same I/O, narrow layers)."""
        return cls(rnn_dims=64, fc_dims=64, compute_dims=32, res_out_dims=32, res_blocks=2)
