"""The dataset readers by name: ``read_dataset("vctk", root) -> list[Utterance]``."""

from __future__ import annotations

from pathlib import Path

from models.data import generic, librispeech, libritts, ljspeech, vctk, voxceleb
from models.data.items import DatasetError, Utterance

DATASETS = ("generic", "librispeech", "libritts", "vctk", "ljspeech", "voxceleb")
ENCODER_ONLY = frozenset({"voxceleb"})  # no transcripts


def read_dataset(name: str, root: Path, split_on_silences: bool = False) -> list[Utterance]:
    """The utterances of dataset `name` under `root`, sorted by id.

    split_on_silences: LibriSpeech only, cut aligned files at silences (for the synthesizer).
    Raises:
        DatasetError: unknown name, missing folder, or a layout that does not match.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    if name == "librispeech":
        return librispeech.read(root, split=split_on_silences)
    reader = {"generic": generic.read, "libritts": libritts.read, "vctk": vctk.read,
              "ljspeech": ljspeech.read, "voxceleb": voxceleb.read}[name]
    return reader(root)
