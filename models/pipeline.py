"""Voice cloning end to end, without any GUI: reference audio -> embedding; text -> chunks -> mels ->
audio, sentences joined by short pauses. Shared by the `sv2tts clone` command and the toolbox GUI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from models.audio import SAMPLE_RATE, load_audio
from models.guard import check_embedding, check_finite
from models.synthesizer.voice_match import ReferenceFrames, reference_frames
from models.text import TextError, encode_text, split_text
from models.vocoding import Progress, Vocoder, check_cancel, synthesized_input

log = logging.getLogger(__name__)

STREAM_SYNTH_SHARE = 0.1  # share of a sentence's progress given to synthesis when streaming
NEUTRAL = {"speed": 1.0, "pitch_shift": 0.0, "voice_match": 0.0}  # control values that change nothing


class ControlsError(ValueError):
    """Speed or pitch shift asked of a synthesizer without them (the published Tacotron)."""


class Embedder(Protocol):
    def embed_utterance(self, wav: np.ndarray) -> np.ndarray: ...


class Pipeline:
    """encoder + synthesizer + any `models.vocoding.Vocoder` (Griffin-Lim, WaveRNN, the iSTFT vocoder).

    Long text is split into ~20-word chunks (models.text.split_text), synthesized in batches and
    vocoded chunk by chunk, so memory stays bounded by one batch, however long the text.

    Every synthesizing call takes `speed` (speaking rate, 0.25..4, >1 faster) and `pitch_shift`
    (semitones, -12..12) for that call only; None keeps the synthesizer's own setting. Only the demo
    synthesizer has them (see :func:`models.synthesizer.has_controls`); asking another one for a
    non-neutral value raises :class:`ControlsError`.

    `reference` (from :meth:`reference_frames`) lets the demo synthesizer match the reference recording's
    own frames (models.synthesizer.voice_match); other synthesizers ignore it.
    """

    def __init__(self, encoder: Embedder | None, synthesizer, vocoder: Vocoder, pause: float = 0.15,
                 target_words: int = 20, max_words: int = 25) -> None:
        self.encoder = encoder
        self.synthesizer = synthesizer
        self.vocoder = vocoder
        self.pause = pause
        self.target_words = target_words
        self.max_words = max_words

    @classmethod
    def from_store(cls, vocoder: str | None = None, synthesizer: str | Path | None = None, **kwargs) -> Pipeline:
        """The default models of the model store: the published encoder; the published synthesizer
        when downloaded, else the bundled demo one (or `synthesizer`, a path); the vocoder named by
        `vocoder` (see models.vocoders.resolve_vocoder: None, "griffinlim", a model name or a path)."""
        from models.encoder import SpeakerEncoder
        from models.store import ModelStore
        from models.synthesizer import load_synthesizer
        from models.vocoders import resolve_vocoder

        store = ModelStore()
        return cls(SpeakerEncoder.default(), load_synthesizer(synthesizer or store.default("synthesizer")),
                   resolve_vocoder(vocoder, store), **kwargs)

    @property
    def sample_rate(self) -> int:
        return self.vocoder.sample_rate

    def embed(self, reference: np.ndarray | str | Path, source: str | None = None) -> np.ndarray:
        """reference: a 16 kHz float waveform (L,) or an audio file (`source` names it in messages).
        Returns a (256,) embedding. Raises NonFiniteError (naming the encoder file) on NaN or zero."""
        if self.encoder is None:
            raise RuntimeError("this pipeline has no speaker encoder; pass embeddings directly")
        if isinstance(reference, (str, Path)):
            source = source or str(reference)
            wav = load_audio(reference)
        else:
            wav = np.asarray(reference, dtype=np.float32)
        embedding = np.asarray(self.encoder.embed_utterance(wav), dtype=np.float32)
        return check_embedding(embedding, _source(self.encoder, "the speaker encoder"), source)

    def reference_frames(self, reference: np.ndarray | str | Path) -> ReferenceFrames | None:
        """The reference's frames for voice match (a 16 kHz waveform or an audio file), or None when the
        synthesizer has no voice match or its strength is 0. Never raises for the content: a recording
        without speech frames gives None (embedding it fails with the clear message)."""
        if float(getattr(self.synthesizer, "voice_match", 0.0)) <= 0.0:
            return None
        wav = load_audio(reference) if isinstance(reference, (str, Path)) else np.asarray(reference, np.float32)
        try:
            return reference_frames(wav)
        except ValueError as e:
            log.warning("no voice match: %s", e)
            return None

    def _synthesize(self, chunks: list[str], embedding: np.ndarray, seed: int | None, progress: Progress | None,
                    cancel: threading.Event | None, reference: ReferenceFrames | None) -> list[np.ndarray]:
        extra = {} if reference is None or not hasattr(self.synthesizer, "voice_match") else {"reference": reference}
        return self.synthesizer.synthesize(chunks, embedding, seed=seed, progress=progress, cancel=cancel, **extra)

    def _checked(self, wav: np.ndarray) -> np.ndarray:
        """Vocoder output, refused (NonFiniteError naming the vocoder file) when not finite."""
        return check_finite(wav, "audio", _source(self.vocoder, "the vocoder"))

    def split(self, text: str) -> list[str]:
        """Chunks of `text` to synthesize one by one (see :func:`text_chunks`)."""
        return text_chunks(text, self.target_words, self.max_words)

    @contextmanager
    def controls(self, speed: float | None = None, pitch_shift: float | None = None,
                 voice_match: float | None = None) -> Iterator[None]:
        """Within the block the synthesizer speaks at `speed` and `pitch_shift` and matches the reference
        by `voice_match`; restored afterwards.

        Raises ControlsError (a synthesizer without controls, asked for a non-neutral value) and
        ValueError (out of range: speed 0.25..4, pitch shift -12..12, voice match 0..1).
        """
        from models.synthesizer import has_controls

        wanted = {k: float(v) for k, v in (("speed", speed), ("pitch_shift", pitch_shift),
                                          ("voice_match", voice_match)) if v is not None}
        if not has_controls(self.synthesizer):
            changed = [k for k, v in wanted.items() if v != NEUTRAL[k]]
            if changed:
                raise ControlsError(f"{' and '.join(changed)}: {_source(self.synthesizer, 'this synthesizer')} "
                                    "has no speed, pitch or voice match control (only the demo synthesizer "
                                    "has them)")
            wanted = {}
        before = {k: getattr(self.synthesizer, k) for k in wanted}
        try:
            for k, v in wanted.items():
                setattr(self.synthesizer, k, v)  # the synthesizer checks the range
            yield
        finally:
            for k, v in before.items():
                setattr(self.synthesizer, k, v)

    def synthesize(self, text: str | Sequence[str], embedding: np.ndarray, seed: int | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None, *,
                   speed: float | None = None, pitch_shift: float | None = None,
                   reference: ReferenceFrames | None = None) -> list[np.ndarray]:
        """Mels (80, T_i) for the chunks of `text` (a string is split; a list is taken as the chunks)."""
        chunks = self.split(text) if isinstance(text, str) else list(text)
        with self.controls(speed, pitch_shift):
            return self._synthesize(chunks, embedding, seed, progress, cancel, reference)

    def vocode(self, mels: Sequence[np.ndarray], seed: int | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> list[np.ndarray]:
        """One waveform (L_i,) per synthesized mel (made contrast-ready for the vocoder:
        models.vocoding.synthesized_input); mel i uses seed + i. Progress is reported per mel."""
        out = []
        for i, mel in enumerate(mels):
            check_cancel(cancel, "vocoding")
            mel = synthesized_input(mel, self.vocoder)
            out.append(self._checked(self.vocoder.vocode(mel, seed=_offset(seed, i), cancel=cancel)))
            if progress is not None:
                progress((i + 1) / len(mels), f"vocoded {i + 1}/{len(mels)}")
        return out

    def iter_sentences(self, text: str, embedding: np.ndarray, seed: int | None = None,
                       progress: Progress | None = None, cancel: threading.Event | None = None, *,
                       speed: float | None = None, pitch_shift: float | None = None,
                       reference: ReferenceFrames | None = None) -> Iterator[np.ndarray]:
        """Audio per chunk, in order, with a `pause` of silence *before* every chunk but the first.

        Chunks are synthesized a batch at a time (the synthesizer's batch size); chunk i always uses
        seed + i, so the result does not depend on the batching.
        """
        chunks = self.split(text)
        with self.controls(speed, pitch_shift):
            yield from self._iter_sentences(chunks, embedding, seed, progress, cancel, reference)

    def _iter_sentences(self, chunks: list[str], embedding: np.ndarray, seed: int | None,
                        progress: Progress | None, cancel: threading.Event | None,
                        reference: ReferenceFrames | None) -> Iterator[np.ndarray]:
        batch = max(1, int(getattr(self.synthesizer, "batch_size", 1)))
        silence = np.zeros(int(round(self.pause * self.sample_rate)), dtype=np.float32)
        n = len(chunks)
        for start in range(0, n, batch):
            group = chunks[start:start + batch]
            base = _offset(seed, start)
            report = None
            if progress is not None:
                report = _scaled(progress, start / n, 0.8 * len(group) / n, "synthesizing")
            mels = self._synthesize(group, embedding, base, report, cancel, reference)
            for j, mel in enumerate(mels):
                i = start + j
                check_cancel(cancel, "voice cloning")
                wav = self._checked(self.vocoder.vocode(synthesized_input(mel, self.vocoder), seed=_offset(seed, i),
                                                        cancel=cancel))
                if progress is not None:
                    progress((start + 0.8 * len(group) + 0.2 * (j + 1)) / n, f"sentence {i + 1}/{n}")
                yield wav if i == 0 else np.concatenate([silence, wav])
                del mel
            del mels

    def clone(self, text: str, embedding: np.ndarray, seed: int | None = None,
              progress: Progress | None = None, cancel: threading.Event | None = None, *,
              speed: float | None = None, pitch_shift: float | None = None,
              reference: ReferenceFrames | None = None) -> np.ndarray:
        """The whole utterance: (L,) float32 at `sample_rate`."""
        parts = list(self.iter_sentences(text, embedding, seed, progress, cancel, speed=speed,
                                         pitch_shift=pitch_shift, reference=reference))
        return np.concatenate(parts).astype(np.float32, copy=False)

    def stream(self, text: str, embedding: np.ndarray, seed: int | None = None,
               progress: Progress | None = None, cancel: threading.Event | None = None, *,
               speed: float | None = None, pitch_shift: float | None = None,
               reference: ReferenceFrames | None = None) -> Iterator[np.ndarray]:
        """Audio chunks for playback as soon as possible: the first sentence is synthesized alone and its
        audio yielded (through `vocoder.stream`) before the next sentence is synthesized. Same samples
        as `clone` for the same seed."""
        chunks = self.split(text)
        with self.controls(speed, pitch_shift):
            yield from self._stream(chunks, embedding, seed, progress, cancel, reference)

    def _stream(self, chunks: list[str], embedding: np.ndarray, seed: int | None, progress: Progress | None,
                cancel: threading.Event | None, reference: ReferenceFrames | None) -> Iterator[np.ndarray]:
        silence = np.zeros(int(round(self.pause * self.sample_rate)), dtype=np.float32)
        n = len(chunks)
        for i, chunk in enumerate(chunks):
            if progress is not None:
                progress(i / n, f"sentence {i + 1}/{n}")
            (mel,) = self._synthesize([chunk], embedding, _offset(seed, i), None, cancel, reference)
            if i > 0:
                yield silence
            # Synthesis takes about a tenth of a sentence's time; vocoding reports the rest, so that a
            # player can estimate the time left (see toolbox.audio_io.StartGate).
            vocoding = None if progress is None else _scaled(progress, (i + STREAM_SYNTH_SHARE) / n,
                                                             (1 - STREAM_SYNTH_SHARE) / n, f"sentence {i + 1}/{n}")
            for part in self.vocoder.stream(synthesized_input(mel, self.vocoder), seed=_offset(seed, i),
                                           progress=vocoding, cancel=cancel):
                yield self._checked(part)
        if progress is not None:
            progress(1.0, "done")


def _source(model: object, default: str) -> str:
    """The weights file a model was loaded from (its `source`), for error messages."""
    return str(getattr(model, "source", None) or default)


def text_chunks(text: str, target_words: int = 20, max_words: int = 25) -> list[str]:
    """Split `text` into chunks for the synthesizer; chunks with nothing to pronounce (e.g. only emoji
    or punctuation) are skipped with a warning.

    Raises:
        TextError: the text is empty, has nothing to pronounce, or contains ARPAbet in braces.
    """
    if not text.strip():
        raise TextError("the text is empty")
    chunks = []
    for chunk in split_text(text, target_words, max_words):
        try:
            encode_text(chunk, on_unknown="ignore")
        except TextError:
            if "{" in chunk:
                raise
            log.warning("skipping %r: nothing to pronounce", chunk[:40])
            continue
        chunks.append(chunk)
    if not chunks:
        raise TextError("there is no text to speak (only punctuation or unsupported characters)")
    return chunks


def _offset(seed: int | None, i: int) -> int | None:
    return None if seed is None else seed + i


def _scaled(progress: Progress, start: float, span: float, message: str | None = None) -> Progress:
    def report(fraction: float, msg: str) -> None:
        progress(start + span * min(max(fraction, 0.0), 1.0), message or msg)

    return report


__all__ = ["SAMPLE_RATE", "ControlsError", "Pipeline", "text_chunks"]
