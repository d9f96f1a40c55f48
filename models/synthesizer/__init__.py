"""The SV2TTS synthesizer (Tacotron): text + speaker embedding -> 80-band log-mel at 16 kHz, and the
duration-based demo synthesizer with the same interface (models.synthesizer.phone_synthesizer)."""

from __future__ import annotations

from pathlib import Path

from models.synthesizer.config import PRESETS, TacotronConfig
from models.synthesizer.synthesizer import Synthesizer
from models.synthesizer.tacotron import PRECISIONS, Tacotron

__all__ = ["PRECISIONS", "PRESETS", "Synthesizer", "Tacotron", "TacotronConfig", "has_controls", "load_synthesizer"]


def load_synthesizer(path: str | Path, precision: str = "auto"):
    """A Synthesizer (published .pt or our Tacotron safetensors) or a PhoneSynthesizer (demo model),
    by what the file holds. Raises models.checkpoint.CheckpointError."""
    from models.checkpoint import safetensors_kind

    if Path(path).suffix == ".safetensors" and safetensors_kind(path) == "phone-synthesizer":
        from models.synthesizer.phone_synthesizer import PhoneSynthesizer

        return PhoneSynthesizer.from_file(path)
    return Synthesizer.from_file(path, precision=precision)


def has_controls(synthesizer: object) -> bool:
    """Whether `synthesizer` has a speaking rate (`speed`, 0.25..4) and a `pitch_shift` (semitones,
    -12..12): the demo synthesizer has both, the published Tacotron neither."""
    return hasattr(synthesizer, "speed") and hasattr(synthesizer, "pitch_shift")
