"""`PhoneSynthesizer`: the inference façade of the duration-based demo synthesizer.

Same interface as :class:`models.synthesizer.Synthesizer` (texts + embedding -> mels), so the pipeline,
`sv2tts clone` and the toolbox use either. Two ways to get phones and their durations:

- "python" (the default when the weights file holds a duration predictor): the Python front-end
  (:mod:`models.text.frontend`: cleaners, CMU dictionary, letter-to-sound rules, pauses from
  punctuation) and the speaker-conditioned duration predictor (:mod:`models.synthesizer.phone_durations`).
  No system binary.
- "flite": flite's phones and durations (``flite -psdur``), as the acoustic model was trained on.

Pitch and energy: a file with a pitch and energy predictor (:mod:`models.synthesizer.phone_variance`,
format 3) and an acoustic model trained with them predicts each phone's pitch and energy for the voice
and gives them to the acoustic model.

Controls: `speed` divides the durations (>1 faster); `pitch_shift` (semitones) moves the whole mel
spectrum along frequency after synthesis, so formants move with the pitch (like playing a recording
faster without changing its length): a higher or deeper voice, not the same voice at another pitch.
`voice_match` (0..1) blends each synthesized frame with the nearest frames of the reference recording
when one is given (:mod:`models.synthesizer.voice_match`).
(Moving the predicted pitch instead does not work with the bundled model: fine-tuned into its pitch
input, it follows that input only weakly, +0.6 semitone for +4; see pretrained/MODEL_CARD.md.)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from models.checkpoint import CheckpointError, build_checked, config_from_dict, load_safetensors, save_safetensors
from models.guard import check_finite
from models.synthesizer.phone_durations import DurationConfig, DurationPredictor, word_positions
from models.synthesizer.phone_durations import to_frames as predicted_frames
from models.synthesizer.phone_model import SILENCE, PhoneSynth, PhoneSynthConfig
from models.synthesizer.phone_variance import VarianceConfig, VariancePredictor
from models.synthesizer.synthesizer import speaker_embeddings
from models.synthesizer.voice_match import DEFAULT_STRENGTH, ReferenceFrames, match_voice
from models.text import TextError, encode_text
from models.text.frontend import text_to_phones
from models.text.phones import PAD_PHONE_ID, PhonesError, to_frames
from models.text.phones import flite_phones as _flite_phones
from models.vocoding import check_cancel

log = logging.getLogger(__name__)

KIND = "phone-synthesizer"
DURATIONS_PREFIX = "durations."  # duration predictor tensors stored in the same file (format 2)
VARIANCE_PREFIX = "variance_predictor."  # pitch and energy predictor tensors (format 3)
# flite's slt voice speaks faster than LibriSpeech readers: its mean non-pause phone lasts 6.40 frames
# against 6.95 in the demo model's real training speech (pocketsphinx alignments), so on the flite path
# durations are stretched by 6.95 / 6.40 at speed 1. Measured effect on the demo evaluation at step
# 2,500: WER 26 % unstretched, 17 % stretched by 1 / 0.9; similarity unchanged.
FLITE_STRETCH = 1 / 0.92
Progress = Callable[[float, str], None]
Frontend = Literal["python", "flite"]
# (phone IDs (N,), durations (N,) or None, stress (N,), word positions (N,))
Reading = tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]


class PhoneSynthesizer:
    """Text + speaker embedding -> 80-band log-mels (80, T) in [-4, 4] at 16 kHz, hop 200.

    Deterministic: the same text and embedding give the same mel (the seed is accepted and unused).
    """

    sample_rate = 16_000
    hop_length = 200
    source = "the synthesizer"  # the weights file (set by from_file), named when a mel is not finite

    def __init__(self, model: PhoneSynth, device: str | torch.device = "cpu", batch_size: int = 8,
                 speed: float = 1.0, pitch_shift: float = 0.0, durations: DurationPredictor | None = None,
                 frontend: Frontend | None = None, precision: Literal["auto", "fp32", "bf16"] = "auto",
                 variance: VariancePredictor | None = None, voice_match: float = DEFAULT_STRENGTH) -> None:
        """speed: >1 speaks faster (divides the durations); pitch_shift: semitones (see the module doc);
        durations: the duration predictor; frontend: "python" (needs `durations`) or "flite"
        (default: "python" when there is a predictor); precision: of the acoustic model's matrix
        products ("auto": bf16 on CPUs with native bf16, 1.35x faster, mel within 0.03 of fp32);
        variance: the pitch and energy predictor, used only with an acoustic model trained with them;
        voice_match: 0..1, how far frames move toward the reference's (only when `synthesize` gets one)."""
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.durations = durations.to(device).eval() if durations is not None else None
        self.variance = variance.to(device).eval() if variance is not None else None
        self.frontend: Frontend = frontend or ("python" if durations is not None else "flite")
        if self.frontend == "python" and durations is None:
            raise ValueError("the Python front-end needs a duration predictor; this model has none (use flite)")
        self.batch_size = batch_size
        self.bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cpu"
                                            and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        self.speed = speed
        self.pitch_shift = pitch_shift
        self.voice_match = voice_match

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not 0.25 <= value <= 4.0:
            raise ValueError(f"speed must be within 0.25..4, got {value}")
        self._speed = float(value)

    @property
    def pitch_shift(self) -> float:
        return self._pitch_shift

    @pitch_shift.setter
    def pitch_shift(self, value: float) -> None:
        if not -12.0 <= value <= 12.0:
            raise ValueError(f"pitch shift must be within -12..12 semitones, got {value}")
        self._pitch_shift = float(value)

    @property
    def voice_match(self) -> float:
        return self._voice_match

    @voice_match.setter
    def voice_match(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"voice match must be within 0..1, got {value}")
        self._voice_match = float(value)

    @property
    def config(self) -> PhoneSynthConfig:
        return self.model.config

    @property
    def n_mels(self) -> int:
        return self.config.n_mels

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> PhoneSynthesizer:
        """Our .safetensors of kind "phone-synthesizer" (with a duration predictor from format 2 on).
        Raises CheckpointError."""
        state, config_dict, meta = load_safetensors(path, kind=KIND)
        acoustic = {k: v for k, v in state.items() if not k.startswith((DURATIONS_PREFIX, VARIANCE_PREFIX))}
        model = build_checked(PhoneSynth, config_from_dict(PhoneSynthConfig, config_dict, path), acoustic, path,
                              "phone synthesizer")
        durations = variance = None
        try:
            model.load_state_dict(acoustic, strict=True)
            if "durations_config" in meta:
                durations = DurationPredictor(config_from_dict(DurationConfig, json.loads(meta["durations_config"])))
                durations.load_state_dict({k[len(DURATIONS_PREFIX):]: v for k, v in state.items()
                                           if k.startswith(DURATIONS_PREFIX)}, strict=True)
            if "variance_config" in meta:
                variance = VariancePredictor(config_from_dict(VarianceConfig, json.loads(meta["variance_config"])))
                variance.load_state_dict({k[len(VARIANCE_PREFIX):]: v for k, v in state.items()
                                          if k.startswith(VARIANCE_PREFIX)}, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{path}: the weights do not fit the phone synthesizer layout ({e})") from None
        log.info("loaded phone synthesizer %s (step %s, %s%s)", path, meta.get("step", "?"),
                 "with a duration predictor" if durations is not None else "flite durations",
                 ", pitch and energy predictor" if variance is not None else "")
        synth = cls(model, durations=durations, variance=variance, **kwargs)
        synth.source = str(path)
        return synth

    def save(self, path: str | Path, meta: dict[str, str] | None = None, float16: bool = False) -> Path:
        """Weights and config (plus `meta`); the duration predictor's tensors under "durations." (format 2),
        the pitch and energy predictor's under "variance_predictor." (format 3). `float16` stores all but the
        duration predictor at half size; loading makes them float32 again (mels move by ~3e-4, less than
        bf16 matrix products move them). The durations stay float32: rounded to whole frames, they would
        move a few phone boundaries by a frame."""
        state = dict(self.model.state_dict())
        extra = dict(meta or {})
        if self.durations is not None:
            state.update({DURATIONS_PREFIX + k: v for k, v in self.durations.state_dict().items()})
            extra.update(durations_config=json.dumps(dataclasses.asdict(self.durations.config)), phone_format="2")
        if self.variance is not None:
            state.update({VARIANCE_PREFIX + k: v for k, v in self.variance.state_dict().items()})
            extra.update(variance_config=json.dumps(dataclasses.asdict(self.variance.config)), phone_format="3")
        if float16:
            state = {k: v.half() if v.is_floating_point() and not k.startswith(DURATIONS_PREFIX) else v
                     for k, v in state.items()}
            extra["stored_dtype"] = "float16"
        return save_safetensors(path, state, KIND, self.config, extra)

    def reading(self, text: str) -> Reading:
        """How one text is read: phone IDs, flite's durations (None on the Python path, where the
        speaker decides them), stress and word positions. Raises TextError, PhonesError."""
        if self.frontend == "python":
            phones = text_to_phones(text)
            return phones.ids(), None, phones.stress_ids(), word_positions(np.asarray(phones.word_index))
        cleaned = encode_text(text).cleaned.strip()
        if not any(c.isalnum() for c in cleaned):
            raise TextError(f"nothing to say in {text[:40]!r}")
        if shutil.which("flite") is None:
            raise PhonesError("this demo synthesizer has no duration predictor, so it needs flite for its phone "
                              "timings (Debian: apt install flite); the bundled one does not")
        timings = _flite_phones(cleaned, self.config.flite_voice, FLITE_STRETCH / self.speed)
        ids, frames = to_frames(timings, self.config.frames_per_second)
        return ids, frames, np.zeros_like(ids), np.zeros_like(ids)

    def phones(self, text: str, embedding: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(phone IDs (N,), durations in frames (N,)) of one text said by the voice of `embedding` (256,)
        (needed on the Python path). Raises TextError, PhonesError, ValueError."""
        read = self.reading(text)
        if read[1] is not None:
            return read[0], read[1]
        if embedding is None:
            raise ValueError("the duration predictor needs the speaker embedding")
        return read[0], self._durations([read], speaker_embeddings(embedding, 1, self.config.speaker_dim))[0]

    def synthesize(self, texts: str | Sequence[str], embeddings: np.ndarray, seed: int | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None,
                   reference: ReferenceFrames | None = None) -> list[np.ndarray]:
        """One mel (80, T_i) per text. embeddings: (256,) for all or (N, 256). `reference`: the reference
        recording's frames (models.synthesizer.voice_match.reference_frames), matched by `voice_match`.

        Raises TextError (empty/unspeakable text), PhonesError (flite path without flite),
        ValueError (bad embeddings), Cancelled.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        embeds = speaker_embeddings(embeddings, len(texts), self.config.speaker_dim)
        prepared = [self.reading(t) for t in texts]
        mels: list[np.ndarray] = []
        for b0 in range(0, len(prepared), self.batch_size):
            check_cancel(cancel, "synthesis")
            chunk = prepared[b0:b0 + self.batch_size]
            chunk_embeds = embeds[b0:b0 + len(chunk)]
            frames = [r[1] for r in chunk] if self.frontend == "flite" else self._durations(chunk, chunk_embeds)
            variance = self._variance(chunk, chunk_embeds) if self.uses_variance else None
            out = self._generate([(r[0], d) for r, d in zip(chunk, frames, strict=True)], chunk_embeds, variance)
            if reference is not None and self.voice_match > 0:
                out = [match_voice(m, np.repeat(r[0], d), reference, self.voice_match)
                       for m, r, d in zip(out, chunk, frames, strict=True)]
            mels += [shift_pitch(m, self.pitch_shift) for m in out]
            for mel, text in zip(mels[b0:], texts[b0:b0 + len(chunk)], strict=True):
                check_finite(mel, "mel", self.source, repr(text[:40]))
            if progress is not None:
                progress(len(mels) / len(prepared), "synthesizing")
        return mels

    @property
    def uses_variance(self) -> bool:
        """Each phone's pitch and energy are predicted and given to the acoustic model."""
        return self.config.variance and self.variance is not None and self.frontend == "python"

    def _linguistic(self, items: Sequence[Reading], embeds: np.ndarray) -> tuple[torch.Tensor, ...]:
        """A batch of readings as padded (B, N) phones, stress, positions and (B, 256) speakers."""
        n = max(len(r[0]) for r in items)
        phones = torch.full((len(items), n), PAD_PHONE_ID, dtype=torch.long)
        stress = torch.zeros((len(items), n), dtype=torch.long)
        position = torch.zeros((len(items), n), dtype=torch.long)
        for i, (p, _, st, pos) in enumerate(items):
            phones[i, :len(p)], stress[i, :len(p)], position[i, :len(p)] = (
                torch.from_numpy(p), torch.from_numpy(st), torch.from_numpy(pos))
        return tuple(t.to(self.device) for t in (phones, stress, position, torch.from_numpy(embeds)))

    @torch.inference_mode()
    def _durations(self, items: Sequence[Reading], embeds: np.ndarray) -> list[np.ndarray]:
        """Predicted frames per phone at the current speed, for a batch of readings."""
        assert self.durations is not None
        log_d = self.durations(*self._linguistic(items, embeds)).float().cpu().numpy()
        return [predicted_frames(log_d[i, :len(r[0])], r[0], self.speed) for i, r in enumerate(items)]

    @torch.inference_mode()
    def _variance(self, items: Sequence[Reading], embeds: np.ndarray) -> list[np.ndarray]:
        """Predicted (2, N) normalised pitch and energy per reading."""
        assert self.variance is not None
        pred = self.variance(*self._linguistic(items, embeds)).float().cpu().numpy()
        return [np.ascontiguousarray(pred[i, :len(r[0])].T) for i, r in enumerate(items)]

    @torch.inference_mode()
    def _generate(self, items: list[tuple[np.ndarray, np.ndarray]], embeds: np.ndarray,
                  variance: list[np.ndarray] | None = None) -> list[np.ndarray]:
        n = max(len(p) for p, _ in items)
        phones = torch.full((len(items), n), PAD_PHONE_ID, dtype=torch.long)
        durations = torch.zeros((len(items), n), dtype=torch.long)
        values = torch.zeros((len(items), 2, n)) if variance is not None else None
        for i, (p, d) in enumerate(items):
            phones[i, :len(p)] = torch.from_numpy(p)
            durations[i, :len(d)] = torch.from_numpy(d)
            if values is not None:
                values[i, :, :len(p)] = torch.from_numpy(variance[i])
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(phones.to(self.device), durations.to(self.device),
                             torch.from_numpy(embeds).to(self.device),
                             None if values is None else values.to(self.device))
        mel = out["mel_post"].float().clamp(-4.0, 4.0).cpu().numpy()
        return [np.ascontiguousarray(mel[i, :, :int(d.sum())]) for i, (_, d) in enumerate(items)]


@cache
def _mel_centres(n_mels: int) -> np.ndarray:
    import librosa

    from models.audio import SYNTH_MEL

    return librosa.mel_frequencies(n_mels + 2, fmin=SYNTH_MEL.fmin, fmax=SYNTH_MEL.fmax)[1:-1]


def shift_pitch(mel: np.ndarray, semitones: float) -> np.ndarray:
    """Move a log-mel (80, T) up or down by `semitones` along frequency (pitch and formants together).

    Each band takes the value the input has at its centre frequency / 2**(semitones / 12), interpolated
    between bands; frequencies outside the input's range are silence.
    """
    if semitones == 0.0:
        return mel
    centres = _mel_centres(mel.shape[0])
    source = centres / 2.0 ** (semitones / 12.0)
    out = np.empty_like(mel)
    for t in range(mel.shape[1]):
        out[:, t] = np.interp(source, centres, mel[:, t], left=SILENCE, right=SILENCE)
    return out


def bundle(acoustic: Path, durations: Path, out: Path, variance: Path | None = None,
           float16: bool = False) -> Path:
    """Write one demo synthesizer file from an acoustic model, a duration predictor and optionally a
    pitch and energy predictor (run weights; `durations` may also be a demo synthesizer file, whose
    duration predictor is taken); `float16` stores the weights at half size."""
    synth = PhoneSynthesizer.from_file(acoustic, frontend="flite")
    extra = {"step": load_safetensors(acoustic, kind=KIND)[2].get("step", "?")}
    try:
        state, config_dict, meta = load_safetensors(durations, kind="duration-predictor")
    except CheckpointError:  # a demo synthesizer file
        synth.durations = PhoneSynthesizer.from_file(durations).durations
        if synth.durations is None:
            raise
        extra["durations_from"] = Path(durations).name
    else:
        predictor = DurationPredictor(config_from_dict(DurationConfig, config_dict))
        predictor.load_state_dict(state, strict=True)
        synth.durations = predictor.eval()
        extra["durations_step"] = meta.get("step", "?")
    if variance is not None:
        state, config_dict, meta = load_safetensors(variance, kind="variance-predictor")
        synth.variance = VariancePredictor(config_from_dict(VarianceConfig, config_dict))
        synth.variance.load_state_dict(state, strict=True)
        synth.variance.eval()
        extra["variance_step"] = meta.get("step", "?")
    return synth.save(out, extra, float16)


if __name__ == "__main__":  # python -m models.synthesizer.phone_synthesizer ACOUSTIC DURATIONS OUT [VARIANCE]
    # [--float16]
    import sys

    args = [a for a in sys.argv[1:] if a != "--float16"]
    print(bundle(Path(args[0]), Path(args[1]), Path(args[2]), Path(args[3]) if len(args) > 3 else None,
                 float16="--float16" in sys.argv))
