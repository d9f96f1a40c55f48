"""Regenerate assets/known_speakers.npz: published-encoder embeddings of the 251 LibriSpeech
train-clean-100 speakers in ../shared (one utterance each), with sex and reader name.

Usage: .venv/bin/python tools/make_known_speakers.py [LIBRISPEECH_DIR]
Data: LibriSpeech (Panayotov et al.), CC BY 4.0. Only derived embeddings are stored.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from models.encoder import SpeakerEncoder

ROOT = Path(__file__).resolve().parents[1]


def read_speakers(path: Path) -> dict[str, tuple[str, str]]:
    """SPEAKERS.TXT -> {id: (sex, name)}."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        fields = [f.strip() for f in line.split("|")]
        out[fields[0]] = (fields[1], fields[4])
    return out


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/librispeech/train-clean-100"
    meta = read_speakers(src / "SPEAKERS.TXT")
    files = sorted(src.glob("*.flac"))
    ids = [f.name.split("-")[0] for f in files]
    embeds = SpeakerEncoder.default().embed_files(files)
    np.savez_compressed(
        ROOT / "assets/known_speakers.npz",
        embeddings=embeds.astype(np.float32),
        speaker_ids=np.array(ids),
        sex=np.array([meta[i][0] for i in ids]),
        names=np.array([meta[i][1] for i in ids]),
        utterances=np.array([f.stem for f in files]),
        source=np.array("LibriSpeech train-clean-100 (CC BY 4.0); published SV2TTS encoder"),
    )
    print(f"wrote {len(ids)} speakers")


if __name__ == "__main__":
    main()
