"""What a toolbox session holds: utterances, generated clips, voice profiles and known speakers.

Plain Python, no widgets, so it can be tested and used from any thread that owns it (the GUI
thread does).

Known speakers (``assets/known_speakers.npz``, see ``assets/README.md``): arrays ``embeddings``
(N, 256) float32 unit-norm, ``speaker_ids`` (N,) str, ``sex`` (N,) str ("F" / "M"), and optionally
``names`` (N,) str (reader names, shown on hover).
"""

from __future__ import annotations

import colorsys
import itertools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.resources import shipped_dir

log = logging.getLogger(__name__)

ASSETS = shipped_dir("toolbox", "assets")  # toolbox/assets in a wheel, assets/ in the repository
KNOWN_SPEAKERS = ASSETS / "known_speakers.npz"
_uids = itertools.count(1)


@dataclass
class Utterance:
    """One voice sample. kind: "real" (recorded/loaded), "generated", "profile" or "known"."""

    name: str
    speaker: str
    kind: str = "real"
    wav: np.ndarray | None = None  # (L,) float32 16 kHz
    mel: np.ndarray | None = None  # (80, T) in [-4, 4]
    embedding: np.ndarray | None = None  # (256,)
    uid: int = field(default_factory=lambda: next(_uids))

    @property
    def label(self) -> str:
        return f"{self.name} [{self.kind}]" if self.kind != "real" else self.name


@dataclass(eq=False)  # compared by identity (its audio is a list of arrays)
class Clip:
    """A generated waveform, built up chunk by chunk while it streams."""

    name: str
    speaker: str
    text: str
    chunks: list[np.ndarray] = field(default_factory=list)
    mels: list[np.ndarray] = field(default_factory=list)
    complete: bool = False
    voice: str = ""  # name of the voice it was generated with
    utterance: int = 0  # uid of its embedded Utterance, once finished

    @property
    def wav(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


@dataclass(frozen=True)
class KnownSpeakers:
    embeddings: np.ndarray  # (N, 256)
    speaker_ids: np.ndarray  # (N,) str
    sex: np.ndarray  # (N,) str
    names: np.ndarray | None = None  # (N,) str, reader names

    def __len__(self) -> int:
        return len(self.embeddings)

    def label(self, i: int) -> str:
        who = f"{self.names[i]}, " if self.names is not None and self.names[i] else ""
        return f"{who}LibriSpeech {self.speaker_ids[i]} ({self.sex[i]})"

    @classmethod
    def load(cls, path: Path = KNOWN_SPEAKERS) -> KnownSpeakers | None:
        """The shipped known speakers, or None (logged) when the file is absent or malformed."""
        if not path.is_file():
            log.info("no known speakers at %s", path)
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                emb = np.asarray(f["embeddings"], np.float32)
                ids = np.asarray(f["speaker_ids"]).astype(str)
                sex = np.asarray(f["sex"]).astype(str)
                names = np.asarray(f["names"]).astype(str) if "names" in f else None
        except Exception as e:
            log.warning("%s: cannot read known speakers (%s); expected arrays embeddings (N, 256) "
                        "float32, speaker_ids (N,) str, sex (N,) str", path, e)
            return None
        if emb.ndim != 2 or emb.shape[1] != 256 or not (len(emb) == len(ids) == len(sex)):
            log.warning("%s: known speakers have inconsistent shapes %s %s %s", path, emb.shape,
                        ids.shape, sex.shape)
            return None
        return cls(emb, ids, sex, names if names is not None and len(names) == len(emb) else None)


def speaker_colour(index: int) -> tuple[float, float, float]:
    """A distinct colour for any number of speakers: tab10 first, then golden-ratio hues."""
    tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
             "#17becf", "#7f7f7f"]
    if index < len(tab10):
        h = tab10[index].lstrip("#")
        return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    hue = (index * 0.618033988749895) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.75, 0.85 - 0.25 * ((index // 7) % 2))


class VoiceProfiles:
    """Named speaker embeddings saved as ``<dir>/<name>.npz`` (embedding, speaker, source)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    @staticmethod
    def safe_name(name: str) -> str:
        cleaned = re.sub(r"[^\w\- .]+", "_", name).strip(" .")
        if not cleaned:
            raise ValueError("a voice profile needs a name (letters, digits, spaces, - or _)")
        return cleaned[:80]

    def path(self, name: str) -> Path:
        return self.dir / f"{self.safe_name(name)}.npz"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.npz")) if self.dir.is_dir() else []

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def save(self, name: str, embedding: np.ndarray, speaker: str = "", source: str = "") -> Path:
        emb = np.asarray(embedding, np.float32).reshape(-1)
        if emb.shape != (256,):
            raise ValueError(f"a voice profile embedding must have 256 values, not {emb.shape}")
        if not np.all(np.isfinite(emb)) or float(np.linalg.norm(emb)) < 1e-6:
            raise ValueError("the voice's embedding is unusable (NaN, infinite or all zero)")
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(name)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, embedding=emb, speaker=np.array(speaker), source=np.array(source))
        tmp.replace(path)
        return path

    def load(self, name: str) -> Utterance:
        """The saved voice. Raises ValueError naming the file when it is empty, damaged, or holds an
        unusable embedding (wrong shape, NaN, all zero)."""
        path = self.path(name)
        try:
            with np.load(path, allow_pickle=False) as f:
                emb = np.asarray(f["embedding"], np.float32)
                speaker = str(f["speaker"]) if "speaker" in f else name
        except FileNotFoundError:
            raise ValueError(f"{path}: no such voice profile") from None
        except Exception as e:  # noqa: BLE001 - empty, truncated or foreign files raise many kinds
            raise ValueError(f"{path}: not a readable voice profile ({type(e).__name__}; empty or "
                             "damaged file)") from None
        if emb.shape != (256,):
            raise ValueError(f"{path}: not a voice profile (embedding shape {emb.shape}, expected (256,))")
        if not np.all(np.isfinite(emb)) or float(np.linalg.norm(emb)) < 1e-6:
            raise ValueError(f"{path}: the voice profile's embedding is unusable (NaN, infinite or all zero)")
        return Utterance(name=path.stem, speaker=speaker or path.stem, kind="profile", embedding=emb)

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
