"""Synthesizer-aligned ("ground-truth-aligned", GTA) mels for fine-tuning a vocoder.

The duration-based demo synthesizer is run on each training item's own phones, frame durations and
speaker embedding, so its predicted mel lines up frame by frame with the recording. A vocoder
fine-tuned on (predicted mel, real audio) pairs learns to turn the synthesizer's smooth mels into
the real waveform, instead of only the real mels it was first trained on.

Layout of OUT (read by models.training.istft_vocoder)::

    OUT/items/<id>.npz   mel_gta (80, T) float16, mel (80, T) float16 (the real one), audio (L,) float32
    OUT/metadata.jsonl   {"id", "speaker", "source", "frames"} per item
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from models.audio import AUDIO_SUFFIXES, load_audio
from models.data.phone_data import read_phone_data

log = logging.getLogger(__name__)


def find_audio(roots: Iterable[Path]) -> dict[str, Path]:
    """Audio files under `roots` by file stem (the phone data's item ids)."""
    out: dict[str, Path] = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")):
            if p.suffix.lower() in AUDIO_SUFFIXES:
                out.setdefault(p.stem, p)
    return out


def build_gta_data(phone_data: Path, audio_roots: list[Path], synthesizer: Path, out: Path,
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Write OUT (see the module docstring) for every phone-data item whose audio is found.

    Resumable: items already written are kept. Returns the number of items in OUT.
    """
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer
    from models.synthesizer.phone_variance import normalise

    items = read_phone_data(phone_data)
    audio = find_audio(audio_roots)
    model = PhoneSynthesizer.from_file(synthesizer).model.eval()
    (out / "items").mkdir(parents=True, exist_ok=True)
    rows, missing = [], 0
    for i, item in enumerate(items):
        if item.id not in audio:
            missing += 1
            continue
        path = out / "items" / f"{item.id}.npz"
        if not path.is_file():
            z = np.load(item.path)
            variance = None
            if model.config.variance:  # the recording's own pitch and energy, so the mel matches its audio
                if "pitch" not in z:
                    raise ValueError(f"{item.path}: this synthesizer needs each phone's pitch and energy; run "
                                     "`sv2tts preprocess variance` on the phone data first")
                variance = torch.from_numpy(normalise(z["pitch"], z["energy"]))[None]
            with torch.inference_mode():
                pred = model(torch.from_numpy(z["phones"])[None], torch.from_numpy(z["durations"])[None],
                             torch.from_numpy(z["embed"].astype(np.float32))[None], variance)["mel_post"][0]
            wav = load_audio(audio[item.id])  # as the phone data's mel was made: no normalisation
            tmp = path.with_suffix(".part.npz")
            np.savez(tmp, mel_gta=pred.numpy().astype(np.float16), mel=z["mel"], audio=wav.astype(np.float32))
            tmp.replace(path)
        rows.append({"id": item.id, "speaker": item.speaker, "source": item.source, "frames": item.frames})
        if progress is not None:
            progress(i + 1, len(items))
    (out / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if missing:
        log.warning("%d of %d items have no audio under %s; skipped", missing, len(items),
                    ", ".join(map(str, audio_roots)))
    return len(rows)


def read_gta_data(root: Path) -> list[dict[str, np.ndarray]]:
    """Every item of a GTA folder: {"mel_gta", "mel", "audio"} arrays (mels as float32)."""
    meta = Path(root) / "metadata.jsonl"
    if not meta.is_file():
        raise ValueError(f"{root}: no metadata.jsonl (run sv2tts preprocess gta first)")
    out = []
    for line in meta.read_text().splitlines():
        if line.strip():
            z = np.load(Path(root) / "items" / f"{json.loads(line)['id']}.npz")
            out.append({"mel_gta": z["mel_gta"].astype(np.float32), "mel": z["mel"].astype(np.float32),
                        "audio": z["audio"]})
    if not out:
        raise ValueError(f"{meta}: no items")
    return out


def is_gta_folder(root: Path) -> bool:
    meta = Path(root) / "metadata.jsonl"
    if not meta.is_file():
        return False
    first = next((line for line in meta.read_text().splitlines() if line.strip()), None)
    if first is None:
        return False
    item = Path(root) / "items" / f"{json.loads(first)['id']}.npz"
    return item.is_file() and "mel_gta" in np.load(item).files
