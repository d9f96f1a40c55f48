"""Offline English speech recognition for intelligibility checks (pocketsphinx, optional extra)."""

from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)


class RecognizerUnavailable(RuntimeError):
    pass


class Recognizer:
    """pocketsphinx with its bundled en-us acoustic model, language model and CMU dictionary."""

    sample_rate = 16_000

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise RecognizerUnavailable(
                "speech recognition needs pocketsphinx: pip install pocketsphinx") from None
        self._decoder = Decoder(samprate=self.sample_rate, logfn=os.devnull)

    def transcribe(self, wav: np.ndarray) -> str:
        """16 kHz float audio (L,) -> lower-case words ("" when nothing is recognised)."""
        pcm = np.round(np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""
