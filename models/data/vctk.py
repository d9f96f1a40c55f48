"""VCTK: ``<root>/wav48*/pXXX/pXXX_NNN[_mic1].{wav,flac}`` and ``<root>/txt/pXXX/pXXX_NNN.txt``.

VCTK 0.92 has two microphones per utterance (``_mic1``, ``_mic2``); only ``mic`` (default mic1)
is read so each sentence appears once. Utterances without a transcript (p315 has none) keep text None.
"""

from __future__ import annotations

import re
from pathlib import Path

from models.data.items import DatasetError, Utterance, audio_files, read_text_file, require, safe_name

LAYOUT = "<root>/wav48[_silence_trimmed]/pXXX/pXXX_NNN[_mic1].wav|flac + <root>/txt/pXXX/pXXX_NNN.txt"
_MIC = re.compile(r"_(mic\d)$")


def read(root: Path, mic: str = "mic1") -> list[Utterance]:
    wav_dirs = sorted(d for d in root.glob("wav48*") if d.is_dir())
    if not wav_dirs:
        raise DatasetError(f"{root}: no wav48* folder; expected {LAYOUT}")
    items = []
    for path in audio_files(wav_dirs[-1], (".wav", ".flac")):
        stem = path.stem
        m = _MIC.search(stem)
        if m:
            if m.group(1) != mic:
                continue
            stem = stem[: m.start()]
        speaker = path.parent.name
        text = read_text_file(root / "txt" / speaker / f"{stem}.txt")
        items.append(Utterance(safe_name(stem), safe_name(speaker), path, text))
    return require(items, root, "VCTK", LAYOUT)
