"""Training data for the duration-based synthesizer: mels, phones with frame durations, embeddings.

Layout of OUT (written by :func:`build_phone_data`, read by :func:`read_phone_data`)::

    OUT/items/<id>.npz      mel (80, T) float16 on the [-4, 4] scale, phones (N,) int64, durations (N,)
                            int64 summing to T, embed (256,) float32
    OUT/metadata.jsonl      one line per kept item: {"id", "speaker", "source", "frames", "words"}
    OUT/log.jsonl           one line per dropped item: {"id", "reason"}

Sources: a synthetic corpus (``sv2tts corpus``: every .wav with flite's .phones.json) and folders
of real speech (LibriSpeech-style names ``<speaker>-<chapter>-<utt>.flac`` or ``<speaker>/<utt>.wav``;
a ``.txt`` beside the audio is aligned, otherwise the recogniser's own hypothesis is).
Mels are taken over the whole recording, silences included, so the timings stay valid.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import audio
from models.text.phones import to_frames

log = logging.getLogger(__name__)

FRAMES_PER_SECOND = audio.SAMPLE_RATE / audio.HOP_LENGTH  # 80
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class Source:
    id: str
    speaker: str
    audio: Path
    kind: str  # "synthetic" | "real"


@dataclass(frozen=True)
class PhoneItem:
    id: str
    speaker: str
    source: str
    frames: int
    path: Path
    words: str = ""  # the text said (synthetic) or recognised (real)


def synthetic_sources(corpus: Path) -> list[Source]:
    """Every utterance of a `sv2tts corpus` folder that has flite phone timings."""
    return [Source(wav.stem, wav.parent.name, wav, "synthetic")
            for wav in sorted(corpus.glob("*/*.wav")) if wav.with_suffix(".phones.json").is_file()]


def real_sources(root: Path, exclude_speakers: Iterable[str] = ()) -> list[Source]:
    """Audio files under `root`; the speaker is the LibriSpeech name prefix or the parent folder."""
    excluded = set(exclude_speakers)
    out = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        speaker = path.stem.split("-")[0] if "-" in path.stem else path.parent.name
        if speaker not in excluded:
            out.append(Source(path.stem, speaker, path, "real"))
    return out


def _timings(src: Source, wav: np.ndarray) -> tuple[list[tuple[str, float, float]], str]:
    if src.kind == "synthetic":
        timings = json.loads(src.audio.with_suffix(".phones.json").read_text())
        return [tuple(t) for t in timings], src.audio.with_suffix(".txt").read_text().strip()
    from models.data.align import Aligner

    global _ALIGNER
    if _ALIGNER is None:
        _ALIGNER = Aligner()
    txt = src.audio.with_suffix(".txt")
    words, timings = _ALIGNER.align(wav, txt.read_text().strip() if txt.is_file() else None)
    return timings, words


_ALIGNER = None


def _process(src: Source, out_dir: Path) -> dict:
    """One utterance -> items/<id>.npz (without the embedding). Returns its metadata or a drop reason."""
    try:
        wav = audio.load_audio(src.audio)
        timings, words = _timings(src, wav)
        mel = audio.synth_mel(wav)
        phones, durations = to_frames(timings, FRAMES_PER_SECOND, n_frames=mel.shape[1])
    except (ValueError, OSError, RuntimeError) as e:
        return {"id": src.id, "reason": str(e)}
    if len(phones) < 3 or durations.sum() != mel.shape[1]:
        return {"id": src.id, "reason": "too few phones"}
    path = out_dir / "items" / f"{src.id}.npz"
    np.savez(path, mel=mel.astype(np.float16), phones=phones, durations=durations)
    return {"id": src.id, "speaker": src.speaker, "source": src.kind, "frames": int(mel.shape[1]), "words": words,
            "audio": str(src.audio)}


def build_phone_data(sources: list[Source], out_dir: Path, embed: Callable[[list[Path]], np.ndarray],
                     jobs: int = 1, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write (or complete: finished ids are skipped) the phone data of `sources` into `out_dir`.

    embed: audio paths -> (n, 256) speaker embeddings (the published encoder in practice).
    """
    (out_dir / "items").mkdir(parents=True, exist_ok=True)
    meta_path, log_path = out_dir / "metadata.jsonl", out_dir / "log.jsonl"
    done = {json.loads(line)["id"] for p in (meta_path, log_path) if p.is_file()
            for line in p.read_text().splitlines() if line}
    todo = [s for s in sources if s.id not in done]
    counts = {"kept": 0, "dropped": 0, "skipped": len(sources) - len(todo)}
    # spawn: forking a process that already runs torch (the encoder) can crash the workers
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_process, todo, [out_dir] * len(todo), chunksize=4)
        batch: list[dict] = []
        for i, result in enumerate(results, 1):
            if "reason" in result:
                counts["dropped"] += 1
                with log_path.open("a") as f:
                    f.write(json.dumps(result) + "\n")
            else:
                batch.append(result)
            if len(batch) >= 32 or (i == len(todo) and batch):
                _finish(batch, out_dir, embed)
                counts["kept"] += len(batch)
                batch = []
            if progress:
                progress(i, len(todo))
    log.info("phone data %s: %s", out_dir, counts)
    return counts


def _finish(batch: list[dict], out_dir: Path, embed: Callable[[list[Path]], np.ndarray]) -> None:
    """Add the embeddings to a batch of written items, then record them as finished."""
    embeddings = embed([Path(r["audio"]) for r in batch])
    with (out_dir / "metadata.jsonl").open("a") as f:
        for r, e in zip(batch, embeddings, strict=True):
            path = out_dir / "items" / f"{r['id']}.npz"
            with np.load(path) as z:
                arrays = dict(z)
            np.savez(path, **arrays, embed=np.asarray(e, dtype=np.float32))
            f.write(json.dumps({k: r[k] for k in ("id", "speaker", "source", "frames", "words")}) + "\n")


def read_phone_data(root: Path) -> list[PhoneItem]:
    meta = root / "metadata.jsonl"
    if not meta.is_file():
        raise ValueError(f"{root}: no metadata.jsonl (run sv2tts preprocess phones first)")
    items = []
    for line in meta.read_text().splitlines():
        if line:
            r = json.loads(line)
            items.append(PhoneItem(r["id"], r["speaker"], r["source"], int(r["frames"]),
                                   root / "items" / f"{r['id']}.npz", r.get("words", "")))
    if not items:
        raise ValueError(f"{meta}: no items")
    return items
