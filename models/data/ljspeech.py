"""LJSpeech: ``<root>/metadata.csv`` (``id|text|normalized text``) and ``<root>/wavs/<id>.wav``; one speaker."""

from __future__ import annotations

from pathlib import Path

from models.data.items import DatasetError, Utterance, clean_text, require

LAYOUT = "<root>/metadata.csv (id|text|normalized text) and <root>/wavs/<id>.wav"
SPEAKER = "LJ"


def read(root: Path) -> list[Utterance]:
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise DatasetError(f"{root}: no metadata.csv; expected {LAYOUT}")
    items = []
    for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 2:
            raise DatasetError(f"{meta}:{n}: expected id|text|normalized text, got {line[:80]!r}")
        uid = fields[0].strip()
        text = clean_text(fields[2] if len(fields) > 2 and fields[2].strip() else fields[1])
        path = root / "wavs" / f"{uid}.wav"
        if path.is_file():
            items.append(Utterance(uid, SPEAKER, path, text or None))
    return require(items, root, "LJSpeech", LAYOUT)
