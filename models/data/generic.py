"""Generic layout: ``<root>/<speaker>/**/<utt>.{wav,flac,...}`` with an optional ``<utt>.txt`` beside it.

This is the layout `sv2tts corpus` writes. The utterance id is ``<speaker>_<path below the speaker
folder, '/' -> '_'>``, without repeating the speaker when the file name already starts with it.
"""

from __future__ import annotations

from pathlib import Path

from models.data.items import Utterance, audio_files, read_text_file, require, safe_name

LAYOUT = "<root>/<speaker>/<utt>.wav|flac (+ <utt>.txt transcripts)"


def read(root: Path) -> list[Utterance]:
    items = []
    for spk_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        speaker = safe_name(spk_dir.name)
        for path in audio_files(spk_dir):
            rel = path.relative_to(spk_dir).with_suffix("")
            name = "_".join(rel.parts)
            uid = safe_name(name if name.startswith((f"{speaker}_", f"{speaker}-")) else f"{speaker}_{name}")
            items.append(Utterance(uid, speaker, path, read_text_file(path.with_suffix(".txt"))))
    return require(items, root, "generic", LAYOUT)
