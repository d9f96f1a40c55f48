"""Finding speech datasets under ``--datasets-root`` (no Qt).

Recognised layouts (case-insensitive, at depth 1-3 under the root):

* LibriSpeech / LibriTTS subsets: ``[LibriSpeech|LibriTTS/]<subset>/<speaker>/<chapter>/*.flac|wav``
* VCTK: ``VCTK-Corpus/wav48/<speaker>/*.wav`` (and 0.92's ``wav48_silence_trimmed``)
* VoxCeleb: ``VoxCeleb1/wav``, ``VoxCeleb1/test_wav``, ``VoxCeleb2/dev/aac``, ``VoxCeleb2/test/aac``
  with ``<speaker>/<video>/*``
* LJSpeech: ``LJSpeech-1.1/wavs/*.wav`` (one speaker, "LJ")

A dataset's speakers are its subdirectories; a speaker's utterances are every audio file below it.
A flat folder of files (e.g. ``103-1240-0000.flac`` or ``p225_001.wav``) is grouped by the
file-name prefix before the first ``-`` or ``_``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.audio import AUDIO_SUFFIXES

SUBSETS = ["dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
           "train-other-500"]
OTHER = ["vctk-corpus/wav48", "vctk-corpus-0.92/wav48_silence_trimmed", "voxceleb1/wav",
         "voxceleb1/test_wav", "voxceleb2/dev/aac", "voxceleb2/test/aac", "ljspeech-1.1/wavs"]


@dataclass(frozen=True)
class Dataset:
    name: str  # path relative to the root, e.g. "LibriSpeech/train-clean-100"
    path: Path
    single_speaker: bool = False

    def speakers(self) -> list[str]:
        if self.single_speaker:
            return ["LJ"]
        dirs = [e.name for e in os.scandir(self.path) if e.is_dir()]
        if not dirs:  # flat layout: speaker = file-name prefix
            dirs = list({_prefix(f) for f in self._flat_files()})
        return sorted(dirs, key=_natural)

    def _flat_files(self) -> list[str]:
        return [e.name for e in os.scandir(self.path)
                if e.is_file() and Path(e.name).suffix.lower() in AUDIO_SUFFIXES]

    def speaker_dir(self, speaker: str) -> Path:
        if self.single_speaker or not (self.path / speaker).is_dir():
            return self.path
        return self.path / speaker

    def utterances(self, speaker: str) -> list[str]:
        """Audio files of `speaker`, as paths relative to the speaker directory, sorted."""
        base = self.speaker_dir(speaker)
        if base == self.path and not self.single_speaker:
            return sorted((f for f in self._flat_files() if _prefix(f) == speaker), key=_natural)
        found = [p.relative_to(base).as_posix() for p in base.rglob("*")
                 if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]
        return sorted(found, key=_natural)

    def utterance_path(self, speaker: str, utterance: str) -> Path:
        return self.speaker_dir(speaker) / utterance


def _prefix(filename: str) -> str:
    import re

    return re.split(r"[-_]", filename, maxsplit=1)[0]


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in __import__("re").split(r"(\d+)", s)]


def _matches(rel: str) -> bool:
    rel = rel.lower()
    parts = rel.split("/")
    if parts[-1] in SUBSETS:
        return len(parts) == 1 or parts[-2] in ("librispeech", "libritts")
    return any(rel == o or rel.endswith("/" + o) for o in OTHER)


def find_datasets(root: Path | str | None, max_depth: int = 3) -> list[Dataset]:
    """Recognised datasets under `root` (empty when root is None or missing)."""
    if root is None:
        return []
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Dataset] = []
    frontier = [root]
    for _ in range(max_depth):
        nxt = []
        for d in frontier:
            try:
                entries = sorted(e.path for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
            except OSError:
                continue
            for p in map(Path, entries):
                rel = p.relative_to(root).as_posix()
                if _matches(rel):
                    found.append(Dataset(rel, p, single_speaker=rel.lower().endswith("ljspeech-1.1/wavs")))
                elif len(rel.split("/")) < max_depth:
                    nxt.append(p)
        frontier = nxt
    return found
