"""`PhoneSynthesizer`: the inference façade of the duration-based demo synthesizer.

Same interface as :class:`models.synthesizer.Synthesizer` (texts + embedding -> mels), so the pipeline,
`sv2tts clone` and the toolbox use either. Text is cleaned by the same front-end as the Tacotron's
(numbers, abbreviations, non-English letters transliterated), then flite gives phones and durations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import CheckpointError, build_checked, config_from_dict, load_safetensors, save_safetensors
from models.guard import check_finite
from models.synthesizer.phone_model import PhoneSynth, PhoneSynthConfig
from models.synthesizer.synthesizer import speaker_embeddings
from models.text import TextError, encode_text
from models.text.phones import PAD_PHONE_ID, to_frames
from models.text.phones import flite_phones as _flite_phones
from models.vocoding import check_cancel

log = logging.getLogger(__name__)

KIND = "phone-synthesizer"
# flite's slt voice speaks faster than LibriSpeech readers: its mean non-pause phone lasts 6.40 frames
# against 6.95 in the demo model's real training speech (pocketsphinx alignments), so by default the
# durations are stretched by 6.95 / 6.40 (speed 0.92). Measured effect on the demo evaluation at step
# 2,500: WER 26 % at speed 1.0, 17 % at 0.9; similarity unchanged.
DEFAULT_SPEED = 0.92
Progress = Callable[[float, str], None]


class PhoneSynthesizer:
    """Text + speaker embedding -> 80-band log-mels (80, T) in [-4, 4] at 16 kHz, hop 200.

    Deterministic: the same text and embedding give the same mel (the seed is accepted and unused).
    """

    sample_rate = 16_000
    hop_length = 200
    source = "the synthesizer"  # the weights file (set by from_file), named when a mel is not finite

    def __init__(self, model: PhoneSynth, device: str | torch.device = "cpu", batch_size: int = 8,
                 speed: float = DEFAULT_SPEED) -> None:
        """speed: >1 speaks faster (divides flite's durations)."""
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be within 0.25..4, got {speed}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.speed = speed

    @property
    def config(self) -> PhoneSynthConfig:
        return self.model.config

    @property
    def n_mels(self) -> int:
        return self.config.n_mels

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> PhoneSynthesizer:
        """Our .safetensors of kind "phone-synthesizer". Raises CheckpointError."""
        state, config_dict, meta = load_safetensors(path, kind=KIND)
        config = config_from_dict(PhoneSynthConfig, config_dict, path)
        model = build_checked(PhoneSynth, config, state, path, "phone synthesizer")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{path}: the weights do not fit the phone synthesizer layout ({e})") from None
        log.info("loaded phone synthesizer %s (step %s)", path, meta.get("step", "?"))
        synth = cls(model, **kwargs)
        synth.source = str(path)
        return synth

    def save(self, path: str | Path) -> Path:
        return save_safetensors(path, self.model.state_dict(), KIND, self.config)

    def phones(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(phone IDs (N,), durations in frames (N,)) for one text. Raises TextError."""
        cleaned = encode_text(text).cleaned.strip()
        if not any(c.isalnum() for c in cleaned):
            raise TextError(f"nothing to say in {text[:40]!r}")
        timings = _flite_phones(cleaned, self.config.flite_voice, 1.0 / self.speed)
        return to_frames(timings, self.config.frames_per_second)

    def synthesize(self, texts: str | Sequence[str], embeddings: np.ndarray, seed: int | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None) -> list[np.ndarray]:
        """One mel (80, T_i) per text. embeddings: (256,) for all or (N, 256).

        Raises TextError (empty/unspeakable text), ValueError (bad embeddings), Cancelled.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        embeds = speaker_embeddings(embeddings, len(texts), self.config.speaker_dim)
        prepared = [self.phones(t) for t in texts]
        mels: list[np.ndarray] = []
        for b0 in range(0, len(prepared), self.batch_size):
            check_cancel(cancel, "synthesis")
            chunk = prepared[b0:b0 + self.batch_size]
            mels += self._generate(chunk, embeds[b0:b0 + len(chunk)])
            for mel, text in zip(mels[b0:], texts[b0:b0 + len(chunk)], strict=True):
                check_finite(mel, "mel", self.source, repr(text[:40]))
            if progress is not None:
                progress(len(mels) / len(prepared), "synthesizing")
        return mels

    @torch.inference_mode()
    def _generate(self, items: list[tuple[np.ndarray, np.ndarray]], embeds: np.ndarray) -> list[np.ndarray]:
        n = max(len(p) for p, _ in items)
        phones = torch.full((len(items), n), PAD_PHONE_ID, dtype=torch.long)
        durations = torch.zeros((len(items), n), dtype=torch.long)
        for i, (p, d) in enumerate(items):
            phones[i, :len(p)] = torch.from_numpy(p)
            durations[i, :len(d)] = torch.from_numpy(d)
        out = self.model(phones.to(self.device), durations.to(self.device), torch.from_numpy(embeds).to(self.device))
        mel = out["mel_post"].float().clamp(-4.0, 4.0).cpu().numpy()
        return [np.ascontiguousarray(mel[i, :, :int(d.sum())]) for i, (_, d) in enumerate(items)]

