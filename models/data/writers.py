"""Per-utterance preprocessing for the encoder and the synthesizer, and the files they write.

Encoder output (``OUT/<dataset>_<speaker>/<id>.npy``): (T, 40) float32 power mels of the audio after
-30 dBFS increase-only normalisation and VAD trimming; utterances under 160 frames are dropped.

Synthesizer output: ``OUT/audio/audio-<id>.npy`` (L,) float32 16 kHz waveform (peak 0.9, VAD-trimmed,
not pre-emphasised) and ``OUT/mels/mel-<id>.npy`` (T, 80) float32 log-mels in [-4, 4]; utterances under
1.6 s after trimming or over 900 frames are dropped. Embeddings (``OUT/embeds/embed-<id>.npy``) are
computed afterwards in one process, see :mod:`models.data.preprocess`.

Each function returns a log record (a JSON-able dict) with ``status`` "kept" or "dropped" and a
``reason`` when dropped. Nothing here imports torch, so worker processes start quickly.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from models import audio
from models.data.items import Utterance

ENCODER_MIN_FRAMES = 160
SYNTH_MIN_SECONDS = 1.6
SYNTH_MAX_FRAMES = 900
SYNTH_PEAK = 0.9


def encoder_path(out_dir: Path, dataset: str, item: Utterance) -> Path:
    return out_dir / f"{dataset}_{item.speaker}" / f"{item.id}.npy"


def synth_names(item: Utterance) -> tuple[str, str, str]:
    """(audio, mel, embed) file names, relative to OUT/audio, OUT/mels and OUT/embeds."""
    return f"audio-{item.id}.npy", f"mel-{item.id}.npy", f"embed-{item.id}.npy"


def save_npy(path: Path, array: np.ndarray) -> None:
    """np.save through a temporary file, so an interrupted run never leaves a truncated .npy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.save(f, array)
    tmp.replace(path)


@functools.lru_cache(maxsize=2)  # segments of one file arrive one after another
def _load(path: Path) -> np.ndarray:
    wav = audio.load_audio(path)
    wav.setflags(write=False)
    return wav


def load_item(item: Utterance, peak: float | None = None) -> np.ndarray:
    """(L,) float32 16 kHz audio of the utterance (its segment when it has start/end).

    peak: rescale the whole file to this peak before cutting the segment (as the reference does).
    """
    wav = _load(item.path)
    if peak is not None:
        wav = audio.peak_normalize(wav, peak)
    if item.start is not None or item.end is not None:
        a = int(round((item.start or 0.0) * audio.SAMPLE_RATE))
        b = len(wav) if item.end is None else int(round(item.end * audio.SAMPLE_RATE))
        wav = wav[a:b]
    return wav


def _record(item: Utterance, status: str, reason: str | None = None, **extra) -> dict:
    rec = {"id": item.id, "speaker": item.speaker, "source": str(item.path), "status": status}
    if item.start is not None:
        rec["segment"] = [item.start, item.end]
    if reason:
        rec["reason"] = reason
    rec.update(extra)
    return rec


def process_encoder(item: Utterance, out_dir: Path, dataset: str) -> dict:
    try:
        wav = audio.preprocess_for_encoder(load_item(item), source=str(item.path))
    except audio.AudioError as e:
        return _record(item, "dropped", f"audio: {e}")
    mel = audio.encoder_mel(wav)  # (T, 40)
    if len(mel) < ENCODER_MIN_FRAMES:
        return _record(item, "dropped", f"too short: {len(mel)} frames after trimming (< {ENCODER_MIN_FRAMES})",
                       n_frames=len(mel))
    path = encoder_path(out_dir, dataset, item)
    save_npy(path, mel.astype(np.float32))
    return _record(item, "kept", n_frames=len(mel), file=str(path.relative_to(out_dir)))


def process_synthesizer(item: Utterance, out_dir: Path, dataset: str) -> dict:
    if not item.text:
        return _record(item, "dropped", "no transcript")
    try:
        wav = load_item(item, peak=SYNTH_PEAK)
    except audio.AudioError as e:
        return _record(item, "dropped", f"audio: {e}")
    wav = audio.trim_long_silences(wav)
    seconds = len(wav) / audio.SAMPLE_RATE
    if seconds < SYNTH_MIN_SECONDS:
        return _record(item, "dropped", f"too short: {seconds:.2f} s after VAD trimming (< {SYNTH_MIN_SECONDS} s)",
                       n_samples=len(wav))
    mel = audio.synth_mel(wav)  # (80, T)
    n_frames = mel.shape[1]
    if n_frames > SYNTH_MAX_FRAMES:
        return _record(item, "dropped", f"too long: {n_frames} frames (> {SYNTH_MAX_FRAMES})", n_frames=n_frames)
    audio_name, mel_name, _ = synth_names(item)
    save_npy(out_dir / "mels" / mel_name, np.ascontiguousarray(mel.T, dtype=np.float32))
    save_npy(out_dir / "audio" / audio_name, wav.astype(np.float32))
    return _record(item, "kept", n_samples=len(wav), n_frames=n_frames, text=item.text)


PROCESSORS = {"encoder": process_encoder, "synthesizer": process_synthesizer}
