"""LibriTTS: ``<root>/[<subset>/]<speaker>/<chapter>/<utt>.wav`` + ``<utt>.normalized.txt``.

The speaker is the first ``_`` field of the utterance id (``84_121123_000007_000001``);
``<utt>.original.txt`` is used when there is no normalised transcript.
"""

from __future__ import annotations

from pathlib import Path

from models.data.items import Utterance, audio_files, read_text_file, require, safe_name

LAYOUT = "<root>/<speaker>/<chapter>/<speaker>_<chapter>_<n>_<n>.wav + .normalized.txt"


def read(root: Path) -> list[Utterance]:
    items = []
    for path in audio_files(root, (".wav", ".flac")):
        stem = path.name.split(".")[0]
        text = read_text_file(path.with_name(stem + ".normalized.txt"))
        if text is None:
            text = read_text_file(path.with_name(stem + ".original.txt"))
        speaker = safe_name(stem.split("_")[0] if "_" in stem else path.parent.parent.name)
        items.append(Utterance(safe_name(stem), speaker, path, text))
    return require(items, root, "LibriTTS", LAYOUT)
