"""Phone timings of real speech by pocketsphinx forced alignment (optional extra ``eval``).

With a transcript the words are aligned to the audio; without one, pocketsphinx first recognises
the words and then aligns its own hypothesis. A hypothesis may name the wrong words, but the phones
it aligns are ones the recogniser judged to match the sound, which is what an acoustic model
trained on the timings needs (see pretrained/MODEL_CARD.md for how the demo model uses this).
"""

from __future__ import annotations

import logging
import os

import numpy as np

from models.asr import RecognizerUnavailable
from models.text.phones import Timing

log = logging.getLogger(__name__)

FRAME_S = 0.01  # pocketsphinx frames are 10 ms


class Aligner:
    """pocketsphinx en-us: (16 kHz audio, optional transcript) -> (words, [(phone, start_s, end_s)])."""

    sample_rate = 16_000

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise RecognizerUnavailable(
                "alignment needs pocketsphinx: pip install pocketsphinx") from None
        self._new = lambda: Decoder(samprate=self.sample_rate, logfn=os.devnull)
        self._recognizer = self._new()

    @staticmethod
    def _decode(decoder, pcm: bytes) -> None:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()

    def align(self, wav: np.ndarray, text: str | None = None) -> tuple[str, list[Timing]]:
        """Returns (the aligned words, phone timings). Raises ValueError when nothing could be aligned."""
        pcm = np.round(np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        if text is None:
            self._decode(self._recognizer, pcm)
            hyp = self._recognizer.hyp()
            text = hyp.hypstr if hyp is not None else ""
        words = " ".join(w for w in text.lower().split() if w)
        if not words:
            raise ValueError("no words recognised")
        decoder = self._new()  # a decoder left in alignment mode crashes on the next utterance: one per call
        try:
            decoder.set_align_text(words)
            self._decode(decoder, pcm)
            decoder.set_alignment()
            self._decode(decoder, pcm)
            alignment = decoder.get_alignment()
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"alignment failed: {e}") from e
        if alignment is None:
            raise ValueError("alignment failed")
        timings = [(phone.name, phone.start * FRAME_S, (phone.start + phone.duration) * FRAME_S)
                   for word in alignment for phone in word]
        if not timings:
            raise ValueError("alignment is empty")
        return words, timings
