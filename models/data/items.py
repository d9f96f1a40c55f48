"""What every dataset reader returns: a list of :class:`Utterance`, sorted by id."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from models.audio import AUDIO_SUFFIXES


class DatasetError(ValueError):
    """A dataset folder that does not have the expected layout; the message says what was expected."""


@dataclass(frozen=True)
class Utterance:
    """One utterance of a dataset.

    id: unique within the dataset and safe as a file name. speaker: speaker id (file-name safe).
    path: the audio file. text: the transcript (None when the dataset has none).
    start, end: seconds, when the utterance is a segment of `path` (LibriSpeech alignments).
    """

    id: str
    speaker: str
    path: Path
    text: str | None = None
    start: float | None = None
    end: float | None = None


def audio_files(root: Path, suffixes: Iterable[str] = AUDIO_SUFFIXES) -> list[Path]:
    """Audio files under `root` (recursive), sorted; partial downloads and hidden files are ignored."""
    wanted = {s.lower() for s in suffixes}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in wanted and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str) -> str:
    """A file-name safe form of `text` (runs of other characters become '-')."""
    return _UNSAFE.sub("-", text).strip("-") or "x"


def clean_text(text: str) -> str:
    """One line of transcript: double quotes removed (as the reference does), whitespace collapsed."""
    return " ".join(text.replace('"', " ").split())


def read_text_file(path: Path) -> str | None:
    """The cleaned contents of a transcript file, or None when it is missing or empty."""
    if not path.is_file():
        return None
    text = clean_text(path.read_text(encoding="utf-8", errors="replace"))
    return text or None


def require(items: list[Utterance], root: Path, dataset: str, layout: str) -> list[Utterance]:
    """Sort `items` by id; fail with the expected layout when there are none or ids collide."""
    if not items:
        raise DatasetError(f"{root}: no {dataset} utterances found; expected {layout}")
    items = sorted(items, key=lambda u: u.id)
    for a, b in zip(items, items[1:], strict=False):
        if a.id == b.id:
            raise DatasetError(f"{root}: two utterances have the id {a.id!r} ({a.path} and {b.path})")
    return items
