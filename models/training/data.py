"""Reading preprocessed synthesizer/vocoder data (written by `sv2tts preprocess synthesizer`).

Layout of the data folder:
  train.txt   one row per utterance: audio|mel|embed|n_samples|n_frames|text
  audio/      (L,) float32 16 kHz waveforms (peak 0.9, VAD-trimmed, not pre-emphasised)
  mels/       (T, 80) float32 synthesizer mels in [-4, 4]   (mels_gta/: synthesizer-aligned mels)
  embeds/     (256,) float32 speaker embeddings
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Utterance:
    audio: Path
    mel: Path
    embed: Path
    n_samples: int
    n_frames: int
    text: str


def read_metadata(root: Path, mel_dir: str = "mels", max_frames: int | None = None) -> list[Utterance]:
    """The rows of `root/train.txt` whose files exist (and whose mel has at most `max_frames`)."""
    meta = root / "train.txt"
    if not meta.is_file():
        raise ValueError(f"{root}: no train.txt (run sv2tts preprocess synthesizer first)")
    items = []
    for line in meta.read_text(encoding="utf-8").splitlines():
        fields = line.split("|")
        if len(fields) < 6:
            continue
        audio, mel, embed, n_samples, n_frames = fields[:5]
        text = "|".join(fields[5:])
        item = Utterance(_under(root, "audio", audio), _under(root, mel_dir, mel), _under(root, "embeds", embed),
                         int(n_samples), int(n_frames), text)
        if max_frames is not None and item.n_frames > max_frames:
            continue
        if item.mel.is_file() and item.embed.is_file():
            items.append(item)
    if not items:
        raise ValueError(f"{meta}: no usable rows (check the audio/, {mel_dir}/ and embeds/ folders)")
    return items


def _under(root: Path, folder: str, name: str) -> Path:
    path = Path(name)
    return root / path if len(path.parts) > 1 else root / folder / path


def load_mel(item: Utterance) -> np.ndarray:
    """(80, T) float32."""
    return np.load(item.mel).T.astype(np.float32)
