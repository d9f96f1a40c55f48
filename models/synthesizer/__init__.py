"""The SV2TTS synthesizer (Tacotron): text + speaker embedding -> 80-band log-mel at 16 kHz."""

from models.synthesizer.config import PRESETS, TacotronConfig
from models.synthesizer.synthesizer import Synthesizer
from models.synthesizer.tacotron import PRECISIONS, Tacotron

__all__ = ["PRECISIONS", "PRESETS", "Synthesizer", "Tacotron", "TacotronConfig"]
