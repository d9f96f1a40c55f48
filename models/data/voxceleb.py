"""VoxCeleb 1/2 (speaker encoder only, no transcripts): ``<root>/**/id<NNNNN>/<video>/<utt>.{wav,m4a}``.

Works on ``VoxCeleb1/wav`` and ``VoxCeleb2/dev/aac`` or any folder above them; the speaker is the
nearest ``id<digits>`` folder. Reading m4a needs ffmpeg.
"""

from __future__ import annotations

import re
from pathlib import Path

from models.data.items import Utterance, audio_files, require, safe_name

LAYOUT = "<root>/id<NNNNN>/<video>/<utt>.wav|m4a"
_SPEAKER = re.compile(r"^id\d+$")


def read(root: Path) -> list[Utterance]:
    items = []
    for path in audio_files(root, (".wav", ".m4a", ".flac")):
        parts = path.relative_to(root).parts[:-1]
        idx = [i for i, p in enumerate(parts) if _SPEAKER.match(p)]
        if not idx:
            continue
        speaker = parts[idx[-1]]
        rest = [*parts[idx[-1] + 1:], path.stem]
        items.append(Utterance(safe_name("_".join([speaker, *rest])), speaker, path))
    return require(items, root, "VoxCeleb", LAYOUT)
