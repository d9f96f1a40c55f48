"""Speaker encoder configuration (stored with the weights)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderConfig:
    """GE2E speaker encoder hyper-parameters. `rtvc()` is the published preset."""

    mel_channels: int = 40
    hidden_size: int = 256
    num_layers: int = 3
    embedding_size: int = 256
    sample_rate: int = 16_000
    hop_samples: int = 160  # 10 ms mel hop
    partial_frames: int = 160  # 1.6 s partial utterances
    partial_step: int = 80  # frames between partial starts (RTVC overlap 0.5; Resemblyzer uses 77)
    min_coverage: float = 0.75  # the last partial is kept only if this much of it is real audio
    norm_epsilon: float = 1e-5  # RTVC divides by (||r|| + 1e-5)

    @classmethod
    def rtvc(cls) -> EncoderConfig:
        """The published Real-Time-Voice-Cloning encoder.pt (also Resemblyzer's pretrained.pt)."""
        return cls()

    @classmethod
    def small(cls) -> EncoderConfig:
        """A small encoder that trains in minutes on a 2-core CPU (for tests and demos)."""
        return cls(hidden_size=64, num_layers=2, embedding_size=64)
